import KlimavagtCore

/// Each sensor's latest reading and the state the contract publishes for it on `PREFIX/sensors/<id>/state`: held
/// back to one state per `telemetryInterval` (a suspect reading goes out at once), with deadlines of its own: the
/// first held-back state falling due, and a pulse sensor's rate dropping to zero once its pulses stop.
///
/// It has no clock and does no I/O: the pipeline passes the times in and hands the states it returns to the outbox.
/// Not thread-safe: the pipeline owns it, under its lock.
struct SensorStates {
    typealias Verdict = PlausibilityCheck.Verdict
    typealias State = (topic: String, payload: String)

    /// A sensor's state is published at most this often; the latest reading is never held back for longer.
    let telemetryInterval: Duration
    let topics: ContractTopics
    /// Goes with a pulse sensor's total, so a consumer sees a total that restarted from zero (lost state) as new.
    let bootID: String

    private(set) var latest: [String: (reading: Reading, verdict: Verdict)] = [:]
    private var rates: [String: PulseRate] = [:]
    /// Sensors whose state is held back by the telemetry interval.
    private var held: Set<String> = []
    /// When the first held-back state falls due (a tick, see `tick(after:)`).
    private var heldDue: Timestamp?
    private var lastPublished: [String: Timestamp] = [:]
    /// A pulse sensor whose rate still has to be published as zero, and when.
    private var rateZeroAt: [String: Timestamp] = [:]

    init(telemetryInterval: Duration, topics: ContractTopics, bootID: String) {
        self.telemetryInterval = telemetryInterval
        self.topics = topics
        self.bootID = bootID
    }

    /// The earliest instant at which a state falls due without a new reading.
    var nextDeadline: Timestamp? {
        var earliest = heldDue
        for zeroAt in rateZeroAt.values where earliest == nil || zeroAt < earliest! { earliest = zeroAt }
        return earliest
    }

    /// Takes a conditioned reading of `sensor` (with its pulse count for a pulse sensor) at the agent's time `now`,
    /// and returns its state if it goes out now rather than being held back.
    mutating func record(_ reading: Reading, verdict: Verdict, of sensor: Configuration.Sensor, pulses: Int64?,
                         at now: Timestamp, totals: [String: Int64]) -> State?
    {
        if let pulses, let rate = sensor.rate {
            var meter = rates[sensor.id] ?? PulseRate(timeout: rate.timeout)
            meter.pulse(at: reading.time, count: pulses)
            rates[sensor.id] = meter
            rateZeroAt[sensor.id] = meter.zeroAt
        }
        latest[sensor.id] = (reading, verdict)
        // The telemetry interval runs on the agent's clock: payload times can be hours off it (a device's own clock).
        let due = lastPublished[sensor.id].map { $0 + telemetryInterval } ?? now
        if now >= due || verdict != .ok {
            held.remove(sensor.id)
            return state(of: sensor, at: now, totals: totals)
        }
        held.insert(sensor.id)
        heldDue = min(heldDue ?? Self.tick(after: due), Self.tick(after: due))
        return nil
    }

    /// The states that have fallen due by `time`: held-back ones whose interval has passed, rates gone to zero.
    mutating func due(at time: Timestamp, sensors: [String: Configuration.Sensor], totals: [String: Int64])
        -> [State]
    {
        var states: [State] = []
        if let first = heldDue, first <= time {
            heldDue = nil
            for id in held.sorted() {
                let sensorDue = (lastPublished[id] ?? time) + telemetryInterval
                if sensorDue <= time {
                    held.remove(id)
                    if let sensor = sensors[id], let state = state(of: sensor, at: time, totals: totals) {
                        states.append(state)
                    }
                } else {
                    heldDue = min(heldDue ?? Self.tick(after: sensorDue), Self.tick(after: sensorDue))
                }
            }
        }
        for (id, zeroAt) in rateZeroAt.sorted(by: { $0.key < $1.key }) where zeroAt <= time {
            rateZeroAt[id] = nil
            if let sensor = sensors[id], let state = state(of: sensor, at: time, totals: totals) { states.append(state) }
        }
        return states
    }

    /// Every held-back state, as of `now` (the agent stopping).
    mutating func releaseHeld(at now: Timestamp, sensors: [String: Configuration.Sensor], totals: [String: Int64])
        -> [State]
    {
        defer {
            held.removeAll()
            heldDue = nil
        }
        return held.sorted().compactMap { id in sensors[id].flatMap { state(of: $0, at: now, totals: totals) } }
    }

    /// Held-back states go out on quarter-second ticks of the agent's clock, so one wake publishes every sensor whose
    /// second is up instead of one wake per sensor (with 100 sensors reporting, 100 wakes a second, each walking every
    /// held sensor, were a fifth of the agent's instructions). A state still goes out at most once per
    /// `telemetryInterval`, and is held back at most a quarter of a second longer.
    static let telemetryTick: Int64 = 250_000_000

    /// The first tick at or after `time`.
    static func tick(after time: Timestamp) -> Timestamp {
        let remainder = time.nanoseconds % telemetryTick
        if remainder == 0 { return time }
        return time + .nanoseconds(remainder > 0 ? telemetryTick - remainder : -remainder)
    }

    /// The sensor's state as of `now`: its latest reading, or for a pulse sensor its rate at `now` and its total.
    private mutating func state(of sensor: Configuration.Sensor, at now: Timestamp, totals: [String: Int64]) -> State? {
        let id = sensor.id
        guard let (reading, verdict) = latest[id] else { return nil }
        lastPublished[id] = now
        var state = JSONText()
        state.add("sensor", id)
        switch sensor.spec.measure {
        case .pulses(let perPulse):
            let rate = sensor.rate ?? .init(unit: "\(sensor.spec.unit)/h", factor: 1, timeout: .seconds(3600))
            let perHour = rates[id]?.perHour(at: max(now, reading.time)) ?? 0
            let value = perHour * Double(perPulse) / 1e9 * rate.factor
            state.add("value", (value * 1000).rounded() / 1000)
            state.add("unit", rate.unit)
            state.add("time", max(now, reading.time).rfc3339)
            state.add("quality", "ok")
            state.add("total", sensor.spec.amount(ofPulses: totals[id] ?? 0))
            state.add("total_unit", sensor.spec.unit)
            state.add("boot_id", bootID)
        case .level:
            state.add("value", reading.value)
            state.add("unit", sensor.spec.unit)
            state.add("time", reading.time.rfc3339)
            state.add("quality", verdict == .ok ? "ok" : "suspect")
            if verdict != .ok { state.add("reason", verdict.rawValue) }
        }
        return (topics.sensorState(id), state.text)
    }
}
