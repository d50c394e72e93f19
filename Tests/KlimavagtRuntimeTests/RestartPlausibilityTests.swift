import Foundation
@testable import KlimavagtRuntime
import KlimavagtCore
import KlimavagtMQTT
import Logging
import Testing

/// What the plausibility check and the staleness clock knew survives a restart, through the store.
@Suite("Plausibility across a restart")
struct RestartPlausibilityTests {
    struct FixedClock: AgentClock {
        let time: Timestamp
        func now() -> Timestamp { time }
        func wallTime(for duration: Duration) -> Duration { duration }
    }

    @Test("a jump of 120 to 208 cm is a spike as the first reading after a restart, as it is within one run")
    func spikeAfterRestart() throws {
        let folder = NSTemporaryDirectory() + "klimavagt-restart-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/agent.yaml"
        try """
            site: harbour
            sensors:
              - id: level-1
                unit: cm
                plausible: {min: -100, max: 400, max_step: 30}
            rules:
              - {id: surge, kind: storm_surge, sensor: level-1, levels: {warning: 125, severe: 150, extreme: 175}}
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let configuration = try ConfigurationLoader.load(file)
        let logger = Logger(label: "test")
        let start = Timestamp(seconds: 1_800_000_000)
        func pipeline(at time: Timestamp, store: TimeSeriesStore) throws -> Pipeline {
            let client = try MQTTClient(configuration.mqtt)
            let outbox = Outbox(client: client, prefix: configuration.prefix, clock: FixedClock(time: time),
                                logger: logger, ledger: try AlertLedger(stateDirectory: nil, logger: logger))
            return try Pipeline(configuration: configuration, clock: FixedClock(time: time), outbox: outbox,
                                logger: logger, store: store)
        }
        let store = try TimeSeriesStore(directory: folder + "/state", logger: logger) { sensor in
            SeriesConfiguration(id: sensor, rawBytes: 4096, isCount: false)
        }
        let before = try pipeline(at: start + .seconds(120), store: store)
        before.ingest([Reading(sensor: "level-1", time: start, value: 119),
                       Reading(sensor: "level-1", time: start + .seconds(60), value: 120)])
        before.stop()
        // The restart: a new pipeline on the same store, a minute later.
        let after = try pipeline(at: start + .seconds(180), store: store)
        after.ingest(Reading(sensor: "level-1", time: start + .seconds(180), value: 208))
        let snapshot = after.statusSnapshot
        #expect(snapshot.readings["level-1"]?.verdict == .spike)
        #expect(snapshot.lifecycles["surge"]?.state != .firing)
        after.stop()
        store.close()
    }
}
