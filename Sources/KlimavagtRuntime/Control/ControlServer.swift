import Foundation
import KlimavagtSystem
import Logging
import ServiceLifecycle

/// The agent's control socket: a Unix stream socket (mode 0660) on which the CLI asks the running agent a question,
/// one line, and reads one JSON answer.
///
/// Threading: a `SocketServer` thread serves every connection, many at once, and calls `answer` for each request,
/// so `answer` must be thread-safe and quick; a client gets one second to send its line and two to read the answer.
public final class ControlServer: Service, Sendable {
    public let path: String
    let answer: @Sendable (String) -> String
    let logger: Logger

    public init(path: String, logger: Logger, answer: @escaping @Sendable (String) -> String) {
        self.path = path
        self.logger = logger
        self.answer = answer
    }

    public func run() async throws {
        let server: SocketServer
        do {
            let listener = try Self.listen(at: path)
            server = try SocketServer(listener: listener, name: "control-socket", terminator: [0x0A]) { [answer] request in
                Self.respond(to: request, with: answer)
            }
        } catch {
            // The agent runs without it; the CLI then says the agent cannot be asked.
            logger.warning("control socket \(path): \(error); the CLI cannot ask this agent")
            try? await gracefulShutdown()
            return
        }
        logger.info("control socket: listening on \(path)")
        try? await gracefulShutdown()
        await server.stop()
        unlink(path)
    }

    /// The answer's line to a request's bytes: its first line, without blanks around it.
    static func respond(to request: [UInt8], with answer: (String) -> String) -> [UInt8] {
        let line = String(decoding: request.prefix { $0 != 0x0A }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        return Array((answer(line) + "\n").utf8)
    }

    /// Binds and listens; a stale socket left by a crash is replaced, one in use by a running agent is not.
    static func listen(at path: String) throws(SystemCallError) -> Int32 {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if (try? ControlClient.ask("ping", at: path)) != nil {
            throw SystemCallError("bind", reason: "another agent is already listening there")
        }
        unlink(path)
        guard let address = UnixSocketAddress(path) else {
            throw SystemCallError("bind", reason: "the path is too long for a Unix socket")
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemCallError("socket") }
        let bound = address.withSocketAddress { bind(fd, $0, $1) }
        let failed = bound != 0 ? "bind" : chmod(path, 0o660) != 0 ? "chmod" : Glibc.listen(fd, SocketServer.backlog) != 0 ? "listen" : nil
        if let failed {
            let error = SystemCallError(failed)
            close(fd)
            throw error
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
        guard let address = UnixSocketAddress(path) else { throw Unavailable(description: "the socket path is too long") }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Unavailable(description: SystemCallError("socket").description) }
        defer { close(fd) }
        let connected = address.withSocketAddress { connect(fd, $0, $1) }
        guard connected == 0 else {
            let reason = errno == ENOENT || errno == ECONNREFUSED
                ? "the agent is not running (no control socket at \(path))"
                : errno == EACCES ? "no permission to use \(path) (join the klimavagt group)"
                : "cannot reach the agent at \(path): \(SystemCallError("connect").reason)"
            throw Unavailable(description: reason)
        }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        // MSG_NOSIGNAL: an agent that closed the connection (EPIPE) raises no SIGPIPE in the CLI. Whatever it
        // answered before closing is still read below.
        let request = Array((question + "\n").utf8)
        var sent = 0
        while sent < request.count {
            let count = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count > 0 {
                sent += count
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                break
            }
        }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            reply.append(contentsOf: buffer.prefix(count))
        }
        guard !reply.isEmpty else { throw Unavailable(description: "the agent at \(path) did not answer") }
        return String(decoding: reply, as: UTF8.self).trimmingCharacters(in: .newlines)
    }
}
