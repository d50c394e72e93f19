import KlimavagtCore
import Testing

/// `for` (pending) and re-notification, with expectations worked out by hand.
@Suite("Pending and re-notification")
struct FiringGateTests {
    let start = Timestamp(rfc3339: "2024-10-20T00:00:00Z")!

    func at(_ minutes: Int64) -> Timestamp { start + .seconds(minutes * 60) }

    @Test("a storm surge with for: 10m fires only if the level stays up, and re-notifies every 30 minutes")
    func levelRule() throws {
        let level = SensorSpec(id: "level-1", unit: "cm", measure: .level, staleAfter: .some(nil))
        var rule = RuleSpec(id: "stormflod", kind: .stormSurge, sensor: "level-1", levels: SeverityLevels([.warning: 125]))
        rule.pendingFor = .seconds(600)
        rule.renotify = .seconds(1800)
        var engine = try RuleEngine(site: "havn", sensors: [level], rules: [rule], makeID: { "\($0)-\($1)" })
        func read(_ minutes: Int64, _ value: Double) -> [AlertEvent] {
            engine.ingest(Reading(sensor: "level-1", time: at(minutes), value: value))
        }
        #expect(read(0, 126).isEmpty)
        #expect(engine.lifecycles["stormflod"]?.state == .pending)
        #expect(read(5, 124).isEmpty)                                  // fell back before 10 minutes: no alert
        #expect(engine.lifecycles["stormflod"]?.state == .inactive)
        #expect(read(10, 130).isEmpty)
        #expect(read(15, 131).isEmpty)
        #expect(engine.nextDeadline == at(20))
        var events = engine.advance(to: at(20))
        #expect(events.map(\.state) == [.firing])
        #expect(events.map(\.seq) == [1])
        #expect(events.first?.eventTime == at(20))
        #expect(events.first?.value == 131)
        #expect(read(40, 128).isEmpty)
        events = engine.advance(to: at(55))
        #expect(events.map(\.state) == [.firing])                     // re-notified 30 minutes after the last event
        #expect(events.map(\.seq) == [2])
        #expect(events.first?.eventTime == at(50))
        #expect(events.first?.value == 128)
        events = read(60, 100)
        #expect(events.map(\.state) == [.resolved])
        #expect(events.map(\.seq) == [3])
        #expect(engine.nextDeadline == nil)
    }

    @Test("a cloudburst with for: 5m fires at the end of for, with the sum at that instant")
    func windowRule() throws {
        let gauge = SensorSpec(id: "rain-1", unit: "mm", measure: .pulses(nanounitsPerPulse: 200_000_000))
        var rule = RuleSpec.cloudburst(id: "skybrud", sensor: "rain-1")
        rule.pendingFor = .seconds(300)
        var engine = try RuleEngine(site: "s", sensors: [gauge], rules: [rule], makeID: { "\($0)-\($1)" })
        #expect(engine.ingest(Reading(sensor: "rain-1", time: at(0), value: 80)).isEmpty)
        #expect(engine.ingest(Reading(sensor: "rain-1", time: at(2), value: 1)).isEmpty)
        var events = engine.advance(to: at(10))
        #expect(events.map(\.state) == [.firing])
        #expect(events.first?.eventTime == at(5))
        #expect(events.first?.value == 16.2)
        events = engine.advance(to: at(40))
        #expect(events.map(\.state) == [.resolved])
        #expect(events.first?.eventTime == at(30))
    }
}
