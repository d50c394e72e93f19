@testable import KlimavagtCore
import PropertyBased
import Testing

/// Numbers from outside are refused outside `Limits`, and nothing near or past the ends of `Int64` traps.
@Suite("Ranges of outside values")
struct LimitsTests {
    let newYork = { @Sendable (civil: Int64) -> Int64? in civil + 5 * 3600 }

    @Test("RFC 3339 times are accepted from 1900 to 2099 and refused outside, at any offset")
    func timeRange() {
        #expect(Timestamp(rfc3339: "1900-01-01T00:00:00Z") == Limits.earliestTime)
        #expect(Timestamp(rfc3339: "2099-12-31T23:59:59.999999999Z")?.nanoseconds == Limits.latestTime.nanoseconds - 1)
        for text in ["1899-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "2263-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                     "0000-01-01T00:00:00Z", "2099-12-31T23:00:00-05:00", "1900-01-01T00:30:00+01:00"] {
            #expect(Timestamp(rfc3339: text) == nil, "\(text)")
        }
    }

    @Test("time arithmetic saturates at the ends of Int64 instead of trapping")
    func saturation() {
        let latest = Timestamp(nanoseconds: .max), earliest = Timestamp(nanoseconds: .min)
        #expect((latest + .seconds(1)).nanoseconds == .max)
        #expect((earliest - .seconds(1)).nanoseconds == .min)
        #expect((latest - earliest) == .nanoseconds(Int64.max))
        #expect((earliest - latest) == .nanoseconds(Int64.min))
        #expect(Timestamp(seconds: .max).nanoseconds == .max)
        #expect(Timestamp(seconds: .min, nanoseconds: -1).nanoseconds == .min)
        #expect(Duration.seconds(Int64.max).nanosecondsClamped == .max)
        #expect(latest.rfc3339.hasPrefix("2262-04-11"))
        #expect(earliest.rfc3339.hasPrefix("1677-09-21"))
    }

    @Test("payload times and values outside the ranges are refused with a reason, not trapped on",
          arguments: [
            (#"{"Time":"2263-01-01T00:00:00","ENERGY":{"Power":1}}"#, "bad_time"),
            (#"{"Time":"2024-01-01T00:00:00","ENERGY":{"Power":1e18}}"#, "out_of_range"),
            (#"{"Time":"2024-01-01T00:00:00","ENERGY":{"Power":-1e16}}"#, "out_of_range"),
            (#"{"Time":"2024-01-01T00:00:00","ENERGY":{"Power":1e308}}"#, "out_of_range"),
            (#"{"Time":"2024-01-01T00:00:00","ENERGY":{"Power":1e309}}"#, "not_a_number"),
          ])
    func payloads(payload: String, reason: String) {
        let mapping = PayloadMapping(value: JSONPath("ENERGY.Power")!, time: (JSONPath("Time")!, .local(toUTC: newYork)))
        let result = mapping.reading(sensor: "p", payload: Array(payload.utf8), arrival: Timestamp(seconds: 0))
        guard case .failure(let rejection) = result else {
            Issue.record("accepted \(payload)")
            return
        }
        #expect(rejection.reason == reason)
    }

    @Test("Unix times in seconds and milliseconds outside 1900–2099 are refused", arguments: [
        1e11, -1e11, 9.3e9, 4.2e9, 1e300, -2.3e9,
    ])
    func unixTimes(seconds: Double) {
        let inSeconds = PayloadMapping(value: JSONPath("v")!, time: (JSONPath("t")!, .unixSeconds))
        let inMillis = PayloadMapping(value: JSONPath("v")!, time: (JSONPath("t")!, .unixMilliseconds))
        for (mapping, number) in [(inSeconds, seconds), (inMillis, seconds * 1000)] {
            let payload = Array(#"{"v":1,"t":\#(number)}"#.utf8)
            guard case .failure(let rejection) = mapping.reading(sensor: "s", payload: payload, arrival: .init(seconds: 0))
            else {
                Issue.record("accepted \(number)")
                continue
            }
            #expect(rejection.reason == "out_of_range")
        }
    }

    @Test("an alert message formats any value, huge and non-finite ones included")
    func alertMessage() {
        #expect(AlertMessage.decimal(1e18) == "1e+18")
        #expect(AlertMessage.decimal(-9.3e17) == "-9.3e+17")
        #expect(AlertMessage.decimal(.infinity) == "inf")
        #expect(AlertMessage.decimal(12.34) == "12.3")
        #expect(AlertMessage.decimal(-0.05) == "-0.1")
    }

    @Test("the engine refuses readings that would trap: pulse counts past 1e9, values past 1e15, times outside")
    func engineRefusals() throws {
        let rain = SensorSpec(id: "rain", unit: "mm", measure: .pulses(nanounitsPerPulse: 200_000_000))
        let level = SensorSpec(id: "level", unit: "cm", measure: .level)
        var engine = try RuleEngine(
            site: "s", sensors: [rain, level],
            rules: [.cloudburst(id: "cb", sensor: "rain"),
                    RuleSpec(id: "t", kind: .threshold, sensor: "level", levels: SeverityLevels([.warning: 10]))],
            makeID: { rule, seq in "\(rule)-\(seq)" })
        let now = Timestamp(seconds: 1_700_000_000)
        #expect(engine.refusal(for: Reading(sensor: "rain", time: now, value: 1e19))?.reason == "out_of_range")
        #expect(engine.refusal(for: Reading(sensor: "rain", time: now, value: -1))?.reason == "out_of_range")
        #expect(engine.refusal(for: Reading(sensor: "rain", time: now, value: 1e9)) == nil)
        #expect(engine.refusal(for: Reading(sensor: "level", time: now, value: 1e18))?.reason == "out_of_range")
        #expect(engine.refusal(for: Reading(sensor: "level", time: Timestamp(nanoseconds: .max), value: 1))?.reason
            == "out_of_range")
        // A window sum never overflows: a batch that would is refused, and the engine asks before it adds.
        var window = PulseWindow(length: .seconds(60))
        window.add(Int64.max - 5, at: now)
        #expect(!window.canAdd(10))
        window.add(10, at: now + .seconds(1))
        #expect(window.pulses == Int64.max - 5)
        #expect(window.canAdd(5))
        let expired = window.expire(through: now + .seconds(61))
        #expect(expired)
        #expect(window.pulses == 0)
    }

    @Test("a reading stamped hours ahead moves neither another sensor's staleness nor its rules")
    func futureReading() throws {
        var a = SensorSpec(id: "a", unit: "cm", measure: .level, staleAfter: .some(.seconds(600)))
        a.plausible = Plausibility()
        let b = SensorSpec(id: "b", unit: "cm", measure: .level, staleAfter: .some(.seconds(600)))
        var engine = try RuleEngine(
            site: "s", sensors: [a, b],
            rules: [RuleSpec(id: "ta", kind: .threshold, sensor: "a", levels: SeverityLevels([.warning: 10])),
                    RuleSpec(id: "tb", kind: .threshold, sensor: "b", levels: SeverityLevels([.warning: 10]))],
            makeID: { rule, seq in "\(rule)-\(seq)" })
        let start = Timestamp(seconds: 1_700_000_000)
        engine.start(at: start)
        _ = engine.ingest(Reading(sensor: "b", time: start, value: 1), arrival: start)
        let events = engine.ingest(Reading(sensor: "a", time: start + .seconds(3 * 3600), value: 1),
                                   arrival: start + .seconds(1))
        #expect(!events.contains { $0.rule == "tb" })
        #expect(engine.lifecycles["tb"]?.state != .nodata)
        // Sensor a's own staleness counts from its arrival, not from its payload's time.
        let stale = engine.advance(to: start + .seconds(602))
        #expect(stale.contains { $0.rule == "ta" && $0.state == .nodata })
        #expect(stale.contains { $0.rule == "tb" && $0.state == .nodata })
    }

    @Test("the time parser takes arbitrary text without trapping, and what it accepts lies in range")
    func arbitraryTimes() async {
        let characters = Array("0123456789-:TZz+.  ")
        await propertyCheck(count: 2000, input: Gen.element(of: characters).array(of: 0...40)) { picked in
            let text = String(picked.compactMap { $0 })
            if let stamp = Timestamp(rfc3339: text) {
                #expect(Limits.contains(stamp))
                #expect(Timestamp(rfc3339: stamp.rfc3339) == stamp)
            }
        }
    }

    @Test("the value mapping takes any double, as a number and as text, without trapping")
    func arbitraryValues() async {
        let mapping = PayloadMapping(value: JSONPath("v")!, scale: 0.1, offset: 3, datum: 500,
                                     time: (JSONPath("t")!, .unixMilliseconds))
        await propertyCheck(count: 2000, input: Gen.uint64(in: 0 ... .max), Gen.uint64(in: 0 ... .max)) { value, time in
            let number = Double(bitPattern: value), stamp = Double(bitPattern: time)
            let payload = Array(#"{"v":\#(number),"t":\#(stamp)}"#.utf8)
            if case .success(let reading) = mapping.reading(sensor: "s", payload: payload, arrival: .init(seconds: 0)) {
                #expect(Limits.contains(value: reading.value))
                #expect(Limits.contains(reading.time))
            }
        }
    }
}
