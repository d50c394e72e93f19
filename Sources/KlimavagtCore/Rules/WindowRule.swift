/// A rule on the rolling sum of a pulse-counting sensor over a window (`cloudburst`, `heavy_rain`).
///
/// The severity rises at the reading that lifts the sum and falls at the instant an old reading leaves the window.
public struct WindowRule: Sendable {
    public let spec: RuleSpec
    public let sensor: SensorSpec
    public private(set) var window: PulseWindow
    public private(set) var lifecycle = AlertLifecycle()
    public private(set) var gate: FiringGate

    public init(spec: RuleSpec, sensor: SensorSpec) throws(RuleEngine.SetupError) {
        guard case .pulses = sensor.measure else { throw .notPulseCounting(rule: spec.id, sensor: sensor.id) }
        self.spec = spec
        self.sensor = sensor
        self.window = PulseWindow(length: spec.window)
        self.gate = FiringGate(spec: spec)
    }

    /// Handles the timer of `timerDeadline` at `time`: fire after `for`, or notify again, at `sendingAt` when a
    /// re-notification that fell behind skips the periods its clock ran past (`RuleEngine.renotificationCatchUp`).
    public mutating func timerFired(at time: Timestamp, sendingAt sent: Timestamp? = nil, site: String,
                                    makeID: (String, Int64) -> String) -> AlertEvent?
    {
        guard timerDeadline == time else { return nil }
        return RuleEvents.timer(
            gate: &gate, spec: spec, sensor: sensor, lifecycle: &lifecycle, target: spec.levels.severity(for: amount),
            value: amount, windowSeconds: spec.window.wholeSeconds, at: sent ?? time, site: site,
            makeID: makeID)
    }

    /// The sum over the window in the sensor's unit.
    public var amount: Double {
        sensor.amount(ofPulses: window.pulses)
    }

    /// The instant the oldest reading leaves the window.
    public var nextDeadline: Timestamp? {
        window.nextExpiry
    }

    public mutating func restore(_ lifecycle: AlertLifecycle) {
        self.lifecycle = lifecycle
    }

    /// Adds a reading of `pulses` pulses at `time` and returns the event it causes, if any.
    ///
    /// Readings leaving the window at this same instant leave first, so the instant is judged once, on `(t − W, t]`.
    public mutating func add(pulses: Int64, at time: Timestamp, site: String, makeID: (String, Int64) -> String)
        -> AlertEvent?
    {
        window.expire(through: time)
        window.add(pulses, at: time)
        return evaluate(at: time, site: site, makeID: makeID)
    }

    /// Puts pulses counted before a restart back into the window, without judging them: the rule's lifecycle was
    /// restored as it was, and the window now holds the rain that led to it.
    public mutating func prime(pulses: Int64, at time: Timestamp) {
        window.add(pulses, at: time)
    }

    /// Judges the restored lifecycle against the window the store refilled, at `time` (a start): a cloudburst that
    /// fired before, or that a lost state forgot, gets the event for what the window shows now. A rule in `nodata`
    /// waits for its next reading, as the contract says.
    public mutating func judgeRestored(at time: Timestamp, site: String, makeID: (String, Int64) -> String)
        -> AlertEvent?
    {
        guard lifecycle.state != .nodata else { return nil }
        window.expire(through: time)
        return evaluate(at: time, site: site, makeID: makeID)
    }

    /// Lets the window slide to `time` and returns the event caused by readings leaving it, if any.
    public mutating func slide(to time: Timestamp, site: String, makeID: (String, Int64) -> String) -> AlertEvent? {
        guard window.expire(through: time) else { return nil }
        return evaluate(at: time, site: site, makeID: makeID)
    }

    /// Puts the rule in `nodata` because its sensor went stale at `time`.
    public mutating func markNoData(at time: Timestamp, site: String, makeID: (String, Int64) -> String) -> AlertEvent? {
        guard lifecycle.state != .nodata else { return nil }
        gate.reset()
        return RuleEvents.noData(spec: spec, sensor: sensor, lifecycle: &lifecycle, value: amount, at: time, site: site,
                                 makeID: makeID)
    }

    private mutating func evaluate(at time: Timestamp, site: String, makeID: (String, Int64) -> String)
        -> AlertEvent?
    {
        let value = amount
        let fresh = lifecycle.state == .nodata
        let current = fresh ? nil : lifecycle.firingSeverity
        let next = spec.levels.severity(for: value)
        if gate.holdsBack(target: next, lifecycle: &lifecycle, at: time, fresh: fresh) { return nil }
        guard fresh || next != current else { return nil }
        return RuleEvents.change(
            spec: spec, sensor: sensor, lifecycle: &lifecycle, from: current, to: next, value: value,
            windowSeconds: spec.window.wholeSeconds, at: time, site: site, makeID: makeID)
    }
}

extension WindowRule: GatedRule {
    public var windowDeadline: Timestamp? { nextDeadline }

    public var primedWindow: Duration? { spec.window }

    public mutating func judge(_ reading: Reading, pulses: Int64, site: String, makeID: (String, Int64) -> String)
        -> AlertEvent?
    {
        add(pulses: pulses, at: reading.time, site: site, makeID: makeID)
    }

    public mutating func sensorWentStale(at time: Timestamp, lastSeen: Timestamp, site: String,
                                         makeID: (String, Int64) -> String) -> AlertEvent?
    {
        markNoData(at: time, site: site, makeID: makeID)
    }

    public func refusal(adding pulses: Int64) -> String? {
        window.canAdd(pulses) ? nil : "\(pulses) more pulses would overflow the window sum of rule '\(spec.id)'"
    }
}
