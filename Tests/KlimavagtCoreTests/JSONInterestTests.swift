import KlimavagtCore
import KlimavagtTestSupport
import Testing

/// `JSONParser.parse(_:keeping:)` against the whole parse: on the paths it keeps, the same values; on any text, the
/// same failure at the same byte. Documents are made at random from a seed (printed on a failure), then damaged.
@Suite("JSON parsed for some paths only")
struct JSONInterestTests {
    /// Member names from a small set, so that paths often hit, with a dot-free escape and a long one.
    static let names = ["Time", "ENERGY", "Total", "Level", "cm", "a", "b", "x\\u0041", "é", "Tips", "v"]

    static func document(_ random: inout SplitMix64, depth: Int = 0) -> String {
        let choice = depth > 3 ? Int(random.next() % 5) : Int(random.next() % 8)
        switch choice {
        case 0: return ["0", "-1.5", "12.345", "1e3", "-0.0e-2", "123456789012345678", "1e400", "231"][Int(random.next() % 8)]
        case 1: return ["\"\"", "\"2024-01-01T00:00:00\"", "\"a\\\"b\"", "\"\\u00e9t\\u00E9\"", "\"ON\""][Int(random.next() % 5)]
        case 2: return ["true", "false"][Int(random.next() % 2)]
        case 3: return "null"
        case 4: return String(Int(random.next() % 2000)) + "." + String(Int(random.next() % 10))
        case 5, 6:
            let count = Int(random.next() % 5)
            let members = (0..<count).map { _ in
                "\"\(names[Int(random.next() % UInt64(names.count))])\": \(document(&random, depth: depth + 1))"
            }
            return "{" + members.joined(separator: ", ") + "}"
        default:
            let count = Int(random.next() % 4)
            return "[" + (0..<count).map { _ in document(&random, depth: depth + 1) }.joined(separator: ",") + "]"
        }
    }

    static func paths(_ random: inout SplitMix64) -> [JSONPath] {
        let plain = names.filter { !$0.contains("\\") } + ["xA"]
        return (0..<Int(1 + random.next() % 3)).map { _ in
            var text = ""
            for step in 0..<Int(1 + random.next() % 3) {
                if random.next() % 4 == 0 {
                    text += "[\(random.next() % 3)]"
                } else {
                    text += (step == 0 ? "" : ".") + plain[Int(random.next() % UInt64(plain.count))]
                }
            }
            return JSONPath(text)!
        }
    }

    @Test("the kept paths resolve as in the whole document, and every text fails alike, over 20 000 documents")
    func sameAsWhole() throws {
        var random = SplitMix64(seed: 0x6B6C_696D_6176_6167)
        for round in 0..<20_000 {
            var bytes = Array(Self.document(&random).utf8)
            // Every third document damaged: a byte changed, cut short, or a byte removed.
            if round % 3 == 2, !bytes.isEmpty {
                let at = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 3 {
                case 0: bytes[at] = [UInt8(ascii: "}"), UInt8(ascii: "\""), 0x01, UInt8(ascii: ","), UInt8(ascii: "e")][Int(random.next() % 5)]
                case 1: bytes.removeLast(bytes.count - at)
                default: bytes.remove(at: at)
                }
            }
            let paths = Self.paths(&random)
            let whole = Result { () throws(JSONParser.Failure) in try JSONParser.parse(bytes) }
            let kept = Result { () throws(JSONParser.Failure) in try JSONParser.parse(bytes, keeping: JSONInterest(paths)) }
            let text = String(decoding: bytes, as: UTF8.self)
            switch (whole, kept) {
            case (.failure(let a), .failure(let b)):
                #expect(a == b, "round \(round): \(text)")
            case (.success(let a), .success(let b)):
                for path in paths {
                    switch (path.resolve(in: a), path.resolve(in: b)) {
                    case (.success(let x), .success(let y)): #expect(x == y, "round \(round): \(path) in \(text)")
                    case (.failure(let x), .failure(let y)): #expect(x.depth == y.depth, "round \(round): \(path) in \(text)")
                    default: Issue.record("round \(round): \(path) resolves differently in \(text)")
                    }
                }
            default:
                Issue.record("round \(round): one parse failed, the other did not: \(text)")
            }
        }
    }

    @Test("a Tasmota SENSOR payload kept for Time, ENERGY.Total and Level.cm holds those and nothing else")
    func tasmota() throws {
        let payload = Array(#"{"Time":"2024-11-12T09:41:07","ENERGY":{"Total":1234.5,"Power":[1,2]},"Rain":{"Tips":2},"Level":{"cm":101.5}}"#.utf8)
        let paths = ["Time", "ENERGY.Total", "Level.cm"].map { JSONPath($0)! }
        let kept = try JSONParser.parse(payload, keeping: JSONInterest(paths))
        #expect(kept == .object([
            ("Time", .string("2024-11-12T09:41:07")),
            ("ENERGY", .object([("Total", .number(1234.5))])),
            ("Level", .object([("cm", .number(101.5))])),
        ]))
    }
}
