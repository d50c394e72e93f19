import KlimavagtCore
import Testing

@Suite("The next stale deadline, kept incrementally")
struct StaleDeadlineTests {
    @Test("among many sensors read in a pseudo-random order, the next deadline is always the brute-force earliest")
    func matchesBruteForce() throws {
        let ids = (0..<12).map { "level-\($0)" }
        let sensors = ids.enumerated().map { index, id in
            SensorSpec(id: id, unit: "cm", measure: .level, staleAfter: .seconds(Int64(60 + index * 7)))
        }
        let rules = ids.map { RuleSpec(id: "stale-\($0)", kind: .stale, sensor: $0, levels: SeverityLevels([:])) }
        var engine = try RuleEngine(site: "s", sensors: sensors, rules: rules, makeID: { "\($0)-\($1)" })
        let start = Timestamp(seconds: 1_000_000)
        engine.start(at: start)
        var last = Dictionary(uniqueKeysWithValues: ids.map { ($0, start) })
        var stale: Set<String> = []
        var time = start
        var seed: UInt64 = 42
        for _ in 0..<3000 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let index = Int((seed >> 33) % UInt64(ids.count * 2))   // half the draws pick nobody: sensors go stale
            time = time + .seconds(Int64(1 + (seed >> 40) % 20))
            // Deadlines before this instant pass first, as the live timer would make them.
            while let deadline = engine.nextDeadline, deadline < time {
                _ = engine.advance(to: deadline)
                for (offset, id) in ids.enumerated() where !stale.contains(id)
                    && last[id]! + .seconds(Int64(60 + offset * 7)) <= deadline
                {
                    stale.insert(id)
                }
            }
            if index < ids.count {
                _ = engine.ingest(Reading(sensor: ids[index], time: time, value: 100))
                last[ids[index]] = time
                stale.remove(ids[index])
            }
            let expected = ids.enumerated().filter { !stale.contains($0.element) }
                .map { last[$0.element]! + .seconds(Int64(60 + $0.offset * 7)) }.min()
            #expect(engine.nextDeadline == expected)
            if engine.nextDeadline != expected { return }
        }
    }
}
