import Glibc

/// A system call that failed: the call's name and why, from `errno` through strerror(3), or in words where no call
/// failed (a path too long for a Unix socket, another agent already listening). The one place `errno` becomes an
/// error for the sockets, pipes and descriptors of the agent (the MQTT and GPIO libraries map their own C return codes
/// to their typed errors, `MQTTError` and `GPIOError`).
///
/// Threading: a value; build it on the thread that saw the failure, since `errno` is per thread.
public struct SystemCallError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The system call, such as `bind` or `accept4`.
    public let call: String
    /// `errno` as the call left it, or 0 when the failure is not a call's.
    public let code: Int32
    public let reason: String

    /// The failure of `call` as `errno` (or `code`) tells it.
    public init(_ call: String, code: Int32 = errno) {
        self.call = call
        self.code = code
        reason = String(cString: strerror(code))
    }

    /// A failure no system call reported.
    public init(_ call: String, reason: String) {
        self.call = call
        code = 0
        self.reason = reason
    }

    public var description: String { "\(call): \(reason)" }
}
