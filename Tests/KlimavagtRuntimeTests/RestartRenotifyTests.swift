import Foundation
@testable import KlimavagtRuntime
import KlimavagtCore
import KlimavagtMQTT
import Logging
import KlimavagtTestSupport
import Testing

/// A rule that was firing with `renotify` when the agent stopped, started again much later: the pipeline neither
/// hangs (the timer of a restored state that has judged no reading yet once never moved on) nor sends one event for
/// every period it was down.
@Suite("Re-notification across a restart")
struct RestartRenotifyTests {
    final class SettableClock: AgentClock, @unchecked Sendable {
        private let lock = NSLock()
        private var time: Timestamp   // guarded by `lock`
        init(_ time: Timestamp) { self.time = time }
        func now() -> Timestamp { lock.withLock { time } }
        func set(_ newTime: Timestamp) { lock.withLock { time = newTime } }
        func wallTime(for duration: Duration) -> Duration { min(duration, .milliseconds(20)) }
    }

    @Test("a firing state restored a year later re-notifies once, and the pipeline keeps answering",
          .timeLimit(.minutes(TestTiming.minutes(1))))
    func restoredFiringRenotifiesOnce() async throws {
        let folder = NSTemporaryDirectory() + "klimavagt-renotify-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder + "/state", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/agent.yaml"
        try """
            site: harbour
            sensors:
              - {id: level-1, unit: cm, stale_after: never}
            rules:
              - {id: surge, kind: storm_surge, sensor: level-1, levels: {warning: 125}, renotify: 10m}
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let configuration = try ConfigurationLoader.load(file)
        let logger = Logger(label: "test")
        let start = Timestamp(seconds: 1_800_000_000)
        let clock = SettableClock(start)
        func pipeline() throws -> (Pipeline, Outbox) {
            let client = try MQTTClient(configuration.mqtt)
            let outbox = Outbox(client: client, prefix: configuration.prefix, clock: clock, logger: logger,
                                ledger: try AlertLedger(stateDirectory: folder + "/state", logger: logger))
            return (try Pipeline(configuration: configuration, clock: clock, outbox: outbox,
                                 restored: outbox.ledger.lifecycles, logger: logger,
                                 stateDirectory: folder + "/state"), outbox)
        }
        let (before, firstOutbox) = try pipeline()
        before.start()
        before.ingest(Reading(sensor: "level-1", time: start, value: 131))
        #expect(before.recentEvents.map(\.seq) == [1])
        before.stop()
        firstOutbox.finish()

        // A year later, with the rule still firing in the journal: due 10 minutes after its last event, long past.
        clock.set(start + .seconds(365 * 86_400))
        let (after, secondOutbox) = try pipeline()
        #expect(secondOutbox.ledger.lifecycles["surge"]?.state == .firing)
        after.start()
        // The timer fires at once; wait at most 10 s for it.
        _ = await eventually(10, every: .milliseconds(20)) { !after.recentEvents.isEmpty }
        let events = after.recentEvents
        #expect(after.answers(within: .seconds(1)))
        #expect(events.map(\.state) == [.firing])
        #expect(events.map(\.seq) == [2])
        #expect(events.first?.value == 131)
        // The last period boundary before now: 52 560 periods of 10 minutes in the year.
        #expect(events.first?.eventTime == start + .seconds(365 * 86_400))
        // On time from then on: the next one, 10 minutes later, alone.
        clock.set(start + .seconds(365 * 86_400 + 600))
        _ = await eventually(10, every: .milliseconds(20)) { after.recentEvents.count >= 2 }
        #expect(after.recentEvents.map(\.seq) == [2, 3])
        after.stop()
        secondOutbox.finish()
    }
}
