import KlimavagtCore
import KlimavagtTestSupport
import Testing

/// The cloudburst rule against the contract's semantics, with expectations worked out by hand.
@Suite("Window rules")
struct WindowRuleTests {
    let gauge = SensorSpec(id: "rain-1", unit: "mm", measure: .pulses(nanounitsPerPulse: 200_000_000))
    let start = Timestamp(rfc3339: "2011-07-02T17:00:00Z")!

    func engine(_ rules: [RuleSpec]? = nil) throws -> RuleEngine {
        try RuleEngine(site: "test", sensors: [gauge], rules: rules ?? [.cloudburst(id: "skybrud", sensor: "rain-1")],
                       makeID: { rule, seq in "\(rule)-\(seq)" })
    }

    func tips(_ count: Int, at time: Timestamp) -> Reading {
        Reading(sensor: "rain-1", time: time, value: Double(count))
    }

    @Test("exactly 15.0 mm in 30 minutes is not a cloudburst; 15.2 mm is")
    func strictlyAbove() throws {
        var engine = try engine()
        #expect(engine.ingest(tips(75, at: start)).isEmpty)
        let events = engine.ingest(tips(1, at: start + .seconds(60)))
        #expect(events.count == 1)
        let event = try #require(events.first)
        #expect(event.state == .firing)
        #expect(event.severity == .warning)
        #expect(event.value == 15.2)
        #expect(event.threshold == 15)
        #expect(event.seq == 1)
        #expect(event.windowSeconds == 1800)
        #expect(event.eventTime == start + .seconds(60))
        #expect(event.message == "Skybrud: 15.2 mm på 30 min (rain-1)")
    }

    @Test("the alert resolves at the instant the old reading leaves the window, not at the next reading")
    func resolvesAtWindowEdge() throws {
        var engine = try engine()
        _ = engine.ingest(tips(40, at: start))
        _ = engine.ingest(tips(40, at: start + .seconds(600)))
        #expect(engine.nextDeadline == start + .seconds(1800))
        #expect(engine.advance(to: start + .seconds(1799)).isEmpty)
        let events = engine.advance(to: start + .seconds(2399))
        #expect(events.count == 1)
        #expect(events[0].state == .resolved)
        #expect(events[0].eventTime == start + .seconds(1800))
        #expect(events[0].value == 8)
        #expect(events[0].severity == .warning)
        #expect(events[0].message == "Skybrud ophørt: 8.0 mm på 30 min (rain-1)")
        #expect(engine.nextDeadline == start + .seconds(2400))
    }

    @Test("severity rises and falls through severe and extreme, one event and one seq per change")
    func severities() throws {
        var engine = try engine()
        var events: [AlertEvent] = []
        events += engine.ingest(tips(80, at: start))                   // 16 mm: warning
        events += engine.ingest(tips(80, at: start + .seconds(300)))   // 32 mm: severe
        events += engine.ingest(tips(80, at: start + .seconds(600)))   // 48 mm: extreme
        events += engine.advance(to: start + .seconds(10_000))
        #expect(events.map(\.state) == [.firing, .firing, .firing, .firing, .firing, .resolved])
        #expect(events.map(\.severity) == [.warning, .severe, .extreme, .severe, .warning, .warning])
        #expect(events.map(\.seq) == [1, 2, 3, 4, 5, 6])
        #expect(events.map(\.threshold) == [15, 30, 45, 45, 30, 15])
        #expect(events.map(\.value) == [16, 32, 48, 32, 16, 0])
        #expect(events.map(\.eventTime) == [start, start + .seconds(300), start + .seconds(600),
                                            start + .seconds(1800), start + .seconds(2100), start + .seconds(2400)])
    }

    @Test("a reading arriving at the instant another leaves is judged once, on (t − W, t]")
    func sameInstant() throws {
        var engine = try engine()
        _ = engine.ingest(tips(1, at: start))
        #expect(engine.ingest(tips(75, at: start + .seconds(1))).count == 1)   // 15.2 mm
        let events = engine.ingest(tips(1, at: start + .seconds(1800)))      // first tip leaves, one arrives
        #expect(events.isEmpty)
    }

    @Test("heavy rain: more than 24 mm in 6 hours")
    func heavyRain() throws {
        var engine = try engine([.heavyRain(id: "kraftig", sensor: "rain-1")])
        var events: [AlertEvent] = []
        for hour in 0..<6 { events += engine.ingest(tips(20, at: start + .seconds(Int64(hour) * 3600))) }  // 4 mm/h
        #expect(events.isEmpty)                                                       // 24.0 mm: not above
        events += engine.ingest(tips(1, at: start + .seconds(5 * 3600 + 1800)))
        #expect(events.map(\.state) == [.firing])
        #expect(events.first?.message == "Kraftig regn: 24.2 mm på 6 t (rain-1)")
        events += engine.advance(to: start + .seconds(6 * 3600))
        #expect(events.map(\.state) == [.firing, .resolved])
        #expect(events.last?.value == 20.2)
    }

    @Test("rolling sums equal a brute-force sum at every instant of a pseudo-random tip trace")
    func bruteForce() throws {
        var engine = try engine()
        var generator = SplitMix64(seed: 2011_07_02)
        var readings: [Reading] = []
        var time = start
        for _ in 0..<3000 {
            time = time + .milliseconds(Int64(generator.next() % 40_000))
            readings.append(tips(Int(generator.next() % 3), at: time))
        }
        var severity: Severity?
        var instants = Set(readings.map(\.time))
        for reading in readings { instants.insert(reading.time + .seconds(1800)) }
        var expected: [(Timestamp, Severity?)] = []
        for instant in instants.sorted() {
            let pulses = readings.filter { $0.time > instant - .seconds(1800) && $0.time <= instant }
                .reduce(0) { $0 + Int64($1.value) }
            let mm = Double(pulses * 200_000_000) / 1e9
            let now: Severity? = mm > 45 ? .extreme : mm > 30 ? .severe : mm > 15 ? .warning : nil
            if now != severity { expected.append((instant, now)) }
            severity = now
        }
        var events: [AlertEvent] = []
        for reading in readings { events += engine.ingest(reading) }
        while let deadline = engine.nextDeadline { events += engine.advance(to: deadline) }
        #expect(events.count == expected.count)
        for (event, (instant, severity)) in zip(events, expected) {
            #expect(event.eventTime == instant)
            #expect(event.state == (severity == nil ? .resolved : .firing))
            if let severity { #expect(event.severity == severity) }
        }
        #expect(!expected.isEmpty)
    }

    @Test("a rule on an unknown sensor or a non-counting sensor is refused")
    func setupErrors() {
        #expect(throws: RuleEngine.SetupError.unknownSensor(rule: "x", sensor: "nope")) {
            try RuleEngine(site: "s", sensors: [gauge], rules: [.cloudburst(id: "x", sensor: "nope")], makeID: { _, _ in "" })
        }
        let level = SensorSpec(id: "level-1", unit: "cm", measure: .level)
        #expect(throws: RuleEngine.SetupError.notPulseCounting(rule: "x", sensor: "level-1")) {
            try RuleEngine(site: "s", sensors: [level], rules: [.cloudburst(id: "x", sensor: "level-1")], makeID: { _, _ in "" })
        }
    }
}

