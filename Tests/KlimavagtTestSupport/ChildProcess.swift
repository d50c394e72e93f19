import Foundation

/// A child process started with posix_spawn and reaped with wait4, independent of any run loop: for tests and
/// benchmarks alike (the CPU time and context switches the kernel counted for it, its resident memory while it runs).
public final class ChildProcess: @unchecked Sendable {   // unchecked: `exitStatus` and the usage are guarded by `lock`
    public let pid: pid_t
    public let outputFile: String
    private var exitStatus: Int32?
    private var usage: rusage?
    private let lock = NSLock()
    /// Whether `outputFile` is a temporary file of this object's own, removed when it goes.
    private let ownsOutputFile: Bool

    /// Starts `program` with `arguments`; standard output and error go to `outputFile` (a new temporary file if nil).
    public init(_ program: String, _ arguments: [String], environment: [String: String]? = nil,
                outputFile: String? = nil) throws
    {
        self.outputFile = outputFile ?? (NSTemporaryDirectory() + "klimavagt-child-\(UUID().uuidString).log")
        ownsOutputFile = outputFile == nil
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, self.outputFile, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0)=\($1)") } + [nil]
        defer { for pointer in env { free(pointer) } }
        // The child starts with no blocked signals and default handlers, whatever the spawning thread had.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var child: pid_t = 0
        let rc = posix_spawn(&child, program, &actions, &attributes, argv, env)
        guard rc == 0 else { throw BrokerError("cannot start \(program): \(String(cString: strerror(rc)))") }
        pid = child
    }

    /// This process's environment without `LD_PRELOAD`: a benchmark's plugin preloads its malloc interposer, and the
    /// programs it measures must run without it.
    public static var environmentWithoutPreload: [String: String] {
        ProcessInfo.processInfo.environment.filter { $0.key != "LD_PRELOAD" }
    }

    deinit {
        if ownsOutputFile { try? FileManager.default.removeItem(atPath: outputFile) }
    }

    /// Sends a signal to the child.
    public func signal(_ signal: Int32) {
        kill(pid, signal)
    }

    /// Whether the child is still running (reaping it if it has exited).
    public var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        if exitStatus != nil { return false }
        var status: Int32 = 0
        var used = rusage()
        if wait4(pid, &status, WNOHANG, &used) == pid {
            exitStatus = status
            usage = used
            return false
        }
        return true
    }

    /// Waits for the child to exit and returns its exit status (128 + signal number when a signal ended it).
    @discardableResult
    public func wait() -> Int32 {
        lock.lock()
        defer { lock.unlock() }
        if exitStatus == nil {
            var status: Int32 = 0
            var used = rusage()
            while wait4(pid, &status, 0, &used) < 0 && errno == EINTR {}
            exitStatus = status
            usage = used
        }
        let status = exitStatus!
        if status & 0x7f == 0 { return (status >> 8) & 0xff }
        return 128 + (status & 0x7f)
    }

    /// Waits at most `seconds` (native seconds, scaled by `TestTiming.scale`) for the child to exit; returns its
    /// status, or nil if it is still running.
    public func wait(seconds: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(TestTiming.seconds(seconds))
        while true {
            // Asked once more after the deadline: a test process whose tasks waited long for a thread (the suite's
            // CPU-bound tests hold the cooperative pool) must not take a child that ended in time for a hung one.
            if !isRunning { return wait() }
            guard Date() < deadline else { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The user plus system CPU time the child used in all, once it has been waited for (from the kernel).
    public var cpuUsed: Duration? {
        lock.withLock {
            usage.map {
                .seconds(Int64($0.ru_utime.tv_sec + $0.ru_stime.tv_sec))
                    + .microseconds(Int64($0.ru_utime.tv_usec + $0.ru_stime.tv_usec))
            }
        }
    }

    /// Voluntary and involuntary context switches of all the child's threads, once it has been waited for.
    public var contextSwitches: Int? {
        lock.withLock { usage.map { $0.ru_nvcsw + $0.ru_nivcsw } }
    }

    /// User plus system CPU time used so far while it runs, from `/proc/PID/stat` (clock ticks, 10 ms on Debian).
    public var cpuTime: Duration {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return cpuUsed ?? .zero }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // Fields after the command name: state is 0, utime 11, stime 12.
        guard fields.count > 12 else { return cpuUsed ?? .zero }
        let ticks = (Int64(fields[11]) ?? 0) + (Int64(fields[12]) ?? 0)
        return .milliseconds(ticks * 1000 / Int64(sysconf(Int32(_SC_CLK_TCK))))
    }

    /// A line of `/proc/PID/status` in kB (`VmRSS`, `VmHWM`), while the child runs; 0 once it has gone.
    public func statusKilobytes(_ field: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("\(field):") })
        else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    /// Everything the child wrote to standard output and standard error so far.
    public var output: String {
        (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? ""
    }
}

/// Runs a program to completion and fails unless it exits with status 0; returns its output.
@discardableResult
public func run(_ program: String, _ arguments: [String]) throws -> String {
    let child = try ChildProcess(program, arguments)
    let status = child.wait()
    let text = child.output
    try? FileManager.default.removeItem(atPath: child.outputFile)
    guard status == 0 else {
        throw BrokerError("\(program) \(arguments.joined(separator: " ")) failed (\(status)): \(text)")
    }
    return text
}

/// Removes the folder a test made under the temporary directory for `file` (its configuration, its socket), with
/// everything in it; a file anywhere else, or in a folder not named `klimavagt-…`, is left alone.
public func removeTemporaryFolder(containing file: String) {
    let folder = URL(fileURLWithPath: file).deletingLastPathComponent().standardizedFileURL
    let temporary = FileManager.default.temporaryDirectory.standardizedFileURL
    guard folder.deletingLastPathComponent().path == temporary.path,
          folder.lastPathComponent.hasPrefix("klimavagt-") else { return }
    try? FileManager.default.removeItem(at: folder)
}
