import KlimavagtCore

/// Runs a trace through the live agent's rule code, in the readings' own time.
public enum Replay {
    /// Why a replay stopped: the rules could not be set up, or a line of the trace was refused.
    public enum Failure: Error, CustomStringConvertible {
        case setup(RuleEngine.SetupError)
        case line(Trace.LineError)

        public var description: String {
            switch self {
            case .setup(let error): error.description
            case .line(let error): error.description
            }
        }
    }

    /// The alert events the trace causes, with `published_at` equal to `event_time`; the clock runs on after the
    /// last reading until every window has emptied.
    public static func events(configuration: Configuration, trace: Trace) throws(RuleEngine.SetupError)
        -> [AlertEvent]
    {
        var events: [AlertEvent] = []
        var session = try Session(configuration: configuration)
        for reading in trace.readings {
            // A reading the rules refuse (out of range) gives no event, as in the live agent.
            if session.refusal(for: reading) == nil { events += session.ingest(reading) }
        }
        events += session.finish()
        return events
    }

    /// Replays the trace file as a stream: it is read twice, once to check every line (so a bad trace prints no
    /// event) and once to run it, each time a block at a time, so memory does not grow with the trace's length.
    /// `emit` gets each event as it is decided.
    public static func run(configuration: Configuration, file: String, emit: (AlertEvent) -> Void) throws(Failure) {
        let (sensors, pulseSensors) = traceSensors(of: configuration)
        do {
            try Trace.forEachReading(in: file, sensors: sensors, pulseSensors: pulseSensors) { _, _ in }
        } catch {
            throw .line(error)
        }
        var session: Session
        do {
            session = try Session(configuration: configuration)
        } catch {
            throw .setup(error)
        }
        var refused: Trace.LineError?
        do {
            try Trace.forEachReading(in: file, sensors: sensors, pulseSensors: pulseSensors) { reading, line in
                guard refused == nil else { return }
                if let refusal = session.refusal(for: reading) {
                    refused = Trace.LineError(file: file, line: line, reason: refusal.description)
                    return
                }
                session.ingest(reading).forEach(emit)
            }
        } catch {
            throw .line(error)
        }
        if let refused { throw .line(refused) }
        session.finish().forEach(emit)
    }

    /// The sensor ids a trace line may name, and those whose values must be whole pulse counts.
    public static func traceSensors(of configuration: Configuration) -> (all: Set<String>, pulses: Set<String>) {
        let pulses = configuration.sensors.filter { if case .pulses = $0.spec.measure { true } else { false } }
        return (Set(configuration.sensors.map(\.id)), Set(pulses.map(\.id)))
    }

    /// One replay's engine: readings in, events out, with `published_at` set to `event_time`.
    struct Session {
        private var engine: RuleEngine

        init(configuration: Configuration) throws(RuleEngine.SetupError) {
            let site = configuration.site
            engine = try RuleEngine(
                site: site, sensors: configuration.sensors.map(\.spec), rules: configuration.rules,
                makeID: { rule, seq in "replay-\(site)-\(rule)-\(seq)" })
        }

        func refusal(for reading: Reading) -> PayloadRejection? {
            engine.refusal(for: reading)
        }

        mutating func ingest(_ reading: Reading) -> [AlertEvent] {
            engine.ingest(engine.condition(reading).reading).map(Self.published)
        }

        /// Runs the clock on after the last reading until every window has emptied.
        mutating func finish() -> [AlertEvent] {
            var events: [AlertEvent] = []
            while let deadline = engine.nextReplayDeadline {
                events += engine.advance(to: deadline, windowsOnly: true).map(Self.published)
            }
            return events
        }

        private static func published(_ event: AlertEvent) -> AlertEvent {
            var event = event
            event.publishedAt = event.eventTime
            return event
        }
    }
}
