import Foundation
import KlimavagtCore
import KlimavagtMQTT
import KlimavagtTestSupport
import Testing

/// No lost alerts: the outbox journal carries events through a broker outage and through a SIGKILL of the agent.
@Suite("Alert delivery through outages and restarts", .serialized)
struct AlertDeliveryTests {
    /// Four events 1 to 11 s after the agent starts (4 s window): warning, resolved, severe, resolved.
    static let trace = """
        time,sensor,value
        2024-01-01T00:00:00Z,rain-1,1
        2024-01-01T00:00:02Z,rain-1,80
        2024-01-01T00:00:07Z,rain-1,160

        """

    func site(_ name: String, port: Int, withInput: Bool) throws -> (config: String, state: String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-delivery-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Self.trace.write(to: folder.appendingPathComponent("trace.csv"), atomically: true, encoding: .utf8)
        let input = withInput ? "\n    input: {simulated: {file: trace.csv, speed: 1}}" : ""
        let config = folder.appendingPathComponent("agent.yaml")
        try """
            site: \(name)
            mqtt: {host: 127.0.0.1, port: \(port), reconnect: {initial: 100ms, max: 500ms}}
            sensors:
              - id: rain-1
                device: rimco-0.2mm\(input)
            rules:
              - id: skybrud
                kind: cloudburst
                sensor: rain-1
                window: 4s

            """.write(to: config, atomically: true, encoding: .utf8)
        return (config.path, folder.appendingPathComponent("state").path)
    }

    /// Collects alert events (de-duplicated by id) until `count` have arrived or `seconds` have passed; once
    /// `count` are in, one second more, in which an event too many would arrive.
    func collect(_ messages: MQTTInbox, count: Int, seconds: Double) async throws -> [[String: Any]] {
        /// The payloads of events whose ids are not in `known`, until `limit` of them have arrived.
        func distinct(_ limit: Int, besides known: Set<String>, within seconds: Double) async -> [[UInt8]] {
            let collector = Task {
                var seen = known
                var payloads: [[UInt8]] = []
                for await message in messages where message.topic.hasSuffix("/event") {
                    guard let id = Self.id(of: message.payload), seen.insert(id).inserted else { continue }
                    payloads.append(message.payload)
                    if payloads.count == limit { break }
                }
                return payloads
            }
            _ = try? await within(seconds, "\(limit) alert events") { await collector.value }
            collector.cancel()   // what came by then, if not all
            return await collector.value
        }
        var payloads = await distinct(count, besides: [], within: seconds)
        if payloads.count == count {
            payloads += await distinct(1, besides: Set(payloads.compactMap(Self.id(of:))), within: 1)
        }
        let events = payloads.compactMap { try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] }
        #expect(events.count <= count)
        return events
    }

    static func id(of payload: [UInt8]) -> String? {
        (try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])?["id"] as? String
    }

    func persistentSubscriber(_ broker: MosquittoBroker, site: String) async throws -> MQTTClient {
        let client = try MQTTClient(MQTTOptions(
            port: broker.port, clientID: "operator-\(site)", cleanSession: false, reconnectInitial: .milliseconds(100),
            reconnectMaximum: .milliseconds(500)))
        try await client.connect()
        try await client.subscribe("klimavagt/\(site)/alerts/+/event", qos: .atLeastOnce)
        try await client.subscribe("klimavagt/\(site)/status", qos: .atLeastOnce)
        return client
    }

    func expectFourEvents(_ events: [[String: Any]]) {
        #expect(events.compactMap { $0["seq"] as? Int } == [1, 2, 3, 4])
        #expect(events.compactMap { $0["state"] as? String } == ["firing", "resolved", "firing", "resolved"])
        #expect(events.compactMap { $0["severity"] as? String } == ["warning", "warning", "severe", "severe"])
        #expect(events.compactMap { $0["event_time"] as? String } == [
            "2024-01-01T00:00:02Z", "2024-01-01T00:00:06Z", "2024-01-01T00:00:07Z", "2024-01-01T00:00:11Z",
        ])
    }

    @Test("a subscriber with a persistent session gets every event raised and resolved while the broker was down, in seq order")
    func brokerOutage() async throws {
        let broker = try MosquittoBroker(persistent: true)
        defer { broker.stop() }
        let operator_ = try await persistentSubscriber(broker, site: "outage")
        defer { operator_.close() }
        let (config, state) = try site("outage", port: broker.port, withInput: true)
        defer { removeTemporaryFolder(containing: config) }
        let messages = operator_.messages
        let agent = try Klimavagt.start(["run", "--config", config, "--state-dir", state])
        defer { agent.signal(SIGKILL); agent.wait() }
        _ = try await within(15, "status online") {
            for await message in messages where message.text == "online" { return true }
            return false
        }
        broker.stop()
        // The four events are decided (journalled) while the broker is away.
        #expect(await eventually(20) { journalAdds(state) >= 4 }, "agent output:\n\(agent.output)")
        try broker.start()
        let events = try await collect(messages, count: 4, seconds: 12)
        expectFourEvents(events)
        agent.signal(SIGTERM)
        #expect(await agent.wait(seconds: 15) == 0, "agent output:\n\(agent.output)")
    }

    @Test("events waiting in the outbox when the agent is killed are delivered after its restart, none twice")
    func killedWithEventsWaiting() async throws {
        let broker = try MosquittoBroker(persistent: true)
        defer { broker.stop() }
        broker.stop()
        let (config, state) = try site("restart", port: broker.port, withInput: true)
        defer { removeTemporaryFolder(containing: config) }
        let first = try Klimavagt.start(["run", "--config", config, "--state-dir", state])
        _ = await eventually(20) { journalAdds(state) >= 4 }
        first.signal(SIGKILL)
        #expect(first.wait() == 128 + SIGKILL)
        let journal = try String(contentsOfFile: state + "/outbox.journal", encoding: .utf8)
        #expect(journal.split(separator: "\n").filter { $0.contains("\"op\":\"add\"") }.count == 4,
                "first run's output:\n\(first.output)")

        try broker.start()
        let operator_ = try await persistentSubscriber(broker, site: "restart")
        defer { operator_.close() }
        let (quietConfig, _) = try site("restart", port: broker.port, withInput: false)
        defer { removeTemporaryFolder(containing: quietConfig) }
        let second = try Klimavagt.start(["run", "--config", quietConfig, "--state-dir", state])
        defer { second.signal(SIGKILL); second.wait() }
        let events = try await collect(operator_.messages, count: 4, seconds: 8)
        expectFourEvents(events)
        second.signal(SIGTERM)
        #expect(await second.wait(seconds: 15) == 0, "agent output:\n\(second.output)")
    }
}
