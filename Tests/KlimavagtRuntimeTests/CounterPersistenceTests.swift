import Foundation
import KlimavagtMQTT
import KlimavagtTestSupport
import Testing

/// Pulse totals survive restarts: they never go backwards, a new boot id marks each start, and a damaged counter file
/// is set aside with one log line.
@Suite("Pulse totals across restarts", .serialized)
struct CounterPersistenceTests {
    static let trace = """
        time,sensor,value
        2024-03-01T10:00:00Z,rain-1,5
        2024-03-01T10:00:36Z,rain-1,7
        2024-03-01T10:01:12Z,rain-1,11

        """

    /// Runs the agent over the trace to its end and returns the retained state of rain-1 and the agent's log.
    func runOnce(folder: URL, port: Int, site: String) async throws -> (state: [String: Any], log: String) {
        let agent = try Klimavagt.start([
            "run", "--config", folder.appendingPathComponent("agent.yaml").path, "--state-dir",
            folder.appendingPathComponent("state").path, "--exit-when-inputs-end",
        ])
        let status = await agent.wait(seconds: 30)
        if status == nil { agent.signal(SIGKILL) }
        #expect(status == 0, "agent output:\n\(agent.output)")
        let watcher = try MQTTClient(MQTTOptions(port: port, clientID: "totals-\(UUID().uuidString.prefix(6))"))
        defer { watcher.close() }
        try await watcher.connect()
        try await watcher.subscribe("klimavagt/\(site)/sensors/rain-1/state")
        let messages = watcher.messages
        let payload = try await within(10, "retained sensor state") {
            for await message in messages { return message.payload }
            return []
        }
        let state = try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
        return (state, agent.output)
    }

    @Test("the total carries on after a clean restart under a new boot id; a damaged file starts it again, set aside")
    func totals() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-totals-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.trace.write(to: folder.appendingPathComponent("trace.csv"), atomically: true, encoding: .utf8)
        try """
            site: totals
            mqtt: {host: 127.0.0.1, port: \(broker.port)}
            sensors:
              - id: rain-1
                device: rimco-0.2mm
                input: {simulated: {file: trace.csv, speed: \(200 / TestTiming.scale)}}

            """.write(to: folder.appendingPathComponent("agent.yaml"), atomically: true, encoding: .utf8)

        let first = try await runOnce(folder: folder, port: broker.port, site: "totals")
        #expect(first.state["total"] as? Double == 4.6)   // 23 tips of 0.2 mm
        #expect(first.state["total_unit"] as? String == "mm")
        #expect(first.state["unit"] as? String == "mm/h")
        // The last reading: 11 tips 36 s after the one before, 1100 tips/h of 0.2 mm. (The rate decays once a pulse is
        // overdue, so the state must go out within 36 s of trace time: 0.18 s at 200×; the speed is scaled down
        // under emulation, where the state takes longer to go out.)
        #expect(first.state["value"] as? Double == 220)

        let second = try await runOnce(folder: folder, port: broker.port, site: "totals")
        #expect(second.state["total"] as? Double == 9.2)
        let firstBoot = try #require(first.state["boot_id"] as? String)
        #expect(second.state["boot_id"] as? String != firstBoot)

        let counterFile = folder.appendingPathComponent("state/counters.state").path
        try "0badc0de {\"counters\":{\"rain-1\":999999}}\n".write(toFile: counterFile, atomically: true, encoding: .utf8)
        let third = try await runOnce(folder: folder, port: broker.port, site: "totals")
        #expect(third.state["total"] as? Double == 4.6)
        #expect(third.log.contains("counter file \(counterFile) is damaged; set aside as \(counterFile).damaged-"))
        let aside = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("state").path)
            .filter { $0.hasPrefix("counters.state.damaged-") }
        #expect(aside.count == 1)
    }
}
