/// Parses JSON text (RFC 8259) from UTF-8 bytes without Foundation.
///
/// Numbers outside JSON's grammar, such as `NaN` or `inf`, which some firmware writes, are reported as
/// `notANumber` rather than as a syntax error, so the caller can count them apart.
public struct JSONParser {
    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        public enum Reason: Sendable, Equatable {
            case syntax
            case notANumber
            case tooDeep
        }

        public var reason: Reason
        /// Byte offset of the problem.
        public var offset: Int
        public var message: String

        public var description: String { "\(message) at byte \(offset)" }
    }

    /// Nesting deeper than this is refused, so a hostile payload cannot exhaust the stack.
    public static let maximumDepth = 64

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    public static func parse(_ bytes: [UInt8]) throws(Failure) -> JSONValue {
        try parse(bytes, keeping: nil)
    }

    /// Parses the whole text, checking all of it as `parse` does (the same failures at the same offsets), but builds
    /// only the parts on `interest`'s paths: other members are left out of their objects and other array elements
    /// are `null`, so that a payload of which a sensor reads two fields does not cost a tree of every field. Every
    /// path of `interest` resolves in the result as in the whole document.
    public static func parse(_ bytes: [UInt8], keeping interest: JSONInterest?) throws(Failure) -> JSONValue {
        let result: Result<JSONValue, Failure> = bytes.withUnsafeBufferPointer { buffer in
            var parser = JSONParser(buffer)
            do throws(Failure) {
                let value = try parser.value(depth: 0, keeping: interest?.root)
                parser.skipSpace()
                guard parser.index == buffer.count else { throw parser.fail("unexpected text after the JSON value") }
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    public static func parse(_ text: String) throws(Failure) -> JSONValue {
        try parse(Array(text.utf8))
    }

    private func fail(_ message: String, _ reason: Failure.Reason = .syntax) -> Failure {
        Failure(reason: reason, offset: index, message: message)
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// The value at the current position: all of it where `keeping` is nil or wants everything below it, only its
    /// branches on `keeping`'s paths where it names some, else checked and passed over (`.null` stands for it).
    private mutating func value(depth: Int, keeping: JSONInterest.Node? = nil) throws(Failure) -> JSONValue {
        guard depth < Self.maximumDepth else { throw fail("nested more than \(Self.maximumDepth) levels", .tooDeep) }
        skipSpace()
        guard let byte = current else { throw fail("unexpected end of the payload") }
        let build = keeping?.everything ?? true
        switch byte {
        case UInt8(ascii: "{"): return try object(depth: depth, keeping: keeping)
        case UInt8(ascii: "["): return try array(depth: depth, keeping: keeping)
        case UInt8(ascii: "\""):
            guard build else { try skipString(); return .null }
            return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return build ? .bool(true) : .null
        case UInt8(ascii: "f"): try literal("false"); return build ? .bool(false) : .null
        case UInt8(ascii: "n"):
            if matches("nan") { throw fail("not a number (nan)", .notANumber) }
            try literal("null")
            return .null
        case UInt8(ascii: "N"), UInt8(ascii: "I"), UInt8(ascii: "i"):
            throw fail("not a number", .notANumber)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            guard build else { try skipNumber(); return .null }
            return .number(try number())
        default:
            throw fail("unexpected character '\(Character(Unicode.Scalar(byte)))'")
        }
    }

    private func matches(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let start = word.utf8Start
        for offset in 0..<count where bytes[index + offset] != start[offset] { return false }
        return true
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        guard matches(word) else { throw fail("expected \(word)") }
        index += word.utf8CodeUnitCount
    }

    private mutating func object(depth: Int, keeping: JSONInterest.Node?) throws(Failure) -> JSONValue {
        index += 1
        // nil: every member; else only those on a path (none: the object is checked and passed over).
        let wanted = keeping.flatMap { $0.everything ? nil : $0 }
        let passedOver = wanted?.members.isEmpty == true
        var members: [(key: String, value: JSONValue)] = []
        skipSpace()
        if current == UInt8(ascii: "}") {
            index += 1
            return passedOver ? .null : .object(members)
        }
        while true {
            skipSpace()
            guard current == UInt8(ascii: "\"") else { throw fail("expected a member name in quotes") }
            var key: String?
            var branch: JSONInterest.Node?
            if let wanted {
                // A member off every path is checked and passed over; its name is never made a String.
                if let found = try member(of: wanted) { (key, branch) = (found.name, found.node) }
            } else {
                key = try string()
            }
            skipSpace()
            guard current == UInt8(ascii: ":") else { throw fail("expected ':' after a member name") }
            index += 1
            if let key {
                members.append((key, try value(depth: depth + 1, keeping: branch)))
            } else {
                _ = try value(depth: depth + 1, keeping: .nothing)
            }
            skipSpace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                return passedOver ? .null : .object(members)
            default: throw fail("expected ',' or '}' in an object")
            }
        }
    }

    /// Reads the member name at the current position and returns it with its branch of `node`, or nil when no path
    /// of `node` goes through it. Names are compared as bytes; one with escapes is decoded first.
    private mutating func member(of node: JSONInterest.Node) throws(Failure) -> (name: String, node: JSONInterest.Node)? {
        let opening = index
        let start = opening + 1
        if try !skipString() {
            index = opening
            let name = try string()
            return node.members.first { $0.name == name }.map { ($0.name, $0.node) }
        }
        let end = index - 1
        for member in node.members where member.utf8.count == end - start {
            if member.utf8.elementsEqual(bytes[start..<end]) { return (member.name, member.node) }
        }
        return nil
    }

    private mutating func array(depth: Int, keeping: JSONInterest.Node?) throws(Failure) -> JSONValue {
        index += 1
        // nil: every element; else only those on a path (the others `.null`; none: checked and passed over).
        let wanted = keeping.flatMap { $0.everything ? nil : $0 }
        let build = wanted.map { !$0.elements.isEmpty } ?? true
        var elements: [JSONValue] = []
        var count = 0
        skipSpace()
        if current == UInt8(ascii: "]") { index += 1; return build ? .array(elements) : .null }
        while true {
            let branch: JSONInterest.Node? = wanted.map { $0.elements[count] ?? .nothing }
            let parsed = try value(depth: depth + 1, keeping: branch)
            if build { elements.append(parsed) }
            count += 1
            skipSpace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return build ? .array(elements) : .null
            default: throw fail("expected ',' or ']' in an array")
            }
        }
    }

    /// Checks a number as `number()` does, without computing it unless it might lie beyond a Double's range.
    private mutating func skipNumber() throws(Failure) {
        let start = index
        let exponent = try scanNumber()
        // Without an exponent, up to 300 characters are always a finite Double.
        if exponent || index - start > 300 { _ = try numberValue(from: start) }
    }

    /// Checks a string as `string()` does, without making it; false when it holds an escape.
    @discardableResult
    private mutating func skipString() throws(Failure) -> Bool {
        let opening = index
        index += 1
        while let byte = current, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
            guard byte >= 0x20 else { throw fail("control character in a string") }
            index += 1
        }
        guard let stop = current else { throw fail("unterminated string") }
        guard stop == UInt8(ascii: "\"") else {
            // Escapes: the full check, its result dropped.
            index = opening
            _ = try string()
            return false
        }
        index += 1
        return true
    }

    private mutating func number() throws(Failure) -> Double {
        let start = index
        try scanNumber()
        return try numberValue(from: start)
    }

    /// Moves past the number at the current position, checked against JSON's grammar; whether it has an exponent.
    @discardableResult
    private mutating func scanNumber() throws(Failure) -> Bool {
        if current == UInt8(ascii: "-") {
            index += 1
            if matches("Infinity") || matches("inf") || matches("NaN") || matches("nan") {
                throw fail("not a number", .notANumber)
            }
        }
        guard let first = current, first >= 0x30, first <= 0x39 else { throw fail("expected a digit") }
        index += 1
        if first != 0x30 { skipDigits() }
        if current == UInt8(ascii: ".") {
            index += 1
            guard let digit = current, digit >= 0x30, digit <= 0x39 else { throw fail("expected a digit after '.'") }
            skipDigits()
        }
        guard current == UInt8(ascii: "e") || current == UInt8(ascii: "E") else { return false }
        index += 1
        if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
        guard let digit = current, digit >= 0x30, digit <= 0x39 else { throw fail("expected an exponent") }
        skipDigits()
        return true
    }

    /// The value of the number from `start` to the current position, which `scanNumber` has checked.
    private func numberValue(from start: Int) throws(Failure) -> Double {
        if let value = Self.exactDecimal(UnsafeBufferPointer(rebasing: bytes[start..<index])) { return value }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(text) else { throw fail("number out of range") }
        guard value.isFinite else { throw fail("number out of range", .notANumber) }
        return value
    }

    /// Powers of ten that a `Double` holds exactly.
    private static let exactPowers: [Double] = (0...22).map { exponent in
        var power = 1.0
        for _ in 0..<exponent { power *= 10 }
        return power
    }

    /// The value of a number already checked against JSON's grammar, when it can be computed exactly-rounded the
    /// quick way: at most 15 significant digits and a decimal exponent within ±22, so that the digits and the power
    /// of ten are both exact doubles and one multiplication or division rounds once (Clinger's fast path). Sensor
    /// readings (`231`, `12.345`, `-3.5e2`) all are; anything else (nil) goes to `Double(String)`.
    static func exactDecimal(_ text: UnsafeBufferPointer<UInt8>) -> Double? {
        var position = 0
        let negative = text[0] == UInt8(ascii: "-")
        if negative { position = 1 }
        var digits: Int64 = 0
        var significant = 0
        var exponent = 0
        var fraction = false
        while position < text.count {
            let byte = text[position]
            if byte >= 0x30, byte <= 0x39 {
                if digits != 0 || byte != 0x30 { significant += 1 }
                guard significant <= 15 else { return nil }
                digits = digits * 10 + Int64(byte - 0x30)
                if fraction { exponent -= 1 }
            } else if byte == UInt8(ascii: ".") {
                fraction = true
            } else {
                break   // an exponent
            }
            position += 1
        }
        if position < text.count {
            position += 1   // the e or E
            var sign = 1
            if text[position] == UInt8(ascii: "-") { sign = -1; position += 1 }
            else if text[position] == UInt8(ascii: "+") { position += 1 }
            var written = 0
            while position < text.count {
                written = written * 10 + Int(text[position] - 0x30)
                guard written <= 400 else { return nil }
                position += 1
            }
            exponent += sign * written
        }
        guard exponent >= -22, exponent <= 22 else { return nil }
        var value = Double(digits)
        value = exponent >= 0 ? value * exactPowers[exponent] : value / exactPowers[-exponent]
        return negative ? -value : value
    }

    private mutating func skipDigits() {
        while let byte = current, byte >= 0x30, byte <= 0x39 { index += 1 }
    }

    private mutating func string() throws(Failure) -> String {
        index += 1
        let start = index
        // The common case: no escapes, decoded straight from the bytes.
        while let byte = current, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
            guard byte >= 0x20 else { throw fail("control character in a string") }
            index += 1
        }
        guard let stop = current else { throw fail("unterminated string") }
        if stop == UInt8(ascii: "\"") {
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            index += 1
            return text
        }
        var scalars = Array(bytes[start..<index])
        while true {
            guard let byte = current else { throw fail("unterminated string") }
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: scalars, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let escaped = current else { throw fail("unterminated string") }
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(escaped)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800...0xDBFF).contains(code), matches("\\u") {
                        index += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw fail("unpaired surrogate") }
                    scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
                default:
                    throw fail("unknown escape")
                }
            default:
                guard byte >= 0x20 else { throw fail("control character in a string") }
                scalars.append(byte)
            }
        }
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("short \\u escape") }
        var code: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x41...0x46: digit = byte - 0x41 + 10
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: throw fail("bad hex digit in \\u escape")
            }
            code = code << 4 | UInt32(digit)
            index += 1
        }
        return code
    }
}
