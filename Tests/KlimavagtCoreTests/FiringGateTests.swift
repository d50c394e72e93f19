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

    @Test("live, a clock that jumps years ahead sends one re-notification, at the last period boundary")
    func renotifyAfterClockJump() throws {
        let level = SensorSpec(id: "level-1", unit: "cm", measure: .level, staleAfter: .some(nil))
        var rule = RuleSpec(id: "stormflod", kind: .stormSurge, sensor: "level-1", levels: SeverityLevels([.warning: 125]))
        rule.renotify = .seconds(60)
        var engine = try RuleEngine(site: "havn", sensors: [level], rules: [rule], makeID: { "\($0)-\($1)" })
        engine.renotificationCatchUp = 1   // as the live pipeline sets it
        #expect(engine.ingest(Reading(sensor: "level-1", time: at(0), value: 130)).map(\.seq) == [1])
        #expect(engine.advance(to: at(1)).map(\.eventTime) == [at(1)])   // on time: as always
        // Ten years on (a board without a clock battery that had started in 1970 would jump fifty): one event.
        let later: Int64 = 10 * 525_600 + 30
        let events = engine.advance(to: at(later) + .seconds(59))
        #expect(events.map(\.state) == [.firing])
        #expect(events.map(\.seq) == [3])
        #expect(events.first?.eventTime == at(later))
        #expect(engine.nextDeadline == at(later + 1))
        #expect(engine.advance(to: at(later + 1)).map(\.eventTime) == [at(later + 1)])
    }

    @Test("replay keeps every re-notification of a quiet stretch, and at most renotificationCatchUp of a gap of years")
    func renotifyInReplay() throws {
        let level = SensorSpec(id: "level-1", unit: "cm", measure: .level, staleAfter: .some(nil))
        var rule = RuleSpec(id: "stormflod", kind: .stormSurge, sensor: "level-1", levels: SeverityLevels([.warning: 125]))
        rule.renotify = .seconds(60)
        var engine = try RuleEngine(site: "havn", sensors: [level], rules: [rule], makeID: { "\($0)-\($1)" })
        #expect(engine.renotificationCatchUp == 10_000)
        _ = engine.ingest(Reading(sensor: "level-1", time: at(0), value: 130))
        var events = engine.advance(to: at(180))
        #expect(events.map(\.eventTime) == (1...180).map { at(Int64($0)) })
        events = engine.advance(to: at(180 + 100 * 525_600))
        #expect(events.count == 10_000)
        #expect(events.last?.eventTime == at(180 + 100 * 525_600))
        #expect(events.first?.eventTime == at(180 + 100 * 525_600 - 9_999))
        #expect(events.map(\.seq) == Array(182...10_181))
    }

    @Test("live, a re-notification catching up stops short of the sensor going stale, and of the window emptying")
    func renotifyCatchUpStopsAtOtherDeadlines() throws {
        let level = SensorSpec(id: "level-1", unit: "cm", measure: .level, staleAfter: .seconds(7200))
        var surge = RuleSpec(id: "stormflod", kind: .stormSurge, sensor: "level-1", levels: SeverityLevels([.warning: 125]))
        surge.renotify = .seconds(1800)
        let gauge = SensorSpec(id: "rain-1", unit: "mm", measure: .pulses(nanounitsPerPulse: 200_000_000))
        var burst = RuleSpec.cloudburst(id: "skybrud", sensor: "rain-1")
        burst.renotify = .seconds(600)
        var engine = try RuleEngine(site: "s", sensors: [level, gauge], rules: [surge, burst], makeID: { "\($0)-\($1)" })
        engine.renotificationCatchUp = 1
        #expect(engine.ingest(Reading(sensor: "level-1", time: at(0), value: 130)).map(\.state) == [.firing])
        #expect(engine.ingest(Reading(sensor: "rain-1", time: at(0), value: 100)).map(\.state) == [.firing])
        let events = engine.advance(to: at(1440)).map { "\($0.rule) \($0.state) \(($0.eventTime - start).wholeSeconds / 60)" }
        // The cloudburst's 30-minute window empties at 30: re-notified at 10 and 20 (caught up as one, at 20), then
        // resolved. The level re-notifies at 30, 60, 90 (caught up as one, at 90, short of going stale at 120),
        // at 120 (due at the same instant as the staleness, and handled first, as always), then nodata.
        #expect(events == ["skybrud firing 20", "skybrud resolved 30", "stormflod firing 90", "stormflod firing 120",
                           "stormflod nodata 120"])
    }

    @Test("a firing state restored at a start re-notifies with its last value before any reading has come")
    func renotifyRestoredBeforeAnyReading() throws {
        let level = SensorSpec(id: "level-1", unit: "cm", measure: .level, staleAfter: .some(nil))
        var rule = RuleSpec(id: "stormflod", kind: .stormSurge, sensor: "level-1", levels: SeverityLevels([.warning: 125]))
        rule.renotify = .seconds(1800)
        var before = try RuleEngine(site: "havn", sensors: [level], rules: [rule], makeID: { "\($0)-\($1)" })
        #expect(before.ingest(Reading(sensor: "level-1", time: at(0), value: 131)).map(\.seq) == [1])
        var engine = try RuleEngine(site: "havn", sensors: [level], rules: [rule], makeID: { "\($0)-\($1)" })
        engine.renotificationCatchUp = 1
        engine.restore(before.lifecycles)
        engine.start(at: at(10))
        #expect(engine.nextDeadline == at(30))
        let events = engine.advance(to: at(45))
        #expect(events.map(\.seq) == [2])
        #expect(events.first?.eventTime == at(30))
        #expect(events.first?.value == 131)
        #expect(engine.nextDeadline == at(60))
    }
}
