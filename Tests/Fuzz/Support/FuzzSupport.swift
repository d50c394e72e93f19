import Foundation

/// What the fuzz harnesses share: where the repository's Devices/ folder is, and, outside libFuzzer builds, a main
/// that runs files and folders of inputs (a corpus, a crash file) through a harness once each, as a regression check.
public enum FuzzSupport {
    /// The repository's Devices/ folder: $KLIMAVAGT_DEVICES, else found from this source file's place in the checkout.
    public static let devicesDirectory: String = {
        if let configured = ProcessInfo.processInfo.environment["KLIMAVAGT_DEVICES"], !configured.isEmpty {
            return configured
        }
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Devices").path
    }()

    /// A private folder for the harness's files, removed when the process exits normally.
    /// A trap ends the process without exit handlers, so the folders of harness processes that are gone go here too.
    public static let scratchDirectory: String = {
        let temporary = FileManager.default.temporaryDirectory.path
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? []
            where name.hasPrefix("klimavagt-fuzz-")
        {
            if let pid = pid_t(name.dropFirst("klimavagt-fuzz-".count)), kill(pid, 0) != 0, errno == ESRCH {
                try? FileManager.default.removeItem(atPath: temporary + "/" + name)
            }
        }
        let path = temporary + "/klimavagt-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: FuzzSupport.scratchDirectory) }
        return path
    }()

    /// Writes `text` to `name` in the scratch folder and returns its path.
    public static func write(_ text: String, to name: String) -> String {
        let path = scratchDirectory + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    #if FUZZING
    /// libFuzzer's own driver, for a harness's main in a `-DFUZZING -sanitize=fuzzer` build. SwiftPM links every
    /// executable with its module's main as `main`, so libFuzzer's main cannot be the one; this calls the driver.
    public static func libFuzzerMain(_ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Never {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
    }
    #endif

    /// The replay main: every file named, and every file in every folder named, goes through `body` once.
    /// Options (arguments starting with '-', as libFuzzer takes them) are ignored. Exits 0 when all ran.
    public static func replayMain(_ body: ([UInt8]) -> Void) {
        var files: [String] = []
        for argument in CommandLine.arguments.dropFirst() where !argument.hasPrefix("-") {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: argument, isDirectory: &isFolder) else {
                FileHandle.standardError.write(Data("no such file or folder: \(argument)\n".utf8))
                exit(2)
            }
            if isFolder.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: argument)) ?? []
                files += names.sorted().map { argument + "/" + $0 }
            } else {
                files.append(argument)
            }
        }
        if files.isEmpty {
            FileHandle.standardError.write(Data("usage: \(CommandLine.arguments[0]) FILE-OR-FOLDER...\n".utf8))
            exit(2)
        }
        let start = Date()
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            if ProcessInfo.processInfo.environment["FUZZ_VERBOSE"] != nil { print("running \(file)") }
            body(Array(data))
        }
        print("\(files.count) inputs ran in \(String(format: "%.2f", Date().timeIntervalSince(start))) s, no trap")
    }
}

#if FUZZING
/// `int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size))`, in
/// libclang_rt.fuzzer; only a `-sanitize=fuzzer` build links it, and only such a build calls it.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32
#endif
