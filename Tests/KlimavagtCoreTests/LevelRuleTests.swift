import KlimavagtCore
import Testing

@Suite("Level rules")
struct LevelRuleTests {
    let level = SensorSpec(id: "level-1", unit: "cm", measure: .level, staleAfter: .some(nil))
    let start = Timestamp(rfc3339: "2024-10-20T00:00:00Z")!

    func engine(_ rule: RuleSpec) throws -> RuleEngine {
        try RuleEngine(site: "havn", sensors: [level], rules: [rule], makeID: { "\($0)-\($1)" })
    }

    func reading(_ minutes: Int64, _ value: Double, suspect: Bool = false) -> Reading {
        Reading(sensor: "level-1", time: start + .seconds(minutes * 60), value: value, suspect: suspect)
    }

    @Test("a suspect spike never fires a storm surge; the same value unmarked does")
    func suspectIgnored() throws {
        var engine = try engine(RuleSpec(id: "stormflod", kind: .stormSurge, sensor: "level-1",
                                         levels: SeverityLevels([.warning: 125])))
        #expect(engine.ingest(reading(0, 100)).isEmpty)
        #expect(engine.ingest(reading(1, 400, suspect: true)).isEmpty)
        #expect(engine.ingest(reading(2, 101)).isEmpty)
        #expect(engine.ingest(reading(3, 126)).map(\.state) == [.firing])
    }

    @Test("exactly at the level is not above it; hold 0 resolves at the first reading below the band")
    func strictAndHoldZero() throws {
        var engine = try engine(RuleSpec(id: "stormflod", kind: .stormSurge, sensor: "level-1",
                                         levels: SeverityLevels([.warning: 125]), hysteresis: 5))
        #expect(engine.ingest(reading(0, 125)).isEmpty)
        #expect(engine.ingest(reading(1, 125.5)).map(\.state) == [.firing])
        #expect(engine.ingest(reading(2, 120.1)).isEmpty)
        let events = engine.ingest(reading(3, 120))
        #expect(events.map(\.state) == [.resolved])
        #expect(events.first?.threshold == 125)
    }

    @Test("a threshold rule with direction below fires as the value falls and resolves as it rises")
    func below() throws {
        var engine = try engine(RuleSpec(id: "pumper", kind: .threshold, sensor: "level-1",
                                         levels: SeverityLevels([.warning: 50, .severe: 20]), below: true))
        #expect(engine.ingest(reading(0, 60)).isEmpty)
        let warning = engine.ingest(reading(1, 49))
        #expect(warning.map(\.severity) == [.warning])
        #expect(warning.first?.threshold == 50)
        let severe = engine.ingest(reading(2, 10))
        #expect(severe.map(\.severity) == [.severe])
        #expect(severe.first?.threshold == 20)
        #expect(engine.ingest(reading(3, 30)).map(\.severity) == [.warning])
        #expect(engine.ingest(reading(4, 50)).map(\.state) == [.resolved])
    }

    @Test("a hold longer than the gap between readings waits for a later reading")
    func holdCountsToLaterReading() throws {
        var engine = try engine(RuleSpec(id: "stormflod", kind: .stormSurge, sensor: "level-1",
                                         levels: SeverityLevels([.warning: 125]), hold: .seconds(600)))
        _ = engine.ingest(reading(0, 130))
        #expect(engine.ingest(reading(1, 120)).isEmpty)
        #expect(engine.ingest(reading(10, 120)).isEmpty)
        let events = engine.ingest(reading(11, 121))
        #expect(events.map(\.state) == [.resolved])
        #expect(events.first?.eventTime == start + .seconds(660))
    }
}
