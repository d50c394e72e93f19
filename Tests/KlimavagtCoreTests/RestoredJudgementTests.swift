import KlimavagtCore
import Testing

@Suite("Window rules judged afresh after a restart")
struct RestoredJudgementTests {
    let start = Timestamp(seconds: 1_800_000_000)

    func engine() throws -> RuleEngine {
        let rain = SensorSpec(id: "rain-1", unit: "mm", measure: .pulses(nanounitsPerPulse: 200_000_000), staleAfter: .some(nil))
        return try RuleEngine(
            site: "s", sensors: [rain],
            rules: [RuleSpec(id: "skybrud", kind: .cloudburst, sensor: "rain-1", window: .seconds(1800),
                             levels: SeverityLevels([.warning: 15]))],
            makeID: { "\($0)-\($1)" })
    }

    func firing(seq: Int64) -> AlertLifecycle {
        let event = AlertEvent(id: "x", seq: seq, site: "s", rule: "skybrud", kind: .cloudburst, state: .firing,
                               severity: .warning, sensor: "rain-1", value: 16, unit: "mm", threshold: 15,
                               windowSeconds: 1800, eventTime: start, publishedAt: start, message: "Skybrud")
        return AlertLifecycle(state: .firing, severity: .warning, seq: seq, since: start, lastEvent: event)
    }

    @Test("a cloudburst restored as firing whose rain left the window while the agent was down resolves at start")
    func rainLeftDuringDowntime() throws {
        var engine = try engine()
        engine.restore(["skybrud": firing(seq: 3)])
        let now = start + .seconds(3600)
        engine.prime([Reading(sensor: "rain-1", time: start + .seconds(3000), value: 10)], now: now)   // 2 mm
        engine.start(at: now)
        let events = engine.judgeRestored(at: now)
        #expect(events.map(\.state) == [.resolved])
        #expect(events.first?.seq == 4)
        #expect(engine.judgeRestored(at: now).isEmpty)
    }

    @Test("a lost state with the window still holding a cloudburst fires at start; one that still holds stays quiet")
    func lostStateFiresAgain() throws {
        var lost = try engine()
        let now = start + .seconds(600)
        lost.prime([Reading(sensor: "rain-1", time: start + .seconds(300), value: 100)], now: now)   // 20 mm
        lost.start(at: now)
        let events = lost.judgeRestored(at: now)
        #expect(events.map(\.state) == [.firing])
        #expect(events.first?.eventTime == now)

        var kept = try engine()
        kept.restore(["skybrud": firing(seq: 1)])
        kept.prime([Reading(sensor: "rain-1", time: start + .seconds(300), value: 100)], now: now)
        kept.start(at: now)
        #expect(kept.judgeRestored(at: now).isEmpty)
    }
}
