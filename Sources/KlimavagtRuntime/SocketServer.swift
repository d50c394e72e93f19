import Foundation

/// Accepts connections on a listening socket on a thread of its own and hands each to `handle`, one at a time,
/// until stopped; the control socket and the metrics endpoint both serve this way.
///
/// Threading: the thread blocks in poll(2) on the listening socket and a stop pipe; `stop()` wakes it, joins it and
/// closes both. `handle` runs on that thread and must be quick; each connection gets one second to send.
final class SocketServer: @unchecked Sendable {
    private let listener: Int32
    private let stopPipe: (read: Int32, write: Int32)
    private let finished = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var stopped = false

    init(listener: Int32, name: String, handle: @escaping @Sendable (Int32) -> Void) throws {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        self.listener = listener
        stopPipe = (ends[0], ends[1])
        let thread = Thread { [listener, stopRead = ends[0], finished] in
            // Linux takes a thread's name (15 bytes at most) only from the thread itself.
            Thread.current.name = String(decoding: Array(name.utf8.prefix(15)), as: UTF8.self)
            Self.serve(listener: listener, stop: stopRead, handle: handle)
            finished.signal()
        }
        thread.start()
    }

    private static func serve(listener: Int32, stop: Int32, handle: (Int32) -> Void) {
        while true {
            var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: stop, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[1].revents != 0 { return }
            guard fds[0].revents & Int16(POLLIN) != 0 else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            var timeout = timeval(tv_sec: 1, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            handle(connection)
            close(connection)
        }
    }

    /// Stops accepting, waits for the connection in hand, and closes the sockets; safe to call twice.
    func stop() async {
        let first: Bool = lock.withLock {
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        var byte: UInt8 = 1
        _ = write(stopPipe.write, &byte, 1)
        // A thread of its own waits, so that no task-pool thread blocks on the connection in hand.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread { [finished] in
                finished.wait()
                done.resume()
            }.start()
        }
        close(listener)
        close(stopPipe.read)
        close(stopPipe.write)
    }

    /// Reads a request of at most `limit` bytes, up to its first line's end (or the blank line that ends HTTP headers).
    static func readRequest(_ connection: Int32, until terminator: [UInt8], limit: Int = 4096) -> [UInt8] {
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while request.count < limit {
            if request.count >= terminator.count, request.suffix(terminator.count).elementsEqual(terminator) { break }
            if terminator == [0x0A], request.contains(0x0A) { break }
            let count = read(connection, &buffer, buffer.count)
            guard count > 0 else { break }
            request.append(contentsOf: buffer.prefix(count))
        }
        return request
    }

    /// Writes all of `bytes`, as far as the peer takes them.
    static func send(_ bytes: [UInt8], to connection: Int32) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
            guard count > 0 else { return }
            sent += count
        }
    }
}
