import Foundation
import KlimavagtCore
import KlimavagtMQTT
import KlimavagtTestSupport
import Testing
import Yams

/// Each MQTT device profile's fixtures in `Devices/*/fixtures/`, run through the agent binary and a real broker.
///
/// A fixture names sensors as a configuration would, then messages: what the agent must publish as sensor state for
/// each, or why it must refuse it. The refusals are checked against the agent's per-sensor summary at shutdown, and
/// the refusal log must stay at one line per sensor however many payloads it refuses.
@Suite("Device profile fixtures through a real broker", .serialized)
struct DeviceFixtureTests {
    struct Fixture {
        var name: String
        var sensors: String
        var messages: [Message]
    }

    struct Message {
        var topic: String
        var payload: String
        var states: [[String: AnyHashable]]
        var refused: [String: String]
    }

    static let fixtureFiles: [String] = {
        let folder = repositoryRoot.appendingPathComponent("Devices/mqtt/fixtures")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted().map { folder.appendingPathComponent($0).path }
    }()

    static func load(_ file: String) throws -> Fixture {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let root = try #require(try Yams.load(yaml: text) as? [String: Any])
        let messages = try #require(root["messages"] as? [[String: Any]]).map { entry in
            Message(
                topic: entry["topic"] as! String, payload: entry["payload"] as! String,
                states: ((entry["states"] as? [String]) ?? []).map { json in
                    try! JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: AnyHashable]
                },
                refused: (entry["refused"] as? [String: String]) ?? [:])
        }
        return Fixture(name: URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent,
                       sensors: try #require(root["sensors"] as? String), messages: messages)
    }

    @Test("every device profile with a topic has fixtures")
    func everyProfileHasFixtures() throws {
        let profiles = try FileManager.default.contentsOfDirectory(
            atPath: repositoryRoot.appendingPathComponent("Devices/mqtt").path).filter { $0.hasSuffix(".yaml") }
        #expect(!profiles.isEmpty)
        for profile in profiles {
            #expect(Self.fixtureFiles.contains { $0.hasSuffix("/fixtures/\(profile)") }, "no fixtures for \(profile)")
        }
    }

    @Test("the agent publishes the expected state for each payload and refuses the malformed ones",
          arguments: fixtureFiles)
    func fixture(file: String) async throws {
        let fixture = try Self.load(file)
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let site = "fx-\(fixture.name.lowercased().replacingOccurrences(of: ".", with: "-"))"
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-fx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = folder.appendingPathComponent("agent.yaml").path
        let sensors = fixture.sensors.split(separator: "\n").map { "  \($0)" }.joined(separator: "\n")
        try """
            site: \(site)
            devices_dir: \(repositoryRoot.appendingPathComponent("Devices").path)
            mqtt: {host: 127.0.0.1, port: \(broker.port), reconnect: {initial: 100ms, max: 1s}}
            sensors:
            \(sensors)
            """.write(toFile: config, atomically: true, encoding: .utf8)

        let watcher = try MQTTClient(MQTTOptions(port: broker.port, clientID: "watch-\(site)"))
        defer { watcher.close() }
        try await watcher.connect()
        try await watcher.subscribe("klimavagt/\(site)/#")
        let messages = watcher.messages
        let agent = try Klimavagt.start(["run", "--config", config, "--state-dir", folder.appendingPathComponent("state").path])
        defer { agent.signal(SIGKILL); agent.wait() }
        try await within(20, "agent online") {
            for await message in messages where message.topic == "klimavagt/\(site)/status" && message.text == "online" {
                return
            }
        }
        // The feed subscribes after the session has started: wait until each topic of a payload the agent is to take
        // (one that makes a state or a refusal) has a subscription the broker granted.
        let subscribed = await eventually(20) {
            let filters = agent.output.split(separator: "\n").compactMap { line in
                line.range(of: "MQTT: subscribed to ").flatMap { TopicFilter(String(line[$0.upperBound...])) }
            }
            return fixture.messages.filter { !$0.states.isEmpty || !$0.refused.isEmpty }
                .allSatisfy { message in filters.contains { $0.match(message.topic) != nil } }
        }
        try #require(subscribed, "agent output:\n\(agent.output)")

        let publisher = try MQTTClient(MQTTOptions(port: broker.port, clientID: "device-\(site)"))
        defer { publisher.close() }
        try await publisher.connect()
        var expectedRefusals: [String: [String: Int]] = [:]
        var routed: [String: Int] = [:]
        for (index, message) in fixture.messages.enumerated() {
            try await publisher.publish(message.topic, payload: Array(message.payload.utf8))
            for (sensor, reason) in message.refused { expectedRefusals[sensor, default: [:]][reason, default: 0] += 1 }
            for sensor in Set(message.refused.keys).union(message.states.map { $0["sensor"] as! String }) {
                routed[sensor, default: 0] += 1
            }
            guard !message.states.isEmpty else { continue }
            let wanted = message.states.count
            let payloads = try await within(10, "\(fixture.name) message \(index + 1): sensor states") {
                var collected: [[UInt8]] = []
                for await received in messages where received.topic.contains("/sensors/") {
                    collected.append(received.payload)
                    if collected.count == wanted { break }
                }
                return collected
            }
            var got: [String: [String: AnyHashable]] = [:]
            for payload in payloads {
                let object = try JSONSerialization.jsonObject(with: Data(payload)) as! [String: AnyHashable]
                got[object["sensor"] as! String] = object
            }
            for want in message.states {
                let sensor = want["sensor"] as! String
                var state = try #require(got[sensor], "\(fixture.name) message \(index + 1): no state for \(sensor)")
                if want["time"] == nil {
                    #expect(state["time"] != nil)
                    state["time"] = nil   // the arrival time
                }
                #expect(state == want, "\(fixture.name) message \(index + 1)")
            }
        }
        // Payloads after the last state message leave nothing to wait on (a refused one sends no state): half a
        // second for them before the stop.
        try await Task.sleep(for: .milliseconds(500))
        agent.signal(SIGTERM)
        let status = await agent.wait(seconds: 10)
        #expect(status == 0)
        let log = agent.output
        for (sensor, count) in routed {
            let reasons = expectedRefusals[sensor] ?? [:]
            let refused = reasons.values.reduce(0, +)
            let detail = reasons.isEmpty ? "" : " (" + reasons.sorted { $0.key < $1.key }
                .map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"
            #expect(log.contains("MQTT input \(sensor): \(count) payloads, \(refused) refused\(detail)"),
                    "\(fixture.name): summary for \(sensor)\n\(log)")
            let warnings = log.components(separatedBy: "\n").filter { $0.contains("MQTT input \(sensor): payload on") }
            #expect(warnings.count == (refused > 0 ? 1 : 0), "\(fixture.name): refusal log lines for \(sensor)")
        }
    }
}
