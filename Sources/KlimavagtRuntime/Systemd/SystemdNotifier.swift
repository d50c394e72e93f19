import Foundation
import KlimavagtSystem

/// Tells systemd how the service is doing through `$NOTIFY_SOCKET` (sd_notify(3)): `READY=1`, `STATUS=...`,
/// `WATCHDOG=1`, `RELOADING=1`, `STOPPING=1`. Without the variable (not started by systemd with Type=notify) it does nothing.
public struct SystemdNotifier: Sendable {
    public let socketPath: String?
    /// The watchdog interval systemd expects a `WATCHDOG=1` within, from `$WATCHDOG_USEC`, if it set one for us.
    public let watchdogInterval: Duration?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        if let microseconds = environment["WATCHDOG_USEC"].flatMap(Int64.init), microseconds > 0,
           environment["WATCHDOG_PID"].flatMap(Int32.init).map({ $0 == getpid() }) ?? true
        {
            watchdogInterval = .microseconds(microseconds)
        } else {
            watchdogInterval = nil
        }
    }

    public var isActive: Bool { socketPath != nil }

    /// CLOCK_MONOTONIC in microseconds, as `RELOADING=1` wants it beside (`MONOTONIC_USEC=`, sd_notify(3)).
    public static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec / 1000)
    }

    /// Sends one notification; failures are ignored, as sd_notify's are.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        guard let socketPath, let address = UnixSocketAddress(socketPath) else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let message = Array(state.utf8)
        let sent = address.withSocketAddress { socketAddress, length in
            message.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), socketAddress, length) }
        }
        return sent == message.count
    }
}
