import Foundation
import KlimavagtCore
@testable import KlimavagtRuntime
import KlimavagtSystem
import Logging
import KlimavagtTestSupport
import Testing

/// The pipeline in process, against a queue that records what it is handed (no broker, no journal, no store): what
/// goes out at start, where a reading goes, what is refused, and an alert resolving on time alone.
@Suite("Pipeline routing")
struct PipelineRoutingTests {
    final class RecordingQueue: OutboxQueue {
        private let recorded = Locked<[Outbox.Message]>([])
        func enqueue(_ message: Outbox.Message) { recorded.withLock { $0.append(message) } }
        /// What was handed over, as `alert RULE STATE`, `state TOPIC` (a rule's state) or `retained TOPIC`.
        var lines: [String] {
            recorded.withLock { messages in
                messages.map {
                    switch $0 {
                    case .alert(let event, _): "alert \(event.rule) \(event.state.rawValue)"
                    case .alertState(let topic, _): "state \(topic)"
                    case .retained(let topic, _): "retained \(topic)"
                    }
                }
            }
        }
        func removeAll() { recorded.withLock { $0.removeAll() } }
    }

    final class SettableClock: AgentClock, Sendable {
        private let time: Locked<Timestamp>
        init(_ time: Timestamp) { self.time = Locked(time) }
        func now() -> Timestamp { time.withLock { $0 } }
        func set(_ newTime: Timestamp) { time.withLock { $0 = newTime } }
        func wallTime(for duration: Duration) -> Duration { min(duration, .milliseconds(10)) }
    }

    static let start = Timestamp(seconds: 1_800_000_000)

    /// A rain gauge with a 60 s cloudburst rule of 1 mm, and a level with a threshold; no discovery.
    func pipeline(clock: SettableClock, queue: RecordingQueue,
                  restored: [String: AlertLifecycle] = [:]) throws -> Pipeline
    {
        let text = """
            site: test
            home_assistant: {discovery: false}
            sensors:
              - {id: rain-1, device: rimco-0.2mm, stale_after: never}
              - {id: level-1, unit: cm, stale_after: never}
            rules:
              - {id: burst, kind: cloudburst, sensor: rain-1, window: 60s, levels: {warning: 1}}
              - {id: high, kind: threshold, sensor: level-1, levels: {warning: 100}}
            """
        let configuration = try RuleConfigurationTests.load(text)
        return try Pipeline(configuration: configuration, clock: clock, outbox: queue, restored: restored,
                            logger: Logger(label: "test"), telemetryInterval: .zero)
    }

    @Test("at start every rule's inactive state goes out, in configuration order, once")
    func startStates() throws {
        let queue = RecordingQueue()
        let pipeline = try pipeline(clock: SettableClock(Self.start), queue: queue)
        pipeline.start()
        pipeline.start()
        #expect(queue.lines == ["state klimavagt/test/alerts/burst/state", "state klimavagt/test/alerts/high/state"])
        pipeline.stop()
    }

    @Test("a reading goes to its rules and to its sensor's state; an alert event goes out before the state")
    func readingRoutes() throws {
        let queue = RecordingQueue()
        let clock = SettableClock(Self.start)
        let pipeline = try pipeline(clock: clock, queue: queue)
        pipeline.start()
        queue.removeAll()
        #expect(pipeline.ingest(Reading(sensor: "level-1", time: Self.start, value: 99)) == nil)
        #expect(queue.lines == ["retained klimavagt/test/sensors/level-1/state"])
        queue.removeAll()
        pipeline.ingest(Reading(sensor: "level-1", time: Self.start + .seconds(1), value: 101))
        #expect(queue.lines == ["alert high firing", "retained klimavagt/test/sensors/level-1/state"])
        #expect(pipeline.recentEvents.map(\.rule) == ["high"])
        pipeline.stop()
    }

    @Test("refused readings go nowhere: a value past the limits, a negative pulse count, an unknown sensor")
    func refusals() throws {
        let queue = RecordingQueue()
        let pipeline = try pipeline(clock: SettableClock(Self.start), queue: queue)
        pipeline.start()
        queue.removeAll()
        #expect(pipeline.ingest(Reading(sensor: "level-1", time: Self.start, value: 2e15)) != nil)
        #expect(pipeline.ingest(Reading(sensor: "rain-1", time: Self.start, value: -1)) != nil)
        #expect(pipeline.ingest(Reading(sensor: "nobody", time: Self.start, value: 1)) == nil)
        #expect(queue.lines.isEmpty)
        #expect(pipeline.statusSnapshot.readings.isEmpty)
        pipeline.stop()
    }

    @Test("a cloudburst resolves when its rain leaves the window, on the pipeline's own timer",
          .timeLimit(.minutes(TestTiming.minutes(1))))
    func resolvesOnTime() async throws {
        let queue = RecordingQueue()
        let clock = SettableClock(Self.start)
        let pipeline = try pipeline(clock: clock, queue: queue)
        pipeline.start()
        // Five tips of 0.2 mm: 1.0 mm is not more than 1; the sixth makes it.
        for tip in 0..<6 {
            pipeline.ingest(Reading(sensor: "rain-1", time: Self.start + .seconds(Int64(tip)), value: 1))
        }
        #expect(pipeline.recentEvents.map(\.state) == [.firing])
        // The first tip leaves the window 60 s after it: the clock moves there and the timer resolves the rule.
        clock.set(Self.start + .seconds(60))
        _ = await eventually(10, every: .milliseconds(10)) { pipeline.recentEvents.count >= 2 }
        #expect(pipeline.recentEvents.map(\.state) == [.firing, .resolved])
        #expect(pipeline.recentEvents.last?.eventTime == Self.start + .seconds(60))
        pipeline.stop()
    }

    @Test("a lifecycle restored as firing is published again at start with its own since, not as inactive")
    func restoredState() throws {
        let firstQueue = RecordingQueue()
        let first = try pipeline(clock: SettableClock(Self.start), queue: firstQueue)
        first.ingest(Reading(sensor: "level-1", time: Self.start, value: 150))
        let lifecycles = first.statusSnapshot.lifecycles
        first.stop()
        #expect(lifecycles["high"]?.state == .firing)

        let queue = RecordingQueue()
        let later = Self.start + .seconds(3600)
        let pipeline = try pipeline(clock: SettableClock(later), queue: queue, restored: lifecycles)
        pipeline.start()
        #expect(queue.lines == ["state klimavagt/test/alerts/burst/state", "state klimavagt/test/alerts/high/state"])
        #expect(pipeline.statusSnapshot.lifecycles["high"]?.seq == lifecycles["high"]?.seq)
        #expect(pipeline.recentEvents.isEmpty)
        pipeline.stop()
    }
}
