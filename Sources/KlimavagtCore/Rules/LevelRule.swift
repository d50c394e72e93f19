/// A rule on a sensor's level (`storm_surge`, `threshold`, and inside `RateOfRiseRule` on the derived rate), with a
/// hysteresis band and a hold before falling.
///
/// A reading above a higher severity's threshold raises the severity at once. The severity falls only after
/// readings have stayed at or below (current threshold − hysteresis) for `hold`, counted from the first such reading
/// to a later one; any reading back inside the band restarts the count. Suspect readings are ignored.
public struct LevelRule: Sendable {
    public let spec: RuleSpec
    public let sensor: SensorSpec
    public private(set) var lifecycle = AlertLifecycle()
    /// The time of the first reading at or below the current band, while the count runs.
    private var leftBandSince: Timestamp?
    /// The last value judged (a level, or a rate for `rate_of_rise`), reported when the sensor goes stale.
    private var lastJudged: Double?

    public private(set) var gate: FiringGate

    public init(spec: RuleSpec, sensor: SensorSpec) throws(RuleEngine.SetupError) {
        if case .pulses = sensor.measure { throw .notLevel(rule: spec.id, sensor: sensor.id) }
        self.spec = spec
        self.sensor = sensor
        self.gate = FiringGate(spec: spec)
    }

    /// Handles the timer of `timerDeadline` at `time`: fire after `for`, or notify again, at `sendingAt` when a
    /// re-notification that fell behind skips the periods its clock ran past (`RuleEngine.renotificationCatchUp`).
    public mutating func timerFired(at time: Timestamp, sendingAt sent: Timestamp? = nil, site: String,
                                    makeID: (String, Int64) -> String) -> AlertEvent?
    {
        // A firing state restored at a start has judged no reading yet: its re-notification repeats the last
        // event's value. Every timer handled moves its deadline on (a new event, or `for` ended), so that
        // `RuleEngine.advance` always gets past it.
        guard timerDeadline == time, let value = lastJudged ?? lifecycle.lastEvent?.value else { return nil }
        return RuleEvents.timer(
            gate: &gate, spec: spec, sensor: sensor, lifecycle: &lifecycle, target: severity(for: value), value: value,
            windowSeconds: windowSeconds, at: sent ?? time, site: site, makeID: makeID)
    }

    /// The window of a `rate_of_rise` rule, which events report; other level rules have none.
    private var windowSeconds: Int64? {
        spec.window > .zero ? spec.window.wholeSeconds : nil
    }

    public mutating func restore(_ lifecycle: AlertLifecycle) {
        self.lifecycle = lifecycle
    }

    /// `value` turned so that "worse" is always "higher": a `below` threshold rule compares negated values.
    private func oriented(_ value: Double) -> Double {
        spec.below ? -value : value
    }

    private var orientedLevels: SeverityLevels {
        guard spec.below else { return spec.levels }
        return SeverityLevels(Dictionary(uniqueKeysWithValues: spec.levels.ordered.map { ($0.severity, -$0.threshold) }))
    }

    /// The highest severity whose threshold, lowered by `margin`, the value is strictly above.
    private func severity(for value: Double, margin: Double = 0) -> Severity? {
        orientedLevels.ordered.last { oriented(value) > $0.threshold - margin }?.severity
    }

    /// Judges one reading and returns the event it causes, if any.
    public mutating func judge(_ reading: Reading, site: String, makeID: (String, Int64) -> String) -> AlertEvent? {
        guard !reading.suspect else { return nil }
        lastJudged = reading.value
        let target = severity(for: reading.value)
        if gate.holdsBack(target: target, lifecycle: &lifecycle, at: reading.time, fresh: lifecycle.state == .nodata) {
            return nil
        }
        if lifecycle.state == .nodata {
            leftBandSince = nil
            return change(to: target, from: nil, value: reading.value, at: reading.time, fresh: true, site: site,
                          makeID: makeID)
        }
        let current = lifecycle.firingSeverity
        if let target, current == nil || target > current! {
            leftBandSince = nil
            return change(to: target, from: current, value: reading.value, at: reading.time, fresh: false, site: site,
                          makeID: makeID)
        }
        guard let current, let threshold = orientedLevels.threshold(of: current) else { return nil }
        guard oriented(reading.value) <= threshold - spec.hysteresis else {
            leftBandSince = nil
            return nil
        }
        let since = leftBandSince ?? reading.time
        leftBandSince = since
        guard reading.time - since >= spec.hold else { return nil }
        leftBandSince = nil
        let lower = severity(for: reading.value, margin: spec.hysteresis)
        return change(to: lower, from: current, value: reading.value, at: reading.time, fresh: false, site: site,
                      makeID: makeID)
    }

    /// Puts the rule in `nodata` because its sensor went stale at `time`.
    public mutating func markNoData(at time: Timestamp, site: String, makeID: (String, Int64) -> String)
        -> AlertEvent?
    {
        guard lifecycle.state != .nodata else { return nil }
        leftBandSince = nil
        gate.reset()
        return RuleEvents.noData(
            spec: spec, sensor: sensor, lifecycle: &lifecycle, value: lastJudged, at: time, site: site,
            makeID: makeID)
    }

    private mutating func change(
        to next: Severity?, from current: Severity?, value: Double, at time: Timestamp, fresh: Bool, site: String,
        makeID: (String, Int64) -> String
    ) -> AlertEvent? {
        guard fresh || next != current else { return nil }
        return RuleEvents.change(
            spec: spec, sensor: sensor, lifecycle: &lifecycle, from: current, to: next, value: value,
            windowSeconds: windowSeconds, at: time, site: site, makeID: makeID)
    }
}

extension LevelRule: GatedRule {
    public mutating func judge(_ reading: Reading, pulses: Int64, site: String, makeID: (String, Int64) -> String)
        -> AlertEvent?
    {
        judge(reading, site: site, makeID: makeID)
    }

    public mutating func sensorWentStale(at time: Timestamp, lastSeen: Timestamp, site: String,
                                         makeID: (String, Int64) -> String) -> AlertEvent?
    {
        markNoData(at: time, site: site, makeID: makeID)
    }
}
