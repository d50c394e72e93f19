import Foundation
import KlimavagtSystem
import Logging
import Prometheus
import ServiceLifecycle

/// The Prometheus exposition endpoint: `GET /metrics` on a loopback port, from the registry swift-metrics reports
/// into, with the gauges read fresh at each scrape.
///
/// Threading: a `SocketServer` thread serves every connection, many at once; a scrape runs `refresh` and emits the
/// registry on that thread. A client gets one second to send its request's head and two to read the answer.
public final class MetricsServer: Service, Sendable {
    public let port: Int
    let registry: PrometheusCollectorRegistry
    let refresh: @Sendable () -> Void
    let logger: Logger

    /// `refresh` sets the gauges that are read rather than counted (outbox depth, store bytes, resident memory).
    public init(port: Int, registry: PrometheusCollectorRegistry, logger: Logger, refresh: @escaping @Sendable () -> Void) {
        self.port = port
        self.registry = registry
        self.logger = logger
        self.refresh = refresh
    }

    public func run() async throws {
        let server: SocketServer
        do {
            let listener = try Self.listen(port: port)
            server = try SocketServer(listener: listener, name: "metrics", terminator: Array("\r\n\r\n".utf8)) {
                [registry, refresh] request in
                Self.respond(to: request, registry: registry, refresh: refresh)
            }
        } catch {
            logger.error("metrics: cannot listen on 127.0.0.1:\(port): \(error); no metrics")
            try? await gracefulShutdown()
            return
        }
        logger.info("metrics: Prometheus endpoint on http://127.0.0.1:\(port)/metrics")
        try? await gracefulShutdown()
        await server.stop()
    }

    /// The HTTP answer to a request's head (up to its blank line, or the size limit): 200 with the exposition for
    /// `GET /metrics`, 404 for anything else.
    static func respond(to request: [UInt8], registry: PrometheusCollectorRegistry, refresh: () -> Void) -> [UInt8] {
        let line = String(decoding: request.prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self)
        guard line.hasPrefix("GET /metrics ") || line == "GET /metrics" else {
            return Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
        }
        refresh()
        var body: [UInt8] = []
        registry.emit(into: &body)
        return Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8) + body
    }

    /// A TCP socket listening on 127.0.0.1 only; port 0 takes one the kernel picks.
    static func listen(port: Int) throws(SystemCallError) -> Int32 {
        guard let port = UInt16(exactly: port) else { throw SystemCallError("bind", reason: "port \(port) is not in 0...65535") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemCallError("socket") }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(port.bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let failed = bound != 0 ? "bind" : Glibc.listen(fd, SocketServer.backlog) != 0 ? "listen" : nil
        if let failed {
            let error = SystemCallError(failed)
            close(fd)
            throw error
        }
        return fd
    }
}
