import KlimavagtCore
import PropertyBased
import Testing

@Suite("control requests")
struct ControlRequestTests {
    @Test("the requests the CLI sends parse", arguments: [
        ("ping", ControlRequest.ping), ("status", .status), ("  sensors ", .sensors), ("alerts\n", .alerts),
        ("history\r\n", .history), ("query\tl1  60\u{A0}60", .query(sensor: "l1", sinceSeconds: 60, stepSeconds: 60)),
        ("query rain-1 7200 300", .query(sensor: "rain-1", sinceSeconds: 7200, stepSeconds: 300)),
        ("query l1 315360000 3154", .query(sensor: "l1", sinceSeconds: 315_360_000, stepSeconds: 3154)),
        ("query l1 1 315360000", .query(sensor: "l1", sinceSeconds: 1, stepSeconds: 315_360_000)),
        ("query l1 100000 1", .query(sensor: "l1", sinceSeconds: 100_000, stepSeconds: 1)),
    ] as [(String, ControlRequest)])
    func parses(line: String, expected: ControlRequest) throws {
        #expect(try ControlRequest.parse(line).get() == expected)
    }

    @Test("numbers outside 1 s ... 10 years, or that overflow an Int64, are refused", arguments: [
        "query l1 10000000000 60", "query l1 -1 1", "query l1 9223372036854775807 1", "query l1 9223372036854775808 1",
        "query l1 60 -9223372036854775808", "query l1 0 1", "query l1 1 0", "query l1 315360001 315360000",
        "query l1 +60 60", "query l1 6e1 60", "query l1 0x10 1", "query l1 60 1.5", "query l1 ٣ 1",
        "query l1 60 " + String(repeating: "1", count: 40),
    ])
    func refusesNumbers(line: String) {
        guard case .failure(let refusal) = ControlRequest.parse(line) else {
            Issue.record("accepted \(line.prefix(60))")
            return
        }
        #expect(refusal.message.hasPrefix("query: "))
    }

    @Test("more than 100 000 steps, long sensor ids, wrong word counts and unknown verbs are refused")
    func refusesShapes() {
        func message(_ line: String) -> String? {
            if case .failure(let refusal) = ControlRequest.parse(line) { refusal.message } else { nil }
        }
        #expect(message("query l1 " + String(repeating: "9", count: 100_000) + " 1")?.hasPrefix("query: SINCE_SECONDS") == true)
        #expect(message("query l1 100001 1") == "query: SINCE_SECONDS / STEP_SECONDS gives more than 100000 steps")
        #expect(message("query \(String(repeating: "x", count: 129)) 60 60") == "query: a sensor id has at most 128 bytes")
        #expect(message("query \(String(repeating: "ø", count: 65)) 60 60") == "query: a sensor id has at most 128 bytes")
        #expect((try? ControlRequest.parse("query \(String(repeating: "x", count: 128)) 60 60").get()) != nil)
        #expect(message("query l1 60") == "query SENSOR SINCE_SECONDS STEP_SECONDS")
        #expect(message("query l1 60 60 60") == "query SENSOR SINCE_SECONDS STEP_SECONDS")
        #expect(message("status now") == "status takes no arguments")
        #expect(message("") == "unknown request; known: status, sensors, alerts, history, query, ping")
        #expect(message("STATUS") == "unknown request; known: status, sensors, alerts, history, query, ping")
        #expect(message("reboot") == "unknown request; known: status, sensors, alerts, history, query, ping")
    }

    @Test("arbitrary lines never trap, and what parses is within bounds")
    func arbitrary() async {
        let pieces = ["query", "status", "l1", " ", "  ", "\t", "\n", "-", "+", "0", "9", "٣", "ø", "\u{0}",
                      "9223372036854775807", "-9223372036854775808", "18446744073709551616", "315360000", "100000"]
        // Lines of pieces, random numbers and random bytes; the generator's seed is fixed so a failure repeats.
        let words = Gen.int(in: 0...2).map { Int($0) }
        await propertyCheck(count: 3000, input: words.array(of: 0...8), Gen.uint64(in: 0 ... .max)) { kinds, seed in
            var random = seed | 1
            func next() -> UInt64 {
                random ^= random << 13
                random ^= random >> 7
                random ^= random << 17
                return random
            }
            var line = ""
            for kind in kinds {
                switch kind {
                case 0: line += pieces[Int(next() % UInt64(pieces.count))]
                case 1: line += " \(Int64(bitPattern: next()) >> (next() % 64)) "
                default: line += String(decoding: (0..<next() % 12).map { _ in UInt8(truncatingIfNeeded: next()) }, as: UTF8.self)
                }
            }
            if case .success(.query(let sensor, let since, let step)) = ControlRequest.parse(line) {
                #expect(ControlRequest.secondsRange.contains(since) && ControlRequest.secondsRange.contains(step))
                #expect(since / step <= ControlRequest.maximumSteps)
                #expect(sensor.utf8.count <= ControlRequest.maximumSensorBytes)
                // The agent multiplies by 1e9 and subtracts from the clock: it fits.
                #expect(!since.multipliedReportingOverflow(by: 1_000_000_000).overflow)
            }
        }
    }
}
