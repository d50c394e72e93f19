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

    /// Moves `lifecycle` to `nodata` because the sensor went stale.
    static func noData(
        spec: RuleSpec, sensor: SensorSpec, lifecycle: inout AlertLifecycle, value: Double, at time: Timestamp,
        site: String, makeID: (String, Int64) -> String
    ) -> AlertEvent {
        make(spec: spec, sensor: sensor, lifecycle: &lifecycle, state: .nodata,
             severity: lifecycle.severity ?? .warning, value: value, unit: sensor.unit,
             threshold: spec.levels.ordered.first?.threshold ?? 0,
             windowSeconds: spec.window > .zero ? spec.window.wholeSeconds : nil, at: time, site: site, makeID: makeID)
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
