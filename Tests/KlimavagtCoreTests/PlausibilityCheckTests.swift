import KlimavagtCore
import Testing

@Suite("Plausibility of readings")
struct PlausibilityCheckTests {
    func run(_ limits: Plausibility, _ values: [Double], every seconds: Int64 = 60) -> [PlausibilityCheck.Verdict] {
        var check = PlausibilityCheck(limits)
        return values.enumerated().map { index, value in
            let judged = check.judge(Reading(sensor: "l", time: Timestamp(seconds: Int64(index) * seconds), value: value))
            #expect(judged.reading.suspect == (judged.verdict != .ok))
            return judged.verdict
        }
    }

    @Test("a single-sample spike is suspect; the readings around it are not")
    func spike() {
        #expect(run(.init(maximumStep: 20), [100, 102, 180, 103, 104]) == [.ok, .ok, .spike, .ok, .ok])
    }

    @Test("a step that the next reading confirms is a real change from its second reading on")
    func confirmedStep() {
        #expect(run(.init(maximumStep: 20), [100, 150, 152, 155]) == [.ok, .spike, .ok, .ok])
    }

    @Test("readings outside the range are suspect and do not become the reference for steps")
    func range() {
        #expect(run(.init(minimum: 0, maximum: 400, maximumStep: 20), [100, -5, 101, 900, 102])
            == [.ok, .outOfRange, .ok, .outOfRange, .ok])
    }

    @Test("a value repeated exactly for the flat-line time is suspect until it changes")
    func flatline() {
        let verdicts = run(.init(flatline: .seconds(180)), [50, 50, 50, 50, 50, 51, 51], every: 60)
        #expect(verdicts == [.ok, .ok, .ok, .flatline, .flatline, .ok, .ok])
    }

    @Test("no limits, no verdicts")
    func none() {
        #expect(run(.init(), [1, 1e9, -1e9, .infinity]).allSatisfy { $0 == .ok })
    }
}
