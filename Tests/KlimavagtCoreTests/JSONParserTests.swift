import KlimavagtCore
import Testing

@Suite("JSON parsing of sensor payloads")
struct JSONParserTests {
    @Test("objects, arrays, numbers, literals and escapes parse as written")
    func valid() throws {
        let value = try JSONParser.parse(#"""
            {"a": [1, -2.5e3, 0, true, false, null], "s": "x\"\\\/\n\u00e6\ud83c\udf27", "o": {}, "e": []}
            """#)
        #expect(value["a"] == .array([.number(1), .number(-2500), .number(0), .bool(true), .bool(false), .null]))
        #expect(value["s"] == .string("x\"\\/\næ🌧"))
        #expect(value["o"] == .object([]))
        #expect(value["e"] == .array([]))
        #expect(try JSONParser.parse("  42 ") == .number(42))
        #expect(try JSONParser.parse(#""blåt vand""#) == .string("blåt vand"))
    }

    @Test("a repeated member name gives the last value")
    func repeatedKey() throws {
        #expect(try JSONParser.parse(#"{"v":1,"v":2}"#)["v"] == .number(2))
    }

    @Test("malformed text is a syntax error at its byte", arguments: [
        ("", 0), ("{", 1), (#"{"a" 1}"#, 5), ("[1,]", 3), ("01", 1), ("1.", 2), ("tru", 0), (#""abc"#, 4),
        (#"{"a":1} x"#, 8), ("\"a\u{01}\"", 2), (#""\ud800x""#, 7), ("-", 1), ("{'a':1}", 1),
    ])
    func syntax(text: String, offset: Int) {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(text) }
        do {
            _ = try JSONParser.parse(text)
        } catch {
            #expect(error.reason == .syntax)
            #expect(error.offset == offset)
        }
    }

    @Test("NaN and infinity, which some firmware writes, are told apart from syntax errors",
          arguments: ["NaN", "nan", "-nan", "Infinity", "-Infinity", "inf", #"{"v": nan}"#, "1e999"])
    func notANumber(text: String) {
        do {
            _ = try JSONParser.parse(text)
            Issue.record("parsed \(text)")
        } catch {
            #expect(error.reason == .notANumber)
        }
    }

    @Test("nesting beyond the limit is refused without exhausting the stack")
    func deep() {
        let text = String(repeating: "[", count: 100_000)
        do {
            _ = try JSONParser.parse(text)
            Issue.record("parsed")
        } catch {
            #expect(error.reason == .tooDeep)
        }
        #expect((try? JSONParser.parse(String(repeating: "[", count: 63) + String(repeating: "]", count: 63))) != nil)
    }

    @Test("numbers parse to the same double as Double(String), the quick way or not")
    func numbersAsFoundation() {
        var generator = SystemRandomNumberGenerator()
        var texts = ["0", "-0", "231", "12.345", "0.97", "-3.5e2", "1E22", "1e23", "123456789012345", "1234567890123456",
                     "0.000001", "1e-22", "1e-23", "9007199254740993", "2.5e-3", "6.503", "1000.001", "-0.0"]
        for _ in 0..<20_000 {
            let digits = String(UInt64.random(in: 0...999_999_999_999_999_999, using: &generator))
                .prefix(Int.random(in: 1...18, using: &generator))
            var text = Bool.random(using: &generator) ? "-" + digits : String(digits)
            if Bool.random(using: &generator), digits.count > 1 {
                let cut = text.index(text.endIndex, offsetBy: -Int.random(in: 1..<digits.count, using: &generator))
                text.insert(".", at: cut)
            }
            if Int.random(in: 0..<4, using: &generator) == 0 { text += "e\(Int.random(in: -30...30, using: &generator))" }
            if let first = text.drop { $0 == "-" }.first, first == "0", text.drop(while: { $0 == "-" }).dropFirst().first?.isNumber == true {
                continue   // a leading zero JSON does not allow
            }
            texts.append(text)
        }
        for text in texts {
            guard case .number(let value)? = try? JSONParser.parse(text) else {
                Issue.record("\(text) does not parse")
                continue
            }
            #expect(value.bitPattern == Double(text)!.bitPattern, "\(text)")
        }
    }
}
