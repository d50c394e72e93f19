import Foundation
import KlimavagtCore
import KlimavagtMQTT
import KlimavagtRuntime
import KlimavagtTestSupport
import Testing

/// The agent binary end to end: simulated gauge → rules → a real broker → a subscriber.
@Suite("Agent against a real broker", .serialized)
struct AgentBrokerTests {
    let demoTrace = repositoryRoot.appendingPathComponent("Devices/demo/skybrud-2011-07-02.csv").path

    func writeConfig(site: String, port: Int, speed: Double, trace: String? = nil, window: String? = nil) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("agent.yaml")
        try """
            site: \(site)
            mqtt:
              host: 127.0.0.1
              port: \(port)
              reconnect: {initial: 100ms, max: 1s}
            sensors:
              - id: rain-1
                device: rimco-0.2mm
                input:
                  simulated: {file: \(trace ?? demoTrace), speed: \(speed)}
            rules:
              - id: skybrud
                kind: cloudburst
                sensor: rain-1
            \(window.map { "    window: \($0)" } ?? "")
            """.write(to: file, atomically: true, encoding: .utf8)
        if window == nil {
            try (try String(contentsOf: file, encoding: .utf8) + """
                  - id: kraftig-regn
                    kind: heavy_rain
                    sensor: rain-1

                """).write(to: file, atomically: true, encoding: .utf8)
        }
        return file.path
    }

    func stateDirectory(of config: String) -> String {
        URL(fileURLWithPath: config).deletingLastPathComponent().appendingPathComponent("state").path
    }

    func subscriber(_ broker: MosquittoBroker, _ filter: String) async throws -> MQTTClient {
        let client = try MQTTClient(MQTTOptions(port: broker.port, clientID: "watch-\(UUID().uuidString.prefix(8))"))
        try await client.connect()
        try await client.subscribe(filter)
        return client
    }

    /// The next status message with the given text.
    func status(_ text: String, in messages: MQTTInbox, within seconds: Double) async throws
        -> MQTTMessage
    {
        try await within(seconds, "status \(text)") {
            for await message in messages where message.text == text { return message }
            throw BrokerError("the message stream ended before status \(text)")
        }
    }

    /// The events the contract's window semantics give for the trace, by brute force over every instant.
    func expectedEvents(rule: String, kind: AlertKind, window: Int64, levels: [(Severity, Double)]) throws
        -> [[String: Any]]
    {
        let readings = try Trace.load(demoTrace).readings
        var instants = Set(readings.map(\.time))
        for reading in readings { instants.insert(reading.time + .seconds(window)) }
        var current: Severity?
        var events: [[String: Any]] = []
        for instant in instants.sorted() {
            let tips = readings.filter { $0.time > instant - .seconds(window) && $0.time <= instant }.count
            let mm = Double(tips * 2) / 10
            let now = levels.last { mm > $0.1 }?.0
            guard now != current else { continue }
            let threshold: Double
            if let now, current == nil || now > current! {
                threshold = levels.first { $0.0 == now }!.1
            } else {
                threshold = levels.first { now == nil || $0.0 > now! }!.1
            }
            let name = kind == .cloudburst ? "Skybrud" : "Kraftig regn"
            let span = kind == .cloudburst ? "30 min" : "6 t"
            events.append([
                "seq": events.count + 1, "site": "e2e", "rule": rule, "kind": kind.rawValue,
                "state": now == nil ? "resolved" : "firing", "severity": (now ?? current!).rawValue,
                "sensor": "rain-1", "value": mm, "unit": "mm", "threshold": threshold, "window_s": Int(window),
                "event_time": instant.rfc3339,
                "message": "\(name)\(now == nil ? " ophørt" : ""): \(String(format: "%.1f", mm)) mm på \(span) (rain-1)",
            ])
            current = now
        }
        return events
    }

    @Test("the bundled cloudburst trace reaches a subscriber as the contract's alert events, field by field")
    func demoEndToEnd() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let watcher = try await subscriber(broker, "klimavagt/e2e/alerts/+/event")
        defer { watcher.close() }
        let config = try writeConfig(site: "e2e", port: broker.port, speed: 3600)
        defer { removeTemporaryFolder(containing: config) }
        let agent = try Klimavagt.start(["run", "--config", config, "--state-dir", stateDirectory(of: config),
                                          "--exit-when-inputs-end"])
        let status = await agent.wait(seconds: 90)
        #expect(status == 0, "agent output:\n\(agent.output)")
        if status == nil { agent.signal(SIGKILL) }
        // The agent has exited after its outbox drained (every event acknowledged by the broker); the broker's
        // forwarding to the watcher is what is left.
        try await Task.sleep(for: .milliseconds(300))
        watcher.close()
        var received: [String: [[String: Any]]] = [:]
        var ids = Set<String>()
        for await message in watcher.messages {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(message.payload)) as? [String: Any])
            let rule = try #require(object["rule"] as? String)
            #expect(message.topic == "klimavagt/e2e/alerts/\(rule)/event")
            #expect(message.retain == false)
            received[rule, default: []].append(object)
            let id = try #require(object["id"] as? String)
            #expect(!id.isEmpty && ids.insert(id).inserted, "event ids must be unique")
            let eventTime = try #require(Timestamp(rfc3339: object["event_time"] as? String ?? ""))
            let publishedAt = try #require(Timestamp(rfc3339: object["published_at"] as? String ?? ""))
            #expect(publishedAt >= eventTime)
        }
        let expectations = [
            ("skybrud", try expectedEvents(rule: "skybrud", kind: .cloudburst, window: 1800,
                                           levels: [(.warning, 15), (.severe, 30), (.extreme, 45)])),
            ("kraftig-regn", try expectedEvents(rule: "kraftig-regn", kind: .heavyRain, window: 21600,
                                                levels: [(.warning, 24)])),
        ]
        for (rule, expected) in expectations {
            let got = received[rule] ?? []
            #expect(got.count == expected.count, "\(rule): \(got.count) events, expected \(expected.count)")
            #expect(!expected.isEmpty)
            for (event, want) in zip(got, expected) {
                for key in ["seq", "site", "rule", "kind", "state", "severity", "sensor", "unit", "window_s",
                            "event_time", "message"] {
                    #expect("\(event[key] ?? "missing")" == "\(want[key]!)", "\(rule) seq \(want["seq"]!): \(key)")
                }
                for key in ["value", "threshold"] {
                    #expect((event[key] as? Double) == (want[key] as? Double), "\(rule) seq \(want["seq"]!): \(key)")
                }
            }
        }
    }

    @Test("PREFIX/status is online while the agent runs, offline from the Last Will when it is killed")
    func lastWillOnKill() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let watcher = try await subscriber(broker, "klimavagt/lwt/status")
        defer { watcher.close() }
        let config = try writeConfig(site: "lwt", port: broker.port, speed: 1)
        defer { removeTemporaryFolder(containing: config) }
        let agent = try Klimavagt.start(["run", "--config", config, "--state-dir", stateDirectory(of: config)])
        defer { agent.signal(SIGKILL); agent.wait() }
        let messages = watcher.messages
        _ = try await status("online", in: messages, within: 20)
        agent.signal(SIGKILL)
        let offline = try await status("offline", in: messages, within: 10)
        #expect(offline.topic == "klimavagt/lwt/status")
        #expect(agent.wait() == 128 + SIGKILL)
    }

    @Test("SIGTERM shuts the agent down cleanly: offline is published and the exit status is 0")
    func gracefulShutdown() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let watcher = try await subscriber(broker, "klimavagt/term/status")
        defer { watcher.close() }
        let config = try writeConfig(site: "term", port: broker.port, speed: 1)
        defer { removeTemporaryFolder(containing: config) }
        let agent = try Klimavagt.start(["run", "--config", config, "--state-dir", stateDirectory(of: config)])
        let messages = watcher.messages
        _ = try await status("online", in: messages, within: 20)
        agent.signal(SIGTERM)
        let offline = try await status("offline", in: messages, within: 10)
        #expect(offline.topic == "klimavagt/term/status")
        let status = await agent.wait(seconds: 10)
        #expect(status == 0, "agent output:\n\(agent.output)")
        if status == nil { agent.signal(SIGKILL) }
    }
}
