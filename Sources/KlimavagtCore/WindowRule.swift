/// A rule on the rolling sum of a pulse-counting sensor over a window (`cloudburst`, `heavy_rain`).
///
/// The severity rises at the reading that lifts the sum and falls at the instant an old reading leaves the window.
public struct WindowRule: Sendable {
    public let spec: RuleSpec
    public let sensor: SensorSpec
    public private(set) var window: PulseWindow
    public private(set) var lifecycle = AlertLifecycle()

    public init(spec: RuleSpec, sensor: SensorSpec) {
        self.spec = spec
        self.sensor = sensor
        self.window = PulseWindow(length: spec.window)
    }

    /// The sum over the window in the sensor's unit.
    public var amount: Double {
        sensor.amount(ofPulses: window.pulses)
    }

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

    /// Lets the window slide to `time` and returns the event caused by readings leaving it, if any.
    public mutating func slide(to time: Timestamp, site: String, makeID: (String, Int64) -> String) -> AlertEvent? {
        guard window.expire(through: time) else { return nil }
        return evaluate(at: time, site: site, makeID: makeID)
    }

    private mutating func evaluate(at time: Timestamp, site: String, makeID: (String, Int64) -> String)
        -> AlertEvent?
    {
        let value = amount
        let current = lifecycle.firingSeverity
        let next = spec.levels.severity(for: value)
        guard next != current else { return nil }
        let state: AlertState
        let severity: Severity
        let threshold: Double
        if let next {
            state = .firing
            severity = next
            if let current, next < current {
                threshold = spec.levels.thresholdLeft(above: next)
            } else {
                threshold = spec.levels.threshold(of: next) ?? 0
            }
        } else {
            state = .resolved
            severity = current ?? lifecycle.severity ?? .warning
            threshold = spec.levels.thresholdLeft(above: nil)
        }
        let spec = self.spec, sensor = self.sensor
        return lifecycle.transition(to: state, severity: severity, at: time) { seq in
            AlertEvent(
                id: makeID(spec.id, seq), seq: seq, site: site, rule: spec.id, kind: spec.kind, state: state,
                severity: severity, sensor: sensor.id, value: value, unit: sensor.unit, threshold: threshold,
                windowSeconds: spec.window.wholeSeconds, eventTime: time, publishedAt: nil,
                message: AlertMessage.text(
                    kind: spec.kind, state: state, value: value, unit: sensor.unit, window: spec.window,
                    sensor: sensor.id))
        }
    }
}
