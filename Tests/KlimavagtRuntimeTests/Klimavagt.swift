import Foundation
import KlimavagtTestSupport

/// Runs the `klimavagt` executable built beside the test bundle.
enum Klimavagt {
    static var binary: String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("klimavagt").path
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs the binary to completion, capturing standard output and standard error apart.
    static func run(_ arguments: [String]) throws -> Result {
        let errFile = NSTemporaryDirectory() + "klimavagt-stderr-\(UUID().uuidString)"
        let child = try ChildProcess("/bin/sh", ["-c", "exec \"$0\" \"$@\" 2>\"\(errFile)\"", binary] + arguments)
        let status = child.wait()
        let stderr = (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? ""
        let stdout = child.output
        try? FileManager.default.removeItem(atPath: errFile)
        try? FileManager.default.removeItem(atPath: child.outputFile)
        return Result(status: status, stdout: stdout, stderr: stderr)
    }

    /// Starts the agent in the background; its combined output goes to a log file.
    static func start(_ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(binary, arguments)
    }
}

/// The path of a file in this target's Fixtures folder.
func fixture(_ name: String) -> String {
    Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil)!.path
}

/// The repository's root folder (for the bundled demo in Devices/demo).
let repositoryRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
