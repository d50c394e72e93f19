import Foundation
import KlimavagtCore
import KlimavagtMQTT

/// The `rules:` section: each rule's kind, sensor and keys, as its row in `RuleKind.all` allows them.
extension ConfigurationLoader {
    static func readRule(_ reader: YAMLReader, sensors: [Configuration.Sensor])
        throws(ConfigurationError) -> RuleSpec
    {
        let map = try reader.mapping(allowed: ["id", "kind", "sensor"] + RuleKind.Key.allCases.map(\.rawValue))
        let idReader = try map.required("id")
        let id = try idReader.string()
        guard isIdentifier(id) else {
            throw idReader.error("a rule id uses letters, digits, '-' and '_' only, at most \(maximumIDBytes) bytes")
        }
        let kindReader = try map.required("kind")
        let kindText = try kindReader.string()
        guard let kind = AlertKind(rawValue: kindText) else {
            let known = AlertKind.allCases.map(\.rawValue).joined(separator: ", ")
            throw kindReader.error("unknown rule kind '\(kindText)'; known: \(known)")
        }
        let sensorReader = try map.required("sensor")
        let sensorID = try sensorReader.string()
        guard let sensor = sensors.first(where: { $0.id == sensorID }) else {
            throw sensorReader.error("no sensor '\(sensorID)' is configured")
        }
        let rule = RuleKind.of(kind)
        let isPulseSensor: Bool
        if case .pulses = sensor.spec.measure { isPulseSensor = true } else { isPulseSensor = false }
        switch rule.needs {
        case .pulses:
            guard isPulseSensor else {
                throw sensorReader.error("a \(kindText) rule needs a pulse-counting sensor (a rain gauge)")
            }
        case .levels:
            guard !isPulseSensor else {
                throw sensorReader.error("a \(kindText) rule needs a sensor that reports levels, not a pulse counter")
            }
        case .staleness:
            guard sensor.spec.staleAfter != nil else {
                throw sensorReader.error("sensor '\(sensorID)' never goes stale; give it stale_after")
            }
        }
        // The keys this kind does not take, each refused where it is written.
        for key in RuleKind.Key.allCases where !rule.keys.contains(key) {
            guard let found = map[key.rawValue] else { continue }
            throw found.error("a \(kindText) rule has no \(key.rawValue): only \(RuleKind.names(taking: key)) rules have one")
        }
        if rule.requiresLevels, map["levels"] == nil {
            throw reader.error("a \(kindText) rule needs levels, e.g. levels: {warning: 125, severe: 150}")
        }
        var spec = RuleSpec(id: id, kind: kind, sensor: sensorID, window: rule.defaultWindow, levels: rule.defaultLevels)
        if let window = map["window"] {
            spec.window = try window.duration()
            guard spec.window >= rule.shortestWindow else {
                throw window.error("must be at least \(DurationText.format(rule.shortestWindow))")
            }
        }
        if let hysteresis = map["hysteresis"] {
            spec.hysteresis = try hysteresis.double()
            guard spec.hysteresis >= 0 else { throw hysteresis.error("must be 0 or more") }
        }
        if let hold = map["hold"] { spec.hold = try hold.duration() }
        if let direction = map["direction"] {
            let text = try direction.string()
            guard text == "above" || text == "below" else {
                throw direction.error("expected above or below, found '\(text)'")
            }
            spec.below = text == "below"
        }
        if let pending = map["for"] {
            spec.pendingFor = try pending.duration()
        }
        if let renotify = map["renotify"] {
            spec.renotify = try renotify.duration()
            guard spec.renotify! >= .seconds(1) else { throw renotify.error("must be at least 1s") }
        }
        if let levelsReader = map["levels"] {
            let levels = try levelsReader.mapping(allowed: Severity.allCases.map(\.rawValue))
            var thresholds: [Severity: Double] = [:]
            for severity in Severity.allCases {
                if let value = levels[severity.rawValue] { thresholds[severity] = try value.double() }
            }
            let ordered = Severity.allCases.compactMap { thresholds[$0] }
            guard !ordered.isEmpty else { throw levelsReader.error("name at least one of warning, severe, extreme") }
            let rising = spec.below ? zip(ordered, ordered.dropFirst()).allSatisfy({ $0 > $1 })
                : zip(ordered, ordered.dropFirst()).allSatisfy({ $0 < $1 })
            guard rising else {
                throw levelsReader.error(spec.below
                    ? "for direction: below, thresholds must fall from warning to severe to extreme"
                    : "thresholds must rise from warning to severe to extreme")
            }
            spec.levels = SeverityLevels(thresholds)
        }
        return spec
    }
}
