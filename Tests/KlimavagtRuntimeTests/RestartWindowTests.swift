import Foundation
import KlimavagtMQTT
import KlimavagtTestSupport
import Testing

/// A restart in the middle of a cloudburst: the store gives the rule its window back, so the alert resolves when
/// the rain leaves the window, not at the first tip after the restart.
@Suite("Rule windows across a restart", .serialized)
struct RestartWindowTests {
    @Test("a firing cloudburst resolves at the instant its rain leaves the window, after a restart")
    func windowSurvivesRestart() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-restart-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // Before the restart: 81 tips (16.2 mm) by 00:00:02, a cloudburst in a 20 s window. After: one tip at 00:00:05.
        try "time,sensor,value\n2024-01-01T00:00:00Z,rain-1,1\n2024-01-01T00:00:02Z,rain-1,80\n"
            .write(to: folder.appendingPathComponent("before.csv"), atomically: true, encoding: .utf8)
        try "time,sensor,value\n2024-01-01T00:00:05Z,rain-1,1\n"
            .write(to: folder.appendingPathComponent("after.csv"), atomically: true, encoding: .utf8)
        for part in ["before", "after"] {
            try """
                site: restart
                mqtt: {host: 127.0.0.1, port: \(broker.port), reconnect: {initial: 100ms, max: 500ms}}
                sensors:
                  - id: rain-1
                    device: rimco-0.2mm
                    input: {simulated: {file: \(part).csv, speed: 1}}
                rules:
                  - id: skybrud
                    kind: cloudburst
                    sensor: rain-1
                    window: 20s
                """.write(to: folder.appendingPathComponent("\(part).yaml"), atomically: true, encoding: .utf8)
        }
        let watcher = try MQTTClient(MQTTOptions(port: broker.port, clientID: "restart-watch"))
        defer { watcher.close() }
        try await watcher.connect()
        try await watcher.subscribe("klimavagt/restart/alerts/+/event")
        let state = folder.appendingPathComponent("state").path

        let first = try Klimavagt.start(["run", "--config", folder.appendingPathComponent("before.yaml").path,
                                          "--state-dir", state])
        let messages = watcher.messages
        let firing = try await within(20, "the cloudburst fires") {
            for await message in messages { return message.text }
            return ""
        }
        #expect(firing.contains(#""state":"firing""#))
        first.signal(SIGTERM)
        #expect(await first.wait(seconds: 15) == 0, "\(first.output)")

        let second = try Klimavagt.start(["run", "--config", folder.appendingPathComponent("after.yaml").path,
                                           "--state-dir", state, "--exit-when-inputs-end"])
        let resolved = try await within(60, "the cloudburst resolves") {
            for await message in messages { return message.text }
            return ""
        }
        #expect(await second.wait(seconds: 30) == 0, "\(second.output)")
        let event = try #require(try JSONSerialization.jsonObject(with: Data(resolved.utf8)) as? [String: Any])
        #expect(event["state"] as? String == "resolved")
        // 00:00:02 + 20 s: the 80 tips leave the window then; without the store's window it would be 00:00:05.
        #expect(event["event_time"] as? String == "2024-01-01T00:00:22Z", "\(resolved)\n\(second.output)")
        #expect(event["seq"] as? Int == 2)
        #expect(second.output.contains("readings from before the restart back in its rule windows"))
    }
}
