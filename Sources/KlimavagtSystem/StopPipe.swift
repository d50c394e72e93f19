import Glibc

/// The pipe that wakes a thread blocked in poll(2) so it stops: the thread polls `readEnd` beside its own
/// descriptors and leaves its loop once it is readable. The control socket and metrics endpoint's server loop and
/// each GPIO line monitor have one.
///
/// Threading: `signal()` and `close()` may be called from any thread; `close()` is safe twice. Close only once the
/// polling thread has stopped (its owner joins it first), so the descriptor is never reused under it.
public final class StopPipe: Sendable {
    /// The end the polling thread watches for `POLLIN`.
    public let readEnd: Int32
    private let writeEnd: Int32
    /// Whether the ends have been closed; they are closed at most once.
    private let closed = Locked(false)

    public init() throws(SystemCallError) {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw SystemCallError("pipe") }
        // Not inherited by a child spawned meanwhile (Glibc's Swift module has no pipe2).
        _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        readEnd = ends[0]
        writeEnd = ends[1]
    }

    /// Wakes the polling thread; further calls change nothing it sees.
    public func signal() {
        closed.withLock { closed in
            guard !closed else { return }
            var byte: UInt8 = 1
            _ = write(writeEnd, &byte, 1)
        }
    }

    public func close() {
        closed.withLock { closed in
            guard !closed else { return }
            closed = true
            _ = Glibc.close(readEnd)
            _ = Glibc.close(writeEnd)
        }
    }

    deinit {
        close()
    }
}
