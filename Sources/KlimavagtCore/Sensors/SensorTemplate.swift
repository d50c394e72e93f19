/// A sensor id with placeholders (`power-{1}`) that the wildcard levels of an MQTT topic fill in.
public struct SensorTemplate: Sendable, Equatable {
    enum Part: Equatable {
        case literal(String)
        case level(Int)
    }

    let parts: [Part]

    /// Parses `text`; nil if it has no placeholder or a malformed one.
    public init?(_ text: String) {
        var parts: [Part] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            if open > rest.startIndex { parts.append(.literal(String(rest[..<open]))) }
            guard let close = rest[open...].firstIndex(of: "}"),
                  let number = Int(rest[rest.index(after: open)..<close]), (1...9).contains(number)
            else { return nil }
            if case .level = parts.last { return nil }   // "{1}{2}" cannot be split again
            parts.append(.level(number))
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { parts.append(.literal(String(rest))) }
        guard parts.contains(where: { if case .level = $0 { true } else { false } }) else { return nil }
        self.parts = parts
    }

    /// The id for a topic whose wildcards matched `levels` (the first is `{1}`); nil if a level it needs is missing
    /// or empty.
    public func fill(_ levels: [Substring]) -> String? {
        var id = ""
        for part in parts {
            switch part {
            case .literal(let text): id += text
            case .level(let number):
                guard number <= levels.count, !levels[number - 1].isEmpty else { return nil }
                id += levels[number - 1]
            }
        }
        return id
    }

    /// The wildcard levels, in topic order, that give `id`; nil unless the id fits and names every level up to the
    /// highest placeholder exactly once.
    public func match(_ id: String) -> [String]? {
        var values: [Int: String] = [:]
        var rest = Substring(id)
        for (position, part) in parts.enumerated() {
            switch part {
            case .literal(let text):
                guard rest.hasPrefix(text) else { return nil }
                rest = rest.dropFirst(text.count)
            case .level(let number):
                let end: Substring.Index
                if position + 1 < parts.count, case .literal(let next) = parts[position + 1] {
                    guard let found = rest.firstRange(of: next)?.lowerBound else { return nil }
                    end = found
                } else {
                    end = rest.endIndex
                }
                let value = String(rest[..<end])
                guard !value.isEmpty, values[number] == nil || values[number] == value else { return nil }
                values[number] = value
                rest = rest[end...]
            }
        }
        guard rest.isEmpty, let highest = values.keys.max() else { return nil }
        return (1...highest).map { values[$0] ?? "" }.contains("") ? nil : (1...highest).map { values[$0]! }
    }
}
