import Foundation
import KlimavagtCore
import KlimavagtMQTT
@testable import KlimavagtRuntime
import KlimavagtSystem
import KlimavagtTestSupport
import Logging
import Testing

/// The outbox in process: its journal across a restart, its order on the way to a real broker, its telemetry quota.
@Suite("Outbox")
struct OutboxTests {
    struct FixedClock: AgentClock {
        let time: Timestamp
        func now() -> Timestamp { time }
        func wallTime(for duration: Duration) -> Duration { duration }
    }

    static let start = Timestamp(seconds: 1_800_000_000)

    static func event(_ seq: Int64, _ state: AlertState) -> AlertEvent {
        AlertEvent(id: "id-\(seq)", seq: seq, site: "t", rule: "surge", kind: .stormSurge, state: state,
                   severity: .warning, sensor: "level-1", value: 130, unit: "cm", threshold: 125, windowSeconds: nil,
                   eventTime: start + .seconds(seq), publishedAt: nil, message: "Stormflod: 130.0 cm (level-1)")
    }

    /// An outbox on `port` (nothing need listen there) with its journal in `folder`.
    static func outbox(port: Int, folder: String, telemetryQuota: Int = 1000) throws -> (Outbox, MQTTClient) {
        let client = try MQTTClient(MQTTOptions(port: port, clientID: "outbox-\(UUID().uuidString.prefix(8))"))
        let logger = Logger(label: "test")
        let outbox = Outbox(client: client, prefix: "klimavagt/t", clock: FixedClock(time: start), logger: logger,
                            ledger: try AlertLedger(stateDirectory: folder, logger: logger),
                            telemetryQuota: telemetryQuota)
        return (outbox, client)
    }

    @Test("events journalled with no broker come back after a restart, go out in order each before its state, and are not sent again",
          .timeLimit(.minutes(TestTiming.minutes(1))))
    func journalOrderAndRecovery() async throws {
        let folder = NSTemporaryDirectory() + "klimavagt-outbox-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let broker = try MosquittoBroker()
        defer { broker.stop() }

        // No broker where the first outbox looks: three events wait in its journal when it goes.
        let (first, firstClient) = try Self.outbox(port: try MosquittoBroker.freePort(), folder: folder)
        for (seq, state) in [(Int64(1), AlertState.firing), (2, .firing), (3, .resolved)] {
            first.enqueue(.alert(Self.event(seq, state), since: Self.start))
        }
        #expect(first.depth.alerts == 3)
        firstClient.close()

        // The restart: the journal gives the rule's lifecycle and the three events, in order.
        let (second, client) = try Self.outbox(port: broker.port, folder: folder)
        #expect(second.ledger.lifecycles["surge"]?.seq == 3)
        #expect(second.ledger.lifecycles["surge"]?.state == .resolved)
        #expect(second.depth.alerts == 3)

        let watcher = try MQTTClient(MQTTOptions(port: broker.port, clientID: "outbox-watch"))
        defer { watcher.close() }
        try await watcher.connect()
        try await watcher.subscribe("klimavagt/t/alerts/#", qos: .atLeastOnce)
        let received = Locked<[String]>([])
        let reader = Task {
            for await message in watcher.messages {
                let seq = (try? JSONSerialization.jsonObject(with: Data(message.payload)) as? [String: Any])?["seq"]
                received.withLock { $0.append("\(message.topic.split(separator: "/").last!) \(seq ?? "?")") }
            }
        }
        defer { reader.cancel() }
        try await client.connect()
        let delivery = Task { try await second.run() }
        try #require(await eventually(20, every: .milliseconds(20)) { received.withLock { $0.count } >= 6 },
                     "the three events and their states delivered")
        #expect(received.withLock { $0 } == ["event 1", "state 1", "event 2", "state 2", "event 3", "state 3"])
        // The watcher may have the last state before the outbox has the broker's PUBACK of it.
        #expect(await eventually(10) { second.depth.alerts == 0 })
        second.finish()
        try await delivery.value
        client.close()

        // Acknowledged: a third start finds nothing to send and the same lifecycle.
        let (third, thirdClient) = try Self.outbox(port: broker.port, folder: folder)
        defer { thirdClient.close() }
        #expect(third.depth.alerts == 0)
        #expect(third.ledger.lifecycles["surge"]?.seq == 3)
    }

    @Test("telemetry over the quota drops the oldest and counts it; alert events are never dropped")
    func telemetryQuota() throws {
        let folder = NSTemporaryDirectory() + "klimavagt-outbox-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (outbox, client) = try Self.outbox(port: try MosquittoBroker.freePort(), folder: folder, telemetryQuota: 3)
        defer { client.close() }
        for index in 0..<5 {
            outbox.enqueue(.retained(topic: "klimavagt/t/sensors/level-1/state", payload: "{\"n\":\(index)}"))
        }
        for seq in 1...5 { outbox.enqueue(.alert(Self.event(Int64(seq), .firing), since: Self.start)) }
        let depth = outbox.depth
        #expect(depth.telemetry == 3)
        #expect(depth.droppedTelemetry == 2)
        #expect(depth.alerts == 5)
    }
}
