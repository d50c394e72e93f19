import Foundation

/// A child process for benchmarks: spawned with default signal handling, waited for with its CPU time.
public final class Subprocess: @unchecked Sendable {
    public let pid: pid_t
    private var reaped: (status: Int32, cpu: Duration)?
    /// Voluntary and involuntary context switches of all the child's threads over its life, once it has been waited for.
    public private(set) var contextSwitches = 0

    /// Starts `arguments[0]` with the rest as its arguments; standard output and error go to `output` (or stay).
    public init(_ arguments: [String], output: String? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let output {
            posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The benchmark runner blocks signals in its threads; the child must not inherit that, or SIGTERM is ignored.
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        // The benchmark plugin preloads its malloc interposer; the programs measured must run without it.
        let environment: [UnsafeMutablePointer<CChar>?] = ProcessInfo.processInfo.environment
            .filter { $0.key != "LD_PRELOAD" }
            .map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { environment.forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, arguments[0], &actions, &attributes, argv, environment)
        guard rc == 0 else {
            throw CocoaError(.executableLoad, userInfo: [NSFilePathErrorKey: arguments[0], "errno": rc])
        }
        pid = child
    }

    /// User plus system CPU time used so far, from `/proc/PID/stat` (clock ticks, 10 ms on Debian).
    public var cpuTime: Duration {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return reaped?.cpu ?? .zero }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // Fields after the command name: state is 0, utime 11, stime 12.
        let ticks = (Int64(fields[11]) ?? 0) + (Int64(fields[12]) ?? 0)
        return .milliseconds(ticks * 1000 / Int64(sysconf(Int32(_SC_CLK_TCK))))
    }

    /// The most resident memory the child has had so far, in kB (`VmHWM` of `/proc/PID/status`), while it runs.
    public var maxResidentKilobytes: Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    public func signal(_ signal: Int32) {
        if reaped == nil { kill(pid, signal) }
    }

    /// Waits for the child to exit; returns its exit status and the CPU time it used in all (from the kernel).
    @discardableResult
    public func wait() -> (status: Int32, cpu: Duration) {
        if let reaped { return reaped }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0, errno == EINTR {}
        let cpu = Duration.seconds(Int64(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec))
            + .microseconds(Int64(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec))
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        reaped = (code, cpu)
        contextSwitches = usage.ru_nvcsw + usage.ru_nivcsw
        return (code, cpu)
    }

    /// Whether the child has exited, without waiting.
    public var hasExited: Bool {
        if reaped != nil { return true }
        return kill(pid, 0) != 0 || (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?
            .split(separator: ")").last?.split(separator: " ").first == "Z"
    }
}
