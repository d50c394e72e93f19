import Foundation
import Logging
import ServiceLifecycle

/// The agent's control socket: a Unix stream socket (mode 0660) on which the CLI asks the running agent a question,
/// one line, and reads one JSON answer.
///
/// Threading: one thread blocks in poll(2) on the listening socket and a stop pipe, and answers each connection in
/// turn with `answer`, which must be thread-safe and quick; a client gets one second to send its line.
public final class ControlServer: Service, @unchecked Sendable {
    public let path: String
    let answer: @Sendable (String) -> String
    let logger: Logger

    public init(path: String, logger: Logger, answer: @escaping @Sendable (String) -> String) {
        self.path = path
        self.logger = logger
        self.answer = answer
    }

    public func run() async throws {
        let listener: Int32
        do {
            listener = try Self.listen(at: path)
        } catch {
            // The agent runs without it; the CLI then says the agent cannot be asked.
            logger.warning("control socket \(path): \(error); the CLI cannot ask this agent")
            try? await gracefulShutdown()
            return
        }
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else {
            close(listener)
            return
        }
        let (stopRead, stopWrite) = (pipeEnds[0], pipeEnds[1])
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            serve(listener: listener, stop: stopRead)
            finished.signal()
        }
        thread.name = "control-socket"
        thread.start()
        logger.info("control socket: listening on \(path)")
        try? await gracefulShutdown()
        var byte: UInt8 = 1
        _ = write(stopWrite, &byte, 1)
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                finished.wait()
                done.resume()
            }
        }
        close(listener)
        close(stopRead)
        close(stopWrite)
        unlink(path)
    }

    private func serve(listener: Int32, stop: Int32) {
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
            handle(connection)
            close(connection)
        }
    }

    private func handle(_ connection: Int32) {
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while request.count < 4096, !request.contains(0x0A) {
            let count = read(connection, &buffer, buffer.count)
            guard count > 0 else { break }
            request.append(contentsOf: buffer.prefix(count))
        }
        let line = String(decoding: request.prefix { $0 != 0x0A }, as: UTF8.self)
            .trimmingCharacters(in: .whitespaces)
        let reply = Array((answer(line) + "\n").utf8)
        var sent = 0
        while sent < reply.count {
            let count = reply[sent...].withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
            guard count > 0 else { return }
            sent += count
        }
    }

    struct SocketError: Error, CustomStringConvertible {
        var description: String
    }

    /// Binds and listens; a stale socket left by a crash is replaced, one in use by a running agent is not.
    static func listen(at path: String) throws -> Int32 {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if (try? ControlClient.ask("ping", at: path)) != nil {
            throw SocketError(description: "another agent is already listening there")
        }
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError(description: String(cString: strerror(errno))) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw SocketError(description: "the path is too long for a Unix socket")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, chmod(path, 0o660) == 0, Glibc.listen(fd, 8) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw SocketError(description: reason)
        }
        return fd
    }
}

/// Asks a running agent one question on its control socket.
public enum ControlClient {
    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
    }

    /// Sends `question` and returns the agent's one-line answer.
    public static func ask(_ question: String, at path: String) throws(Unavailable) -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Unavailable(description: String(cString: strerror(errno))) }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw Unavailable(description: "the socket path is too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let reason = errno == ENOENT || errno == ECONNREFUSED
                ? "the agent is not running (no control socket at \(path))"
                : errno == EACCES ? "no permission to use \(path) (join the klimavagt group)"
                : "cannot reach the agent at \(path): \(String(cString: strerror(errno)))"
            throw Unavailable(description: reason)
        }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = Array((question + "\n").utf8)
        _ = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count <= 0 { break }
            reply.append(contentsOf: buffer.prefix(count))
        }
        guard !reply.isEmpty else { throw Unavailable(description: "the agent at \(path) did not answer") }
        return String(decoding: reply, as: UTF8.self).trimmingCharacters(in: .newlines)
    }
}
