import Foundation
import KlimavagtCore
import KlimavagtMQTT
@testable import KlimavagtRuntime
import KlimavagtTestSupport
import Testing

/// The broker as the second copy of alert state: with every local state file lost or damaged, seq goes on from the
/// agent's own retained alert state, ids stay new, and the retained state is the last event.
@Suite("Alert state when the local state is lost", .serialized)
struct LostStateTests {
    let delivery = AlertDeliveryTests()

    /// Events (unique by id) on `PREFIX/alerts/+/event`, as soon as `count` have arrived, at most `seconds`.
    func events(_ messages: MQTTInbox, count: Int, seconds: Double) async throws -> [[String: Any]] {
        let payloads = try await within(seconds, "\(count) alert events") {
            var seen = Set<String>()
            var payloads: [[UInt8]] = []
            for await message in messages where message.topic.hasSuffix("/event") {
                guard let event = try? JSONSerialization.jsonObject(with: Data(message.payload)) as? [String: Any],
                      let id = event["id"] as? String, seen.insert(id).inserted
                else { continue }
                payloads.append(message.payload)
                if payloads.count == count { break }
            }
            return payloads
        }
        return payloads.compactMap { try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] }
    }

    /// Runs the four-event site once to its last event and stops the agent; returns the events.
    func firstRun(_ broker: MosquittoBroker, site: String, config: String, state: String,
                  _ subscriber: MQTTClient) async throws -> [[String: Any]]
    {
        let agent = try Klimavagt.start(["run", "--config", config, "--state-dir", state])
        defer { agent.signal(SIGKILL); agent.wait() }
        let events = try await events(subscriber.messages, count: 4, seconds: 40)
        agent.signal(SIGTERM)
        #expect(await agent.wait(seconds: 15) == 0, "agent output:\n\(agent.output)")
        return events
    }

    /// A second run after `damage` was done to the state folder: its four events must go on from seq 4.
    func secondRun(named site: String, damage: (String) throws -> Void) async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let (config, state) = try delivery.site(site, port: broker.port, withInput: true)
        let folder = URL(fileURLWithPath: state).deletingLastPathComponent().path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let subscriber = try MQTTClient(MQTTOptions(port: broker.port, clientID: "operator-\(site)"))
        defer { subscriber.close() }
        try await subscriber.connect()
        try await subscriber.subscribe("klimavagt/\(site)/alerts/+/event", qos: .atLeastOnce)
        let first = try await firstRun(broker, site: site, config: config, state: state, subscriber)
        delivery.expectFourEvents(first)

        try damage(state)
        let agent = try Klimavagt.start(["run", "--config", config, "--state-dir", state])
        defer { agent.signal(SIGKILL); agent.wait() }
        let second = try await events(subscriber.messages, count: 4, seconds: 40)
        #expect(second.compactMap { $0["seq"] as? Int } == [5, 6, 7, 8], "agent output:\n\(agent.output)")
        #expect(second.compactMap { $0["state"] as? String } == ["firing", "resolved", "firing", "resolved"])
        let ids = Set((first + second).compactMap { $0["id"] as? String })
        #expect(ids.count == 8, "an id was used twice")
        #expect(agent.output.contains("rule skybrud restored from the broker's retained state (seq 4"), "\(agent.output)")
        // The state follows its event on the wire: wait for it (a loaded machine may take a moment).
        var retained: (seq: Int, id: String)?
        _ = try await eventually(15, every: .milliseconds(200)) {
            retained = try await retainedAlertStates(broker, site: site, rules: ["skybrud"])["skybrud"]
            return retained?.seq == 8
        }
        #expect(retained?.seq == 8)
        #expect(retained?.id == second.last?["id"] as? String)
        agent.signal(SIGTERM)
        #expect(await agent.wait(seconds: 15) == 0, "agent output:\n\(agent.output)")
    }

    @Test("every state file deleted: seq goes on from the broker's retained state, with new ids")
    func stateFolderDeleted() async throws {
        try await secondRun(named: "lost") { state in
            try FileManager.default.removeItem(atPath: state)
        }
    }

    @Test("the outbox journal overwritten with garbage: seq goes on from the broker's retained state")
    func journalDamaged() async throws {
        try await secondRun(named: "damaged") { state in
            let path = state + "/outbox.journal"
            let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            #expect(size > 0)
            try Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }).write(to: URL(fileURLWithPath: path))
        }
    }

    @Test("a retained state from a broker anyone can write to is taken only when it is a valid state of the rule")
    func retainedPayloadsAreChecked() {
        let valid = #"{"id":"a","seq":7,"site":"s","rule":"r","kind":"cloudburst","state":"firing","severity":"severe","sensor":"rain-1","value":31.2,"unit":"mm","threshold":30,"window_s":1800,"event_time":"2026-08-14T16:20:00Z","published_at":"2026-08-14T16:20:01Z","message":"Skybrud","since":"2026-08-14T16:10:00Z"}"#
        let lifecycle = AlertLifecycle.fromStateJSON(Array(valid.utf8))
        #expect(lifecycle?.seq == 7)
        #expect(lifecycle?.state == .firing)
        #expect(lifecycle?.severity == .severe)
        for broken in [
            valid.replacingOccurrences(of: #""seq":7"#, with: #""seq":7.5"#),
            valid.replacingOccurrences(of: #""seq":7"#, with: #""seq":1e300"#),
            valid.replacingOccurrences(of: #""seq":7"#, with: #""seq":-3"#),
            valid.replacingOccurrences(of: #""state":"firing""#, with: #""state":"inactive""#),
            valid.replacingOccurrences(of: #""event_time":"2026-08-14T16:20:00Z""#, with: #""event_time":"2263-01-01T00:00:00Z""#),
            valid.replacingOccurrences(of: #""window_s":1800"#, with: #""window_s":1e19"#),
            valid.replacingOccurrences(of: #""value":31.2"#, with: #""value":"31.2""#),
            String(valid.dropLast(10)),
            "",
            String(repeating: "[", count: 100_000),
        ] {
            #expect(AlertLifecycle.fromStateJSON(Array(broken.utf8)) == nil, "\(broken.prefix(200))")
        }
    }
}
