import Foundation
import KlimavagtSystem

/// Serves many clients at once on a listening socket: each sends one request, ended by `terminator` (or its end of
/// sending, or `Limits.requestBytes`), gets the bytes `respond` makes of it, and is closed; the control socket and
/// the metrics endpoint both serve this way.
///
/// No client can hold the server: at most `Limits.connections` are open, and when one more arrives the oldest that
/// has not yet sent its whole request is closed to make room (or, if all are being answered, the oldest of all);
/// a client has `Limits.receiveTimeout` from its connection to send its request and `Limits.sendTimeout` to take its
/// answer, then it is closed. Answers are written with `MSG_NOSIGNAL`, so a client that went away raises no SIGPIPE.
///
/// Threading: a thread of its own (named from inside) runs a poll(2) loop over the non-blocking listener, a stop pipe
/// and every open connection; `respond` is called on that thread, so it must be thread-safe and quick, and the loop
/// writes its answer as the socket takes it. `stop()` may be called from any task, and more than once.
final class SocketServer: Sendable {
    /// What keeps one client, or a thousand, from holding the server.
    struct Limits: Sendable {
        /// Open connections at most; a new one closes the oldest that has not sent its request yet.
        let connections: Int
        /// The longest request; a client that sends this much is answered on what it sent.
        let requestBytes: Int
        /// From its connection, the time a client has to send its whole request.
        let receiveTimeout: Duration
        /// From its request's end, the time a client has to take its whole answer.
        let sendTimeout: Duration

        init(connections: Int = 64, requestBytes: Int = 4096, receiveTimeout: Duration = .seconds(1),
             sendTimeout: Duration = .seconds(2))
        {
            precondition(connections >= 1 && requestBytes >= 1, "a server needs room for one request")
            self.connections = connections
            self.requestBytes = requestBytes
            self.receiveTimeout = receiveTimeout
            self.sendTimeout = sendTimeout
        }
    }

    /// The listen(2) backlog both listeners use: room for a burst of clients between two turns of the loop.
    static let backlog: Int32 = 1024

    private let listener: Int32
    private let stopPipe: StopPipe
    /// Invariant: `stopRequested` turns true once, in the first `stop()`, before that call writes the stop pipe;
    /// `loopEnded` turns true once, after the loop thread has closed the listener and every connection, and
    /// `waiters` is empty from then on (each waiter is resumed exactly once).
    private let lifecycle = Locked(Lifecycle())

    private struct Lifecycle {
        var stopRequested = false
        var loopEnded = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    /// Starts serving on `listener`, a bound and listening stream socket the server then owns (it is made
    /// non-blocking here and closed when the loop ends, or at once if the server cannot start). `respond` turns a request's bytes, up to and with its
    /// terminator, into the answer's bytes.
    init(listener: Int32, name: String, terminator: [UInt8], limits: Limits = Limits(),
         respond: @escaping @Sendable ([UInt8]) -> [UInt8]) throws(SystemCallError)
    {
        precondition(!terminator.isEmpty, "a request needs a terminator")
        let flags = fcntl(listener, F_GETFL)
        do throws(SystemCallError) {
            guard flags >= 0, fcntl(listener, F_SETFL, flags | O_NONBLOCK) == 0 else { throw SystemCallError("fcntl") }
            stopPipe = try StopPipe()
        } catch {
            close(listener)
            throw error
        }
        self.listener = listener
        Thread { [self, stopRead = stopPipe.readEnd] in
            // Linux takes a thread's name (15 bytes at most) only from the thread itself.
            Thread.current.name = String(decoding: Array(name.utf8.prefix(15)), as: UTF8.self)
            Loop(listener: listener, stop: stopRead, terminator: terminator, limits: limits, respond: respond).run()
            let waiters = lifecycle.withLock { state in
                state.loopEnded = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }.start()
    }

    /// Stops the loop, which closes every connection and the listener, waits for it, and closes the stop pipe;
    /// safe to call twice (the second call waits for the loop's end too).
    func stop() async {
        let first = lifecycle.withLock { state in
            defer { state.stopRequested = true }
            return !state.stopRequested
        }
        if first { stopPipe.signal() }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ended = lifecycle.withLock { state in
                if !state.loopEnded { state.waiters.append(continuation) }
                return state.loopEnded
            }
            if ended { continuation.resume() }
        }
        if first { stopPipe.close() }
    }

    /// One client: its request as it arrives, then its answer as the socket takes it.
    private struct Connection {
        let fd: Int32
        var request: [UInt8] = []
        /// Nil while the request is still arriving.
        var response: [UInt8]?
        var sent = 0
        /// When the connection is closed if it has not finished its current part.
        var deadline: ContinuousClock.Instant
        var open = true
    }

    /// The loop's state, made on its thread and owned by it alone.
    private final class Loop {
        let listener: Int32
        let stop: Int32
        let terminator: [UInt8]
        let limits: Limits
        let respond: @Sendable ([UInt8]) -> [UInt8]
        let clock = ContinuousClock()
        /// In the order they were accepted, so the first ones are the oldest.
        var connections: [Connection] = []
        /// Set when accept(2) ran out of file descriptors or memory: the listener rests until then.
        var acceptResumes: ContinuousClock.Instant?
        var scratch: [UInt8]

        init(listener: Int32, stop: Int32, terminator: [UInt8], limits: Limits,
             respond: @escaping @Sendable ([UInt8]) -> [UInt8])
        {
            self.listener = listener
            self.stop = stop
            self.terminator = terminator
            self.limits = limits
            self.respond = respond
            scratch = [UInt8](repeating: 0, count: max(limits.requestBytes, 4096))
        }

        func run() {
            defer {
                for connection in connections where connection.open { close(connection.fd) }
                close(listener)
            }
            while true {
                let now = clock.now
                if let resumes = acceptResumes, now >= resumes { acceptResumes = nil }
                let accepting = acceptResumes == nil
                // poll(2) skips entries with a negative descriptor: the listener, while it rests.
                var fds = [pollfd(fd: stop, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: accepting ? listener : -1, events: Int16(POLLIN), revents: 0)]
                for connection in connections {
                    let events = connection.response == nil ? POLLIN : POLLOUT
                    fds.append(pollfd(fd: connection.fd, events: Int16(events), revents: 0))
                }
                var wake = connections.lazy.map(\.deadline).min()
                if let resumes = acceptResumes { wake = min(wake ?? resumes, resumes) }
                let ready = poll(&fds, nfds_t(fds.count), wake.map { Self.milliseconds(from: now, to: $0) } ?? -1)
                if ready < 0 {
                    // EINTR and EAGAIN (ENOMEM on some kernels) pass; anything else is a bug in the set.
                    if errno == EINTR || errno == EAGAIN || errno == ENOMEM { continue }
                    return
                }
                if fds[0].revents != 0 { return }
                for index in connections.indices where fds[index + 2].revents != 0 {
                    serve(&connections[index])
                }
                let later = clock.now
                for index in connections.indices where connections[index].open && later >= connections[index].deadline {
                    close(connections[index].fd)
                    connections[index].open = false
                }
                connections.removeAll { !$0.open }
                if accepting, fds[1].revents != 0 { acceptAll() }
            }
        }

        /// Reads what a client sent or writes what it can take, as its state asks; closes it when done or failed.
        func serve(_ connection: inout Connection) {
            guard connection.response == nil else {
                flush(&connection)
                return
            }
            let room = limits.requestBytes - connection.request.count
            let count = scratch.withUnsafeMutableBytes { recv(connection.fd, $0.baseAddress, room, 0) }
            if count < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return }
                finish(&connection, drain: false)
                return
            }
            if count == 0 {
                // The client has finished sending: it is answered on what it sent, if anything.
                if connection.request.isEmpty { finish(&connection, drain: false) } else { answer(&connection) }
                return
            }
            let searchFrom = max(0, connection.request.count - terminator.count + 1)
            connection.request.append(contentsOf: scratch[..<count])
            if connection.request.count >= limits.requestBytes
                || Self.find(terminator, in: connection.request, from: searchFrom)
            {
                answer(&connection)
            }
        }

        func answer(_ connection: inout Connection) {
            connection.response = respond(connection.request)
            connection.request = []
            connection.deadline = clock.now + limits.sendTimeout
            flush(&connection)
        }

        /// Sends as much of the answer as the socket takes; closes the connection once it is all sent or on an error.
        func flush(_ connection: inout Connection) {
            guard let response = connection.response else { return }
            while connection.sent < response.count {
                let count = response[connection.sent...].withUnsafeBytes {
                    send(connection.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                if count > 0 {
                    connection.sent += count
                } else if count < 0 && errno == EINTR {
                    continue
                } else if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    return
                } else {
                    // EPIPE or ECONNRESET: the client went away.
                    finish(&connection, drain: false)
                    return
                }
            }
            finish(&connection, drain: true)
        }

        /// Closes a connection. After an answer, what the client sent beyond its request is read first: a socket
        /// closed with unread bytes resets the connection, and the client could lose the answer's end.
        func finish(_ connection: inout Connection, drain: Bool) {
            if drain {
                for _ in 0..<4 {
                    let count = scratch.withUnsafeMutableBytes {
                        recv(connection.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT))
                    }
                    if count <= 0 { break }
                }
            }
            close(connection.fd)
            connection.open = false
            connection.response = nil
        }

        /// Accepts the clients waiting, at most one bound's worth per turn so that the others get served.
        func acceptAll() {
            for _ in 0..<limits.connections {
                // Glibc's Swift module has no accept4(2): the flags are set after.
                let fd = accept(listener, nil, nil)
                if fd >= 0 {
                    let flags = fcntl(fd, F_GETFL)
                    guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
                        close(fd)
                        continue
                    }
                    _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                } else {
                    switch errno {
                    case EINTR, ECONNABORTED, EPROTO: continue
                    case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                        // Out of descriptors: the listener stays readable, so it rests rather than spins.
                        acceptResumes = clock.now + .milliseconds(100)
                        return
                    default:
                        return   // EAGAIN: no one else is waiting.
                    }
                }
                if connections.count >= limits.connections {
                    let oldest = connections.firstIndex { $0.response == nil } ?? connections.startIndex
                    close(connections[oldest].fd)
                    connections.remove(at: oldest)
                }
                connections.append(Connection(fd: fd, deadline: clock.now + limits.receiveTimeout))
            }
        }

        /// Whether `terminator` occurs in `bytes` at or after `start`.
        static func find(_ terminator: [UInt8], in bytes: [UInt8], from start: Int) -> Bool {
            guard bytes.count >= terminator.count else { return false }
            var index = start
            while index + terminator.count <= bytes.count {
                if bytes[index..<index + terminator.count].elementsEqual(terminator) { return true }
                index += 1
            }
            return false
        }

        /// A poll(2) timeout that reaches `deadline`: rounded up to the millisecond, 0 if it has passed.
        static func milliseconds(from now: ContinuousClock.Instant, to deadline: ContinuousClock.Instant) -> Int32 {
            let left = now.duration(to: deadline)
            guard left > .zero else { return 0 }
            let (seconds, attoseconds) = left.components
            let total = seconds.multipliedReportingOverflow(by: 1000)
            guard !total.overflow else { return Int32.max }
            return Int32(clamping: total.partialValue + attoseconds / 1_000_000_000_000_000 + 1)
        }
    }
}
