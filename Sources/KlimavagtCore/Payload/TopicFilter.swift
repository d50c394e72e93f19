/// An MQTT topic filter (`+` for one level, `#` for the rest) that also returns what its wildcards matched.
public struct TopicFilter: Sendable, Equatable, CustomStringConvertible {
    public let levels: [Substring]
    public let description: String

    /// Checks the filter as MQTT 3.1.1 §4.7 does: `#` only last and alone in its level, `+` alone in its level.
    public init?(_ text: String) {
        guard !text.isEmpty, !text.utf8.contains(0) else { return nil }
        let levels = text.split(separator: "/", omittingEmptySubsequences: false)
        for (position, level) in levels.enumerated() {
            if level.contains("#"), level != "#" || position != levels.count - 1 { return nil }
            if level.contains("+"), level != "+" { return nil }
        }
        self.levels = levels
        self.description = text
    }

    /// Whether the filter has wildcards.
    public var isPattern: Bool { levels.contains { $0 == "+" || $0 == "#" } }

    /// The levels the wildcards matched, in order (`#` gives the rest joined by `/`), or nil if the topic does not
    /// match. Topics starting with `$` match no leading wildcard, as brokers treat them.
    public func match(_ topic: String) -> [Substring]? {
        var captures: [Substring] = []
        var rest = topic[...]
        if rest.hasPrefix("$"), let first = levels.first, first == "+" || first == "#" { return nil }
        for (position, level) in levels.enumerated() {
            if level == "#" {
                captures.append(rest)
                return captures
            }
            let end = rest.firstIndex(of: "/")
            let part = rest[..<(end ?? rest.endIndex)]
            if level == "+" {
                captures.append(part)
            } else if level != part {
                return nil
            }
            if let end {
                rest = rest[rest.index(after: end)...]
                if position == levels.count - 1 { return nil }
            } else {
                if position != levels.count - 1 {
                    // "a/#" also matches "a" itself.
                    if position == levels.count - 2, levels.last == "#" { captures.append(""); return captures }
                    return nil
                }
            }
        }
        return captures
    }

    /// The topic with each `+` replaced by the given levels in order, for a sensor that names its own topic.
    public func filling(_ values: [String]) -> String? {
        var values = values[...]
        var parts: [String] = []
        for level in levels {
            if level == "+" || level == "#" {
                guard let value = values.popFirst() else { return nil }
                parts.append(value)
            } else {
                parts.append(String(level))
            }
        }
        return values.isEmpty ? parts.joined(separator: "/") : nil
    }
}
