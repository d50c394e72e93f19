import Foundation
import KlimavagtCore
import KlimavagtTestSupport
import Testing

@Suite("RFC 3339 times")
struct TimestampTests {
    @Test("formats UTC with milliseconds only when present")
    func format() {
        #expect(Timestamp(seconds: 0).rfc3339 == "1970-01-01T00:00:00Z")
        #expect(Timestamp(seconds: 1_309_628_700).rfc3339 == "2011-07-02T17:45:00Z")
        #expect(Timestamp(seconds: 1_309_628_700, nanoseconds: 250_000_000).rfc3339 == "2011-07-02T17:45:00.250Z")
        #expect(Timestamp(seconds: 1_309_628_700, nanoseconds: 1).rfc3339 == "2011-07-02T17:45:00.000000001Z")
        #expect(Timestamp(seconds: -1).rfc3339 == "1969-12-31T23:59:59Z")
        #expect(Timestamp(seconds: 951_782_400).rfc3339 == "2000-02-29T00:00:00Z")
    }

    @Test("parses Z and numeric offsets, fractions, and rejects malformed text")
    func parse() {
        #expect(Timestamp(rfc3339: "2011-07-02T17:45:00Z") == Timestamp(seconds: 1_309_628_700))
        #expect(Timestamp(rfc3339: "2011-07-02T19:45:00+02:00") == Timestamp(seconds: 1_309_628_700))
        #expect(Timestamp(rfc3339: "2011-07-02T17:45:00.5Z") == Timestamp(seconds: 1_309_628_700, nanoseconds: 500_000_000))
        #expect(Timestamp(rfc3339: "2024-02-30T00:00:00Z") == nil)
        #expect(Timestamp(rfc3339: "2011-07-02 17:45") == nil)
        #expect(Timestamp(rfc3339: "2011-07-02T17:45:00") == nil)
        #expect(Timestamp(rfc3339: "2011-07-02T17:45:00.Z") == nil)
    }

    @Test("formatting and parsing round-trip across four centuries of days")
    func roundTrip() {
        var seconds: Int64 = -2_208_988_800
        while seconds < 4_102_444_800 {
            let time = Timestamp(seconds: seconds, nanoseconds: 123_000_000)
            #expect(Timestamp(rfc3339: time.rfc3339) == time)
            seconds += 86_400 * 37 + 3_671
        }
    }
}

@Suite("RFC 3339 text of times across the years")
struct TimestampTextTests {
    @Test("the text of 20 000 random times from 1678 to 2262 (the nanoseconds an Int64 holds) is Foundation's")
    func randomTimes() {
        let formatter = DateFormatter()
        formatter.calendar = Calendar(identifier: .gregorian)
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        var random = SplitMix64(seed: 3339)
        let first: Int64 = -9_214_560_000    // 1678-01-01
        let last: Int64 = 9_183_110_399      // 2261-12-31T23:59:59
        for _ in 0..<20_000 {
            let seconds = first + Int64(random.next() % UInt64(last - first + 1))
            let nanos: Int64 = [0, 250_000_000, 1, 999_999_999, 5_000_000][Int(random.next() % 5)]
            let text = Timestamp(seconds: seconds, nanoseconds: nanos).rfc3339
            var expected = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
            if nanos != 0 {
                expected += nanos % 1_000_000 == 0
                    ? "." + String(String(nanos / 1_000_000 + 1000).dropFirst())
                    : "." + String(String(nanos + 1_000_000_000).dropFirst())
            }
            #expect(text == expected + "Z", "seconds \(seconds), nanoseconds \(nanos)")
        }
    }
}
