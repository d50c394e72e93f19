/// Builds one JSON object with its keys in the order they are added.
struct JSONText {
    private var body = ""

    mutating func add(_ key: String, _ value: String) {
        append(key, Self.quote(value))
    }

    mutating func add(_ key: String, _ value: Double) {
        append(key, Self.number(value))
    }

    mutating func add(_ key: String, _ value: Int64) {
        append(key, String(value))
    }

    /// Adds a value that is already JSON (an object or array built elsewhere).
    mutating func addRaw(_ key: String, _ json: String) {
        append(key, json)
    }

    var text: String { "{" + body + "}" }

    private mutating func append(_ key: String, _ raw: String) {
        if !body.isEmpty { body += "," }
        body += Self.quote(key)
        body += ":"
        body += raw
    }

    /// A finite number as JSON; JSON has no NaN or infinity, so those become `null`.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    static func quote(_ text: String) -> String {
        // Most text (ids, units, times) needs no escape: one scan of its bytes, then one copy.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            var out = "\""
            out.reserveCapacity(text.utf8.count + 2)
            out += text
            out += "\""
            return out
        }
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
