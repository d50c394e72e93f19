import KlimavagtCore

/// Runs a trace through the live agent's rule code, in the readings' own time.
public enum Replay {
    /// The alert events the trace causes, with `published_at` equal to `event_time`; the clock runs on after the
    /// last reading until every window has emptied.
    public static func events(configuration: Configuration, trace: Trace) throws(RuleEngine.SetupError)
        -> [AlertEvent]
    {
        let site = configuration.site
        var engine = try RuleEngine(
            site: site, sensors: configuration.sensors.map(\.spec), rules: configuration.rules,
            makeID: { rule, seq in "replay-\(site)-\(rule)-\(seq)" })
        var events: [AlertEvent] = []
        for reading in trace.readings {
            events += engine.ingest(engine.condition(reading).reading)
        }
        while let deadline = engine.nextReplayDeadline {
            events += engine.advance(to: deadline, windowsOnly: true)
        }
        return events.map { event in
            var event = event
            event.publishedAt = event.eventTime
            return event
        }
    }
}
