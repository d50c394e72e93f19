import Foundation
import KlimavagtMQTT
import KlimavagtTestSupport
import Testing

/// The Prometheus endpoint of a running agent, scraped over loopback HTTP.
@Suite("Prometheus metrics", .serialized)
struct MetricsTests {
    /// A plain HTTP/1.1 GET on 127.0.0.1; the status line and the body.
    func get(_ path: String, port: Int) -> (status: String, body: String)? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count <= 0 { break }
            reply.append(contentsOf: buffer.prefix(count))
        }
        let text = String(decoding: reply, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return nil }
        let status = String(text[..<split.lowerBound]).components(separatedBy: "\r\n").first ?? ""
        return (status, String(text[split.upperBound...]))
    }

    @Test("payloads received and refused, messages published, outbox, store and memory gauges; 404 elsewhere")
    func scrape() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let port = try MosquittoBroker.freePort()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-metrics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try """
            site: metrics
            mqtt: {host: 127.0.0.1, port: \(broker.port)}
            metrics: {port: \(port)}
            sensors:
              - id: level-1
                unit: cm
                input: {mqtt: {topic: site/level}}
            """.write(to: folder.appendingPathComponent("agent.yaml"), atomically: true, encoding: .utf8)
        let agent = try Klimavagt.start(["run", "--config", folder.appendingPathComponent("agent.yaml").path,
                                          "--state-dir", folder.appendingPathComponent("state").path,
                                          "--control-socket", folder.appendingPathComponent("control.sock").path])
        defer { agent.signal(SIGKILL); agent.wait() }
        let device = try MQTTClient(MQTTOptions(port: broker.port, clientID: "metrics-device"))
        defer { device.close() }
        try await device.connect()
        var body = ""
        for _ in 0..<100 where !body.contains(#"klimavagt_payloads_refused_total{sensor="level-1",reason="not_json"} 1"#) {
            if body.isEmpty || !body.contains("klimavagt_payloads_received_total") {
                try await device.publish("site/level", payload: Array("not json".utf8))
                try await device.publish("site/level", payload: Array(#"{"value": 120}"#.utf8))
            }
            try await Task.sleep(for: .milliseconds(100))
            body = get("/metrics", port: port)?.body ?? ""
        }
        #expect(body.contains(#"klimavagt_payloads_refused_total{sensor="level-1",reason="not_json"} 1"#), "\(body)\n\(agent.output)")
        #expect(body.contains(#"klimavagt_payloads_received_total{sensor="level-1"} 2"#))
        #expect(body.contains("klimavagt_mqtt_messages_published_total{kind=\"retained\"}"))
        #expect(body.contains("klimavagt_outbox_alert_events_waiting 0"))
        let memory = body.split(separator: "\n").first { $0.hasPrefix("klimavagt_resident_memory_bytes ") }
        #expect((memory?.split(separator: " ").last.flatMap { Double($0) } ?? 0) > 1_000_000)
        #expect(get("/other", port: port)?.status == "HTTP/1.1 404 Not Found")
        #expect(get("/metrics", port: port)?.status == "HTTP/1.1 200 OK")
    }
}
