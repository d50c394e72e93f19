/// A rule that alerts on a sensor's silence itself: it fires when the sensor goes stale and resolves at its next
/// reading.
public struct StaleRule: Rule {
    public let spec: RuleSpec
    public let sensor: SensorSpec
    public private(set) var lifecycle = AlertLifecycle()

    public init(spec: RuleSpec, sensor: SensorSpec) throws(RuleEngine.SetupError) {
        guard sensor.staleAfter != nil else { throw .neverStale(rule: spec.id, sensor: sensor.id) }
        self.spec = spec
        self.sensor = sensor
    }

    public mutating func restore(_ lifecycle: AlertLifecycle) {
        self.lifecycle = lifecycle
    }

    private var limitSeconds: Double {
        Double((sensor.staleAfter ?? .zero).nanosecondsClamped) / 1e9
    }

    /// The sensor has had no reading since `lastSeen`, and went stale at `time`.
    public mutating func sensorWentStale(at time: Timestamp, lastSeen: Timestamp, site: String,
                                         makeID: (String, Int64) -> String) -> AlertEvent?
    {
        guard lifecycle.state != .firing else { return nil }
        let silence = Double((time - lastSeen).nanosecondsClamped) / 1e9
        return RuleEvents.make(
            spec: spec, sensor: sensor, lifecycle: &lifecycle, state: .firing, severity: .warning, value: silence,
            unit: "s", threshold: limitSeconds, windowSeconds: nil, at: time, site: site, makeID: makeID)
    }

    /// A reading arrived at `time` after a silence that began at `lastSeen`.
    public mutating func sensorReported(at time: Timestamp, lastSeen: Timestamp, site: String,
                                        makeID: (String, Int64) -> String) -> AlertEvent?
    {
        guard lifecycle.state == .firing else { return nil }
        let silence = Double((time - lastSeen).nanosecondsClamped) / 1e9
        return RuleEvents.make(
            spec: spec, sensor: sensor, lifecycle: &lifecycle, state: .resolved, severity: .warning, value: silence,
            unit: "s", threshold: limitSeconds, windowSeconds: nil, at: time, site: site, makeID: makeID)
    }
}
