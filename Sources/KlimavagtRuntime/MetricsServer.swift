import Foundation
import Logging
import Prometheus
import ServiceLifecycle

/// The Prometheus exposition endpoint: `GET /metrics` on a loopback port, from the registry swift-metrics reports
/// into, with the gauges read fresh at each scrape.
public final class MetricsServer: Service, @unchecked Sendable {
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
            server = try SocketServer(listener: listener, name: "metrics") { [registry, refresh] connection in
                let request = SocketServer.readRequest(connection, until: Array("\r\n\r\n".utf8))
                let line = String(decoding: request.prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self)
                let response: [UInt8]
                if line.hasPrefix("GET /metrics ") || line == "GET /metrics" {
                    refresh()
                    var body: [UInt8] = []
                    registry.emit(into: &body)
                    response = Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8) + body
                } else {
                    response = Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
                }
                SocketServer.send(response, to: connection)
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

    /// A TCP socket listening on 127.0.0.1 only.
    static func listen(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 8) == 0 else {
            let code = errno
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
        return fd
    }
}
