import Foundation

/// A socket call that failed: the call's name and why, from `errno` through strerror(3), or in words where no call
/// failed (a path too long for a Unix socket, another agent already listening).
///
/// Threading: a value; build it on the thread that saw the failure, since `errno` is per thread.
struct SocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The system call, such as `bind` or `accept4`.
    let call: String
    /// `errno` as the call left it, or 0 when the failure is not a call's.
    let code: Int32
    let reason: String

    /// The failure of `call` as `errno` (or `code`) tells it.
    init(_ call: String, code: Int32 = errno) {
        self.call = call
        self.code = code
        reason = String(cString: strerror(code))
    }

    /// A failure no system call reported.
    init(_ call: String, reason: String) {
        self.call = call
        code = 0
        self.reason = reason
    }

    var description: String { "\(call): \(reason)" }
}
