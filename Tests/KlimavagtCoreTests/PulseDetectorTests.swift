import KlimavagtCore
import Testing

/// A fake chip: the edges a reed contact produces, with bounce, as the kernel would timestamp them.
struct FakeChip {
    var edges: [(active: Bool, at: Int64)] = []
    var now: Int64 = 1_000_000_000

    /// One tip: the contact closes with `bounces` short bounces, stays closed `heldMs`, and opens with bounce too.
    mutating func tip(heldMs: Int64, bounces: Int, bounceMicros: Int64 = 200, gapMs: Int64 = 500) {
        for _ in 0..<bounces {
            edges.append((true, now)); now += bounceMicros * 1000
            edges.append((false, now)); now += bounceMicros * 1000
        }
        edges.append((true, now)); now += heldMs * 1_000_000
        edges.append((false, now))
        for _ in 0..<bounces {
            now += bounceMicros * 1000; edges.append((true, now))
            now += bounceMicros * 1000; edges.append((false, now))
        }
        now += gapMs * 1_000_000
    }
}

@Suite("Pulse detection by width")
struct PulseDetectorTests {
    @Test("bouncing reed contacts count exactly one pulse per tip")
    func bounce() {
        var chip = FakeChip()
        for index in 0..<50 { chip.tip(heldMs: 60 + Int64(index % 5) * 20, bounces: index % 4, bounceMicros: 100 + Int64(index % 3) * 100) }
        var detector = PulseDetector(minimumWidth: .milliseconds(10), maximumWidth: .seconds(1))
        var accepted = 0, rejected = 0
        for edge in chip.edges {
            switch detector.edge(active: edge.active, at: edge.at) {
            case .accepted: accepted += 1
            case .tooShort, .tooLong: rejected += 1
            case .pending: break
            }
        }
        #expect(accepted == 50)
        #expect(rejected == (0..<50).reduce(0) { $0 + 2 * ($1 % 4) })
    }

    @Test("a contact held longer than the maximum is not a pulse")
    func stuck() {
        var detector = PulseDetector(minimumWidth: .milliseconds(10), maximumWidth: .seconds(1))
        #expect(detector.edge(active: true, at: 0) == .pending)
        #expect(detector.edge(active: false, at: 2_000_000_000) == .tooLong(start: 0, width: 2_000_000_000))
        #expect(detector.edge(active: false, at: 3_000_000_000) == .pending)
        #expect(detector.edge(active: true, at: 4_000_000_000) == .pending)
        #expect(detector.edge(active: false, at: 4_050_000_000) == .accepted(start: 4_000_000_000, width: 50_000_000))
    }

    @Test("an edge named like the one before it (the kernel read the level late) still closes the pulse once")
    func misnamedEdges() {
        var detector = PulseDetector(minimumWidth: .milliseconds(10), maximumWidth: .seconds(1))
        let ms: Int64 = 1_000_000
        // A 60 ms tip whose falling edge, followed at once by opening bounce, is reported as rising.
        let reported: [(Bool, Int64)] = [(true, 0), (true, 60 * ms), (true, 60 * ms + 200_000), (false, 60 * ms + 400_000),
                                         (false, 61 * ms)]
        let outcomes = reported.map { detector.edge(active: $0.0, at: $0.1) }
        #expect(outcomes.filter { if case .accepted = $0 { true } else { false } }.count == 1)
        #expect(outcomes[1] == .accepted(start: 0, width: 60 * ms))
    }
}
