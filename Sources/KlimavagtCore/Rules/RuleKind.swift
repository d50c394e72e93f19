/// Every rule kind the agent knows, in one table: the type that runs it, the configuration keys it takes, and its
/// names. A new kind is a type conforming to `Rule`, a case of `AlertKind` (the contract's name) and its row here;
/// the engine, the configuration loader, `check-config`, the alert messages and Home Assistant discovery all read
/// this table.
public struct RuleKind: Sendable {
    /// The optional configuration keys of a rule, beside `id`, `kind` and `sensor`.
    public enum Key: String, Sendable, CaseIterable {
        case window, levels, hysteresis, hold, direction
        case pending = "for"
        case renotify
    }

    /// What the rule's sensor must be.
    public enum SensorNeed: Sendable {
        /// A pulse counter (a rain gauge): the rule sums pulses over a window.
        case pulses
        /// A sensor that reports levels (not pulses).
        case levels
        /// A sensor that can go stale (`stale_after` not `never`).
        case staleness
    }

    public let kind: AlertKind
    /// The type that runs a rule of this kind.
    public let type: any Rule.Type
    public let needs: SensorNeed
    /// The keys a rule of this kind may have.
    public let keys: Set<Key>
    /// Whether `levels` must be given (else they are `defaultLevels`).
    public let requiresLevels: Bool
    public let defaultLevels: SeverityLevels
    /// The window without `window:`, and the shortest one allowed (for kinds with the `window` key).
    public let defaultWindow: Duration
    public let shortestWindow: Duration
    /// What the rule judges is the sensor's unit followed by this (`/h` for a rate of rise).
    public let unitSuffix: String
    /// The kind's name in alert messages, in Danish as operators read it.
    public let message: String
    /// The kind's name in Home Assistant, whose entity names are English.
    public let readable: String
    /// The events of rules of one instant go out by this rank, then in configuration order (window sums, then levels,
    /// then staleness, as they always have: a replay's output does not depend on the order rules are written in
    /// across kinds).
    public let rank: Int

    /// The row of `kind`.
    public static func of(_ kind: AlertKind) -> RuleKind {
        // Every case has a row: `RuleKindTests` checks the table against `AlertKind.allCases`.
        all.first { $0.kind == kind }!
    }

    public static let all: [RuleKind] = [
        RuleKind(kind: .cloudburst, type: WindowRule.self, needs: .pulses, keys: [.window, .levels, .pending, .renotify],
                 requiresLevels: false, defaultLevels: SeverityLevels([.warning: 15, .severe: 30, .extreme: 45]),
                 defaultWindow: .seconds(30 * 60), shortestWindow: .seconds(1), unitSuffix: "",
                 message: "Skybrud", readable: "Cloudburst", rank: 0),
        RuleKind(kind: .heavyRain, type: WindowRule.self, needs: .pulses, keys: [.window, .levels, .pending, .renotify],
                 requiresLevels: false, defaultLevels: SeverityLevels([.warning: 24]),
                 defaultWindow: .seconds(6 * 3600), shortestWindow: .seconds(1), unitSuffix: "",
                 message: "Kraftig regn", readable: "Heavy rain", rank: 0),
        RuleKind(kind: .stormSurge, type: LevelRule.self, needs: .levels,
                 keys: [.levels, .hysteresis, .hold, .pending, .renotify],
                 requiresLevels: true, defaultLevels: SeverityLevels([:]),
                 defaultWindow: .zero, shortestWindow: .zero, unitSuffix: "",
                 message: "Stormflod", readable: "Storm surge", rank: 1),
        RuleKind(kind: .threshold, type: LevelRule.self, needs: .levels,
                 keys: [.levels, .hysteresis, .hold, .direction, .pending, .renotify],
                 requiresLevels: true, defaultLevels: SeverityLevels([:]),
                 defaultWindow: .zero, shortestWindow: .zero, unitSuffix: "",
                 message: "Grænseværdi", readable: "Threshold", rank: 1),
        RuleKind(kind: .rateOfRise, type: RateOfRiseRule.self, needs: .levels,
                 keys: [.window, .levels, .hysteresis, .hold, .pending, .renotify],
                 requiresLevels: true, defaultLevels: SeverityLevels([:]),
                 defaultWindow: .seconds(3600), shortestWindow: .seconds(60), unitSuffix: "/h",
                 message: "Hurtig vandstandsstigning", readable: "Rate of rise", rank: 1),
        RuleKind(kind: .stale, type: StaleRule.self, needs: .staleness, keys: [],
                 requiresLevels: false, defaultLevels: SeverityLevels([:]),
                 defaultWindow: .zero, shortestWindow: .zero, unitSuffix: "",
                 message: "Ingen data", readable: "Stale", rank: 2),
    ]

    /// The kinds that take `key`, by name, for an error message ("only cloudburst, heavy_rain and rate_of_rise ...").
    public static func names(taking key: Key) -> String {
        let names = all.filter { $0.keys.contains(key) }.map(\.kind.rawValue)
        guard names.count > 1 else { return names.first ?? "no" }
        return names.dropLast().joined(separator: ", ") + " and " + names.last!
    }
}
