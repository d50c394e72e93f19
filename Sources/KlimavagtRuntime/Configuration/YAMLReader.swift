import KlimavagtCore
import Yams

/// Reads a YAML document node by node, so every mistake is reported at its `FILE:LINE:COLUMN` with its key.
struct YAMLReader {
    let file: String
    let node: Node
    /// The dotted path of this node from the document root (`sensors[0].input.gpio`).
    let path: String

    func error(_ message: String, key: String? = nil, at other: Node? = nil) -> ConfigurationError {
        let mark = (other ?? node).mark
        return ConfigurationError(
            file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, key: key ?? (path.isEmpty ? "(top)" : path),
            message: message)
    }

    /// The entries of a mapping; a key outside `allowed` is an error that lists the allowed keys.
    func mapping(allowed: [String]) throws(ConfigurationError) -> Mapping {
        guard case .mapping(let mapping) = node else {
            throw error("expected a mapping of keys (\(allowed.joined(separator: ", "))), found \(describe(node))")
        }
        var entries: [String: (key: Node, value: Node)] = [:]
        var order: [String] = []
        for (key, value) in mapping {
            guard let name = key.string, case .scalar = key else {
                throw error("keys must be plain words", at: key)
            }
            let keyPath = path.isEmpty ? name : "\(path).\(name)"
            guard allowed.contains(name) else {
                throw ConfigurationError(
                    file: file, line: key.mark?.line ?? 1, column: key.mark?.column ?? 1, key: keyPath,
                    message: "unknown key; allowed here: \(allowed.joined(separator: ", "))")
            }
            guard entries[name] == nil else {
                throw ConfigurationError(
                    file: file, line: key.mark?.line ?? 1, column: key.mark?.column ?? 1, key: keyPath,
                    message: "given twice")
            }
            entries[name] = (key, value)
            order.append(name)
        }
        return Mapping(reader: self, entries: entries, order: order)
    }

    func sequence() throws(ConfigurationError) -> [YAMLReader] {
        guard case .sequence(let sequence) = node else {
            throw error("expected a list, found \(describe(node))")
        }
        return sequence.enumerated().map { YAMLReader(file: file, node: $1, path: "\(path)[\($0)]") }
    }

    func string() throws(ConfigurationError) -> String {
        guard case .scalar(let scalar) = node else { throw error("expected text, found \(describe(node))") }
        return scalar.string
    }

    func int(in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard case .scalar = node, let value = node.int else {
            throw error("expected a whole number, found \(describe(node))")
        }
        guard range.contains(value) else {
            throw error("must be between \(range.lowerBound) and \(range.upperBound), found \(value)")
        }
        return value
    }

    /// A number within ±1e15 (`Limits.largestValue`): no reading, threshold, scale or offset needs more.
    func double() throws(ConfigurationError) -> Double {
        guard case .scalar = node, let value = node.float, value.isFinite else {
            throw error("expected a number, found \(describe(node))")
        }
        guard Limits.contains(value: value) else { throw error("must lie within ±1e15, found \(describe(node))") }
        return value
    }

    /// What one pulse is worth, in `Limits.smallestPerPulse ... Limits.largestPerPulse` (1e-9 to 1e6 of the unit).
    func perPulse() throws(ConfigurationError) -> Double {
        let value = try double()
        guard value >= Limits.smallestPerPulse, value <= Limits.largestPerPulse else {
            throw error("must be between 1e-9 and 1e6, found \(describe(node))")
        }
        return value
    }

    /// What one pulse is worth, given as pulses per unit (`imp_per_kwh`): 1e-6 to 1e9 pulses.
    func perPulseFromPulsesPerUnit() throws(ConfigurationError) -> Double {
        let value = try double()
        guard value >= 1 / Limits.largestPerPulse, value <= 1 / Limits.smallestPerPulse else {
            throw error("must be between 1e-6 and 1e9, found \(describe(node))")
        }
        return 1 / value
    }

    func bool() throws(ConfigurationError) -> Bool {
        guard case .scalar = node, let value = node.bool else {
            throw error("expected true or false, found \(describe(node))")
        }
        return value
    }

    /// A duration of at most `Limits.longestDuration` (3660d).
    func duration() throws(ConfigurationError) -> Duration {
        guard case .scalar(let scalar) = node else {
            throw error("expected a duration such as 500ms, 90s, 30m or 6h, found \(describe(node))")
        }
        switch DurationText.check(scalar.string) {
        case .success(let value): return value
        case .failure(.tooLong): throw error("must be at most 3660d, found \(describe(node))")
        case .failure(.malformed):
            throw error("expected a duration such as 500ms, 90s, 30m or 6h, found \(describe(node))")
        }
    }

    private func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar): "'\(PayloadRejection.excerpt(scalar.string))'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    /// A checked mapping's entries, read by key.
    struct Mapping {
        let reader: YAMLReader
        let entries: [String: (key: Node, value: Node)]
        let order: [String]

        subscript(_ key: String) -> YAMLReader? {
            guard let entry = entries[key] else { return nil }
            let childPath = reader.path.isEmpty ? key : "\(reader.path).\(key)"
            return YAMLReader(file: reader.file, node: entry.value, path: childPath)
        }

        func required(_ key: String) throws(ConfigurationError) -> YAMLReader {
            guard let child = self[key] else {
                throw reader.error("missing required key '\(key)'")
            }
            return child
        }
    }
}
