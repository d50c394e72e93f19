import KlimavagtCore
import Testing

@Suite("A nodata event carries a finite value that the journal can keep")
struct NoDataValueTests {
    let start = Timestamp(seconds: 1_700_000_000)

    func engine() throws -> RuleEngine {
        let level = SensorSpec(id: "level-1", unit: "cm", measure: .level, staleAfter: .some(.seconds(600)))
        return try RuleEngine(
            site: "s", sensors: [level],
            rules: [RuleSpec(id: "flood", kind: .stormSurge, sensor: "level-1",
                             levels: SeverityLevels([.warning: 125, .severe: 150]))],
            makeID: { "\($0)-\($1)" })
    }

    @Test("a rule whose sensor never reported goes nodata with value 0 and says there is no reading")
    func neverReported() throws {
        var engine = try engine()
        engine.start(at: start)
        let events = engine.advance(to: start + .seconds(601))
        let event = try #require(events.first { $0.rule == "flood" })
        #expect(event.state == .nodata)
        #expect(event.value == 0)
        #expect(event.message == "Stormflod: ingen data: ingen måling endnu (level-1)")
    }

    @Test("a rule that judged readings goes nodata with the last one it judged")
    func lastJudged() throws {
        var engine = try engine()
        engine.start(at: start)
        _ = engine.ingest(Reading(sensor: "level-1", time: start + .seconds(10), value: 131.5), arrival: start + .seconds(10))
        let events = engine.advance(to: start + .seconds(611))
        let event = try #require(events.first { $0.state == .nodata })
        #expect(event.value == 131.5)
        #expect(event.message == "Stormflod: ingen data: 131.5 cm (level-1)")
        #expect(event.severity == .warning)
    }
}
