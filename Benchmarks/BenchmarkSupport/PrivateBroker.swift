import Foundation

/// A mosquitto broker on a random loopback port in a temporary folder, for one benchmark run.
public final class PrivateBroker: @unchecked Sendable {
    public let port: Int
    public let folder: URL
    private let process: Subprocess

    /// Starts the broker; `unlimitedQueues` lifts mosquitto's 1000-message queue per client, so a slow subscriber is
    /// measured rather than dropped.
    public init(unlimitedQueues: Bool = false) async throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        port = Int.random(in: 20000...60000)
        var config = "listener \(port) 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n"
        if unlimitedQueues { config += "max_queued_messages 0\nmax_inflight_messages 0\n" }
        let file = folder.appendingPathComponent("mosquitto.conf").path
        try config.write(toFile: file, atomically: true, encoding: .utf8)
        process = try Subprocess(["/usr/sbin/mosquitto", "-c", file])
        for _ in 0..<50 {
            if Self.accepts(port: port) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "mosquitto did not start on \(port)"])
    }

    static func accepts(port: Int) -> Bool {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    public func stop() {
        process.signal(SIGTERM)
        process.wait()
        try? FileManager.default.removeItem(at: folder)
    }
}
