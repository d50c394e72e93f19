/// Builds the alert events every kind of rule emits, so their fields and messages agree.
enum RuleEvents {
    /// Moves `lifecycle` to firing at `firing`, or to resolved when `firing` is nil, and returns the event.
    static func transition(
        spec: RuleSpec, sensor: SensorSpec, lifecycle: inout AlertLifecycle, firing: Severity?, value: Double,
        threshold: Double, windowSeconds: Int64?, at time: Timestamp, site: String, makeID: (String, Int64) -> String
    ) -> AlertEvent {
        let state: AlertState = firing == nil ? .resolved : .firing
        let severity = firing ?? lifecycle.severity ?? .warning
        return make(spec: spec, sensor: sensor, lifecycle: &lifecycle, state: state, severity: severity, value: value,
                    unit: sensor.unit, threshold: threshold, windowSeconds: windowSeconds, at: time, site: site,
                    makeID: makeID)
    }

    /// Moves `lifecycle` from firing at `current` (or not firing) to firing at `next` (or resolved); the threshold
    /// reported is the new severity's on the way up and the one left on the way down.
    static func change(
        spec: RuleSpec, sensor: SensorSpec, lifecycle: inout AlertLifecycle, from current: Severity?,
        to next: Severity?, value: Double, windowSeconds: Int64?, at time: Timestamp, site: String,
        makeID: (String, Int64) -> String
    ) -> AlertEvent {
        let threshold: Double
        if let next, current == nil || next > current! {
            threshold = spec.levels.threshold(of: next) ?? 0
        } else {
            threshold = spec.levels.thresholdLeft(above: next)
        }
        return transition(
            spec: spec, sensor: sensor, lifecycle: &lifecycle, firing: next, value: value, threshold: threshold,
            windowSeconds: windowSeconds, at: time, site: site, makeID: makeID)
    }

    /// The event of a rule's timer at `time`: firing at `target` when `for` ends with the condition still holding,
    /// or the same firing event again when re-notification is due.
    static func timer(
        gate: inout FiringGate, spec: RuleSpec, sensor: SensorSpec, lifecycle: inout AlertLifecycle,
        target: Severity?, value: Double, windowSeconds: Int64?, at time: Timestamp, site: String,
        makeID: (String, Int64) -> String
    ) -> AlertEvent? {
        let severity: Severity
        if gate.pendingSince != nil {
            gate.endPending()
            guard let target else { return nil }
            severity = target
        } else {
            guard let current = lifecycle.firingSeverity else { return nil }
            severity = current
        }
        return transition(
            spec: spec, sensor: sensor, lifecycle: &lifecycle, firing: severity, value: value,
            threshold: spec.levels.threshold(of: severity) ?? 0, windowSeconds: windowSeconds, at: time, site: site,
            makeID: makeID)
    }

    /// Moves `lifecycle` to `nodata` because the sensor went stale.
    /// The `nodata` event. Its `value` is the last value the rule judged (a window rule's sum at that instant); a
    /// rule that has judged no reading at all (its sensor has not reported since the state began) gives 0, and its
    /// message says so: the contract's `value` is a number, and the journal keeps only finite numbers.
    static func noData(
        spec: RuleSpec, sensor: SensorSpec, lifecycle: inout AlertLifecycle, value: Double?, at time: Timestamp,
        site: String, makeID: (String, Int64) -> String
    ) -> AlertEvent {
        let judged = value.flatMap { $0.isFinite ? $0 : nil }
        var event = make(spec: spec, sensor: sensor, lifecycle: &lifecycle, state: .nodata,
                         severity: lifecycle.severity ?? .warning, value: judged ?? 0, unit: sensor.unit,
                         threshold: spec.levels.ordered.first?.threshold ?? 0,
                         windowSeconds: spec.window > .zero ? spec.window.wholeSeconds : nil, at: time, site: site,
                         makeID: makeID)
        if judged == nil { event.message = AlertMessage.noReading(kind: spec.kind, sensor: sensor.id) }
        return event
    }

    static func make(
        spec: RuleSpec, sensor: SensorSpec, lifecycle: inout AlertLifecycle, state: AlertState, severity: Severity,
        value: Double, unit: String, threshold: Double, windowSeconds: Int64?, at time: Timestamp, site: String,
        makeID: (String, Int64) -> String
    ) -> AlertEvent {
        lifecycle.transition(to: state, severity: severity, at: time) { seq in
            AlertEvent(
                id: makeID(spec.id, seq), seq: seq, site: site, rule: spec.id, kind: spec.kind, state: state,
                severity: severity, sensor: sensor.id, value: value, unit: unit, threshold: threshold,
                windowSeconds: windowSeconds, eventTime: time, publishedAt: nil,
                message: AlertMessage.text(
                    kind: spec.kind, state: state, value: value, unit: unit,
                    window: windowSeconds.map { .seconds($0) }, sensor: sensor.id))
        }
    }
}
