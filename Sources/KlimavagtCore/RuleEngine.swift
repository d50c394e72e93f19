/// Runs every configured rule over the readings of its sensors, in event time.
///
/// The engine has no clock: callers feed readings in time order and call `advance(to:)` when the time of
/// `nextDeadline` has come, so the live agent and a replay run the very same code.
public struct RuleEngine: Sendable {
    public let site: String
    public private(set) var sensors: [String: SensorSpec]
    public private(set) var windowRules: [WindowRule]
    private let makeID: @Sendable (String, Int64) -> String

    public enum SetupError: Error, Equatable, CustomStringConvertible {
        case unknownSensor(rule: String, sensor: String)
        case notPulseCounting(rule: String, sensor: String)
        case unsupportedKind(rule: String, kind: AlertKind)

        public var description: String {
            switch self {
            case .unknownSensor(let rule, let sensor): "rule '\(rule)' watches unknown sensor '\(sensor)'"
            case .notPulseCounting(let rule, let sensor):
                "rule '\(rule)' needs a pulse-counting sensor (rain gauge), but '\(sensor)' is not one"
            case .unsupportedKind(let rule, let kind): "rule '\(rule)': kind '\(kind.rawValue)' is not implemented yet"
            }
        }
    }

    /// Creates an engine; `makeID(rule, seq)` gives each event its unique id.
    public init(
        site: String, sensors: [SensorSpec], rules: [RuleSpec],
        makeID: @escaping @Sendable (String, Int64) -> String
    ) throws(SetupError) {
        self.site = site
        self.makeID = makeID
        var byID: [String: SensorSpec] = [:]
        for sensor in sensors { byID[sensor.id] = sensor }
        self.sensors = byID
        var windowRules: [WindowRule] = []
        for rule in rules {
            guard let sensor = byID[rule.sensor] else {
                throw .unknownSensor(rule: rule.id, sensor: rule.sensor)
            }
            switch rule.kind {
            case .cloudburst, .heavyRain:
                guard case .pulses = sensor.measure else {
                    throw .notPulseCounting(rule: rule.id, sensor: sensor.id)
                }
                windowRules.append(WindowRule(spec: rule, sensor: sensor))
            default:
                throw .unsupportedKind(rule: rule.id, kind: rule.kind)
            }
        }
        self.windowRules = windowRules
    }

    /// The earliest instant at which time alone changes a rule's outcome.
    public var nextDeadline: Timestamp? {
        windowRules.compactMap(\.nextDeadline).min()
    }

    /// The lifecycle of every rule, by rule id.
    public var lifecycles: [String: AlertLifecycle] {
        Dictionary(uniqueKeysWithValues: windowRules.map { ($0.spec.id, $0.lifecycle) })
    }

    public mutating func restore(_ lifecycles: [String: AlertLifecycle]) {
        for index in windowRules.indices {
            if let saved = lifecycles[windowRules[index].spec.id] { windowRules[index].restore(saved) }
        }
    }

    /// Processes every deadline up to and including `time`, each at its own instant, in order.
    public mutating func advance(to time: Timestamp) -> [AlertEvent] {
        var events: [AlertEvent] = []
        while let deadline = nextDeadline, deadline <= time {
            for index in windowRules.indices {
                if let event = windowRules[index].slide(to: deadline, site: site, makeID: makeID) {
                    events.append(event)
                }
            }
        }
        return events
    }

    /// Feeds one reading, after the deadlines before it, and returns the events it causes.
    ///
    /// Deadlines at the reading's own instant are judged together with the reading, once.
    public mutating func ingest(_ reading: Reading) -> [AlertEvent] {
        var events = advance(to: Timestamp(nanoseconds: reading.time.nanoseconds - 1))
        guard let sensor = sensors[reading.sensor] else { return events }
        if case .pulses = sensor.measure {
            let pulses = Int64(reading.value.rounded())
            for index in windowRules.indices where windowRules[index].spec.sensor == reading.sensor {
                if let event = windowRules[index].add(pulses: pulses, at: reading.time, site: site, makeID: makeID) {
                    events.append(event)
                }
            }
        }
        return events
    }
}
