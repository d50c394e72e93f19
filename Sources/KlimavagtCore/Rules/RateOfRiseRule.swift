/// `rate_of_rise`: a level rule on how fast a level rises, in its unit per hour over the rule's window
/// (`RiseRate`), with the same severities, hysteresis, hold, `for` and re-notification as `LevelRule`.
/// Suspect readings neither judge nor enter the rate.
public struct RateOfRiseRule: Rule {
    private var level: LevelRule
    private var rate: RiseRate

    public init(spec: RuleSpec, sensor: SensorSpec) throws(RuleEngine.SetupError) {
        var perHour = sensor
        perHour.unit = "\(sensor.unit)/h"
        level = try LevelRule(spec: spec, sensor: perHour)
        rate = RiseRate(window: spec.window)
    }

    public var spec: RuleSpec { level.spec }
    public var lifecycle: AlertLifecycle { level.lifecycle }
    public var timerDeadline: Timestamp? { level.timerDeadline }
    public var renotifyPeriod: Duration? { level.renotifyPeriod }

    public mutating func restore(_ lifecycle: AlertLifecycle) {
        level.restore(lifecycle)
    }

    public mutating func judge(_ reading: Reading, pulses: Int64, site: String, makeID: (String, Int64) -> String)
        -> AlertEvent?
    {
        guard !reading.suspect, let perHour = rate.add(reading.value, at: reading.time) else { return nil }
        var judged = reading
        judged.value = perHour
        return level.judge(judged, site: site, makeID: makeID)
    }

    public mutating func timerFired(at time: Timestamp, sendingAt sent: Timestamp?, site: String,
                                    makeID: (String, Int64) -> String) -> AlertEvent?
    {
        level.timerFired(at: time, sendingAt: sent, site: site, makeID: makeID)
    }

    public mutating func sensorWentStale(at time: Timestamp, lastSeen: Timestamp, site: String,
                                         makeID: (String, Int64) -> String) -> AlertEvent?
    {
        level.markNoData(at: time, site: site, makeID: makeID)
    }
}
