/// Runs every configured rule over the readings of its sensors, in event time.
///
/// The engine has no clock: callers feed readings in time order and call `advance(to:)` when the time of
/// `nextDeadline` has come, so the live agent and a replay run the very same code.
public struct RuleEngine: Sendable {
    public let site: String
    public private(set) var sensors: [String: SensorSpec]
    /// Every rule, each of the type its kind's row in `RuleKind.all` names, ordered by the kinds' `rank` and then as
    /// configured: the order in which the events of one instant go out.
    public private(set) var rules: [any Rule] = []
    /// For each sensor, the indices into `rules` of the rules watching it, in `rules`' order.
    private var rulesOf: [String: [Int]] = [:]
    /// The time of each sensor's latest reading (or of the engine's start).
    private var lastSeen: [String: Timestamp] = [:]
    private var staleSensors: Set<String> = []
    /// Each sensor's stale deadline, the earliest at hand, kept up to date as readings arrive, so finding the next
    /// deadline does not walk every sensor on every reading (a site with many MQTT sensors reads thousands a second).
    private var staleSchedule = StaleSchedule()
    private var checks: [String: PlausibilityCheck] = [:]
    /// The most re-notifications one rule sends for the periods its clock ran past in one step: the live agent
    /// wakes at every deadline, so more than one period at once means the wall clock was stepped forward or the
    /// board stalled, and it sets 1 (one reminder, not one per period missed: a clock stepped from 1970 to today
    /// would send half a million); replay, which runs a trace's quiet stretches as the live agent would have lived
    /// them, keeps every period up to this many (a day at a 10 s period is 8 640), and bounds a trace with gaps of
    /// decades to it.
    public var renotificationCatchUp = 10_000
    private let makeID: @Sendable (String, Int64) -> String

    public enum SetupError: Error, Equatable, CustomStringConvertible {
        case unknownSensor(rule: String, sensor: String)
        case notPulseCounting(rule: String, sensor: String)
        case notLevel(rule: String, sensor: String)
        case neverStale(rule: String, sensor: String)

        public var description: String {
            switch self {
            case .unknownSensor(let rule, let sensor): "rule '\(rule)' watches unknown sensor '\(sensor)'"
            case .notPulseCounting(let rule, let sensor):
                "rule '\(rule)' needs a pulse-counting sensor (rain gauge), but '\(sensor)' is not one"
            case .notLevel(let rule, let sensor):
                "rule '\(rule)' needs a sensor that reports levels, but '\(sensor)' counts pulses"
            case .neverStale(let rule, let sensor):
                "rule '\(rule)' alerts on staleness, but sensor '\(sensor)' has stale_after: never"
            }
        }
    }

    /// Creates an engine; `makeID(rule, seq)` gives each event its unique id.
    public init(
        site: String, sensors: [SensorSpec], rules: [RuleSpec],
        makeID: @escaping @Sendable (String, Int64) -> String
    ) throws(SetupError) {
        self.site = site
        self.makeID = makeID
        var byID: [String: SensorSpec] = [:]
        for sensor in sensors { byID[sensor.id] = sensor }
        self.sensors = byID
        var made: [(rank: Int, rule: any Rule)] = []
        for spec in rules {
            guard let sensor = byID[spec.sensor] else {
                throw .unknownSensor(rule: spec.id, sensor: spec.sensor)
            }
            let kind = RuleKind.of(spec.kind)
            made.append((kind.rank, try kind.type.init(spec: spec, sensor: sensor)))
        }
        // A stable sort: within a rank, the configured order.
        self.rules = made.enumerated().sorted { ($0.element.rank, $0.offset) < ($1.element.rank, $1.offset) }
            .map(\.element.rule)
        for (index, rule) in self.rules.enumerated() { rulesOf[rule.spec.sensor, default: []].append(index) }
    }

    /// Starts the staleness clocks at `time`, so a sensor that never reports also goes stale.
    public mutating func start(at time: Timestamp) {
        for sensor in sensors.values where sensor.staleAfter != nil && lastSeen[sensor.id] == nil {
            lastSeen[sensor.id] = time
        }
        for sensor in sensors.keys { staleDeadlineChanged(for: sensor) }
    }

    /// Judges every window rule afresh at `time` against what `prime` put back in its window and the lifecycle
    /// `restore` gave it, and returns the events for what differs: after a restart, or after the local state was lost
    /// or damaged, an alert is never left firing on rain that has left the window, nor silently un-fired while the
    /// window still holds it. Level rules are judged at their sensor's next reading.
    public mutating func judgeRestored(at time: Timestamp) -> [AlertEvent] {
        var events: [AlertEvent] = []
        for index in rules.indices {
            if let event = rules[index].judgeRestored(at: time, site: site, makeID: makeID) { events.append(event) }
        }
        return events
    }

    /// The earliest instant at which time alone changes a rule's outcome.
    // These run for every reading (the pipeline re-arms its timer after each batch): plain loops over the rules,
    // reading each in place, with no array made and no rule copied.

    public var nextDeadline: Timestamp? {
        Self.earlier(Self.earlier(nextWindowDeadline, nextStaleDeadline), nextTimerDeadline())
    }

    @inline(__always)
    private static func earlier(_ a: Timestamp?, _ b: Timestamp?) -> Timestamp? {
        guard let a else { return b }
        guard let b else { return a }
        return min(a, b)
    }

    /// The earliest end of a `for` or re-notification; with `pendingOnly`, of a `for`.
    private func nextTimerDeadline(pendingOnly: Bool = false) -> Timestamp? {
        var earliest: Timestamp?
        for index in rules.indices where !pendingOnly || rules[index].lifecycle.state == .pending {
            earliest = Self.earlier(earliest, rules[index].timerDeadline)
        }
        return earliest
    }

    /// The earliest instant at which a reading leaves a rule's window.
    public var nextWindowDeadline: Timestamp? {
        var earliest: Timestamp?
        for index in rules.indices { earliest = Self.earlier(earliest, rules[index].windowDeadline) }
        return earliest
    }

    private var nextStaleDeadline: Timestamp? {
        staleSchedule.earliest?.deadline
    }

    /// Notes that `sensor` was seen or went stale: its deadline moves in the schedule (O(log sensors)).
    private mutating func staleDeadlineChanged(for sensor: String) {
        staleDeadlineChanged(for: sensor, seen: lastSeen[sensor], staleAfter: sensors[sensor]?.staleAfter)
    }

    /// The same with what the caller has at hand already (`ingest`, once per reading: no lookups by name).
    private mutating func staleDeadlineChanged(for sensor: String, seen: Timestamp?, staleAfter: Duration?) {
        if staleSensors.isEmpty || !staleSensors.contains(sensor), let seen, let staleAfter {
            staleSchedule.set(sensor, seen + staleAfter)
        } else {
            staleSchedule.set(sensor, nil)
        }
    }

    private var staleDeadlines: [(sensor: String, deadline: Timestamp)] {
        staleSchedule.all
    }

    /// The lifecycle of every rule, by rule id.
    public var lifecycles: [String: AlertLifecycle] {
        var all: [String: AlertLifecycle] = [:]
        for rule in rules { all[rule.spec.id] = rule.lifecycle }
        return all
    }

    public mutating func restore(_ lifecycles: [String: AlertLifecycle]) {
        for index in rules.indices {
            if let saved = lifecycles[rules[index].spec.id] { rules[index].restore(saved) }
        }
    }

    /// The next deadline that replay still runs the clock to after its last reading: windows emptying and `for`
    /// ending, but not sensors going stale or re-notifications.
    public var nextReplayDeadline: Timestamp? {
        Self.earlier(nextWindowDeadline, nextTimerDeadline(pendingOnly: true))
    }

    /// Processes every deadline up to and including `time`, each at its own instant, in order; with
    /// `windowsOnly`, only those of `nextReplayDeadline` (replay after its last reading).
    public mutating func advance(to time: Timestamp, windowsOnly: Bool = false) -> [AlertEvent] {
        var events: [AlertEvent] = []
        while let deadline = windowsOnly ? nextReplayDeadline : nextDeadline, deadline <= time {
            for index in rules.indices {
                if let event = rules[index].slide(to: deadline, site: site, makeID: makeID) {
                    events.append(event)
                }
            }
            let timersDue = rules.contains { $0.timerDeadline == deadline }
            let horizon = timersDue ? renotificationHorizon(after: deadline, through: time) : time
            for index in rules.indices where rules[index].timerDeadline == deadline {
                let at = renotificationInstant(due: deadline, period: rules[index].renotifyPeriod, through: horizon)
                if let event = rules[index].timerFired(at: deadline, sendingAt: at, site: site, makeID: makeID) {
                    events.append(event)
                }
            }
            guard !windowsOnly else { continue }
            for (sensor, staleAt) in staleDeadlines where staleAt == deadline {
                events += sensorWentStale(sensor, at: deadline)
            }
        }
        return events
    }

    /// How far a re-notification due at `deadline` may catch up (see `RuleEvents.timer`): up to `time`, but short of
    /// the next instant at which anything else happens (a reading leaving a window, a `for` ending, a sensor going
    /// stale), so that a rule which resolves or loses its data in between is never re-notified past it.
    private func renotificationHorizon(after deadline: Timestamp, through time: Timestamp) -> Timestamp {
        let windows = rules.compactMap(\.windowDeadline)
        let pending = rules.filter { $0.lifecycle.state == .pending }.compactMap(\.timerDeadline)
        let others = (windows + pending + staleDeadlines.map(\.deadline)).filter { $0 >= deadline }
        guard let next = others.min(), next <= time else { return time }
        return next - .nanoseconds(1)
    }

    /// The re-notification instant a timer due at `due` fires at, given it may run up to `limit`: `due` itself
    /// while fewer than `renotificationCatchUp` periods lie behind it, else the instant from which that many remain.
    private func renotificationInstant(due: Timestamp, period: Duration?, through limit: Timestamp) -> Timestamp {
        guard let period, limit > due else { return due }
        let step = period.nanosecondsClamped
        let behind = (limit - due).nanosecondsClamped
        guard step > 0, renotificationCatchUp > 0 else { return due }
        let missed = behind / step   // periods after `due` up to `limit`
        guard missed >= Int64(renotificationCatchUp) else { return due }
        let (skip, overflow) = (missed - Int64(renotificationCatchUp) + 1).multipliedReportingOverflow(by: step)
        return overflow ? due : due + .nanoseconds(skip)
    }

    private mutating func sensorWentStale(_ sensor: String, at time: Timestamp) -> [AlertEvent] {
        staleSensors.insert(sensor)
        staleDeadlineChanged(for: sensor)
        let seen = lastSeen[sensor]
        var events: [AlertEvent] = []
        for index in rulesOf[sensor] ?? [] {
            if let event = rules[index].sensorWentStale(at: time, lastSeen: seen ?? time, site: site, makeID: makeID) {
                events.append(event)
            }
        }
        return events
    }

    /// The longest window of the rules watching `sensor`, if any: how far back a restart must prime it.
    public func longestWindow(of sensor: String) -> Duration? {
        (rulesOf[sensor] ?? []).compactMap { rules[$0].primedWindow }.max()
    }

    /// Refills the window rules of a pulse sensor with readings from before a restart, without events; readings
    /// already outside a rule's window at `now` are left out.
    public mutating func prime(_ readings: [Reading], now: Timestamp) {
        for reading in readings {
            guard let sensor = sensors[reading.sensor], case .pulses = sensor.measure else { continue }
            for index in rulesOf[reading.sensor] ?? [] {
                guard let window = rules[index].primedWindow, reading.time + window > now else { continue }
                rules[index].prime(pulses: Limits.pulses(reading.value) ?? 0, at: reading.time)
            }
            // A reading stamped ahead of `now` (a device's clock) must not put off its sensor's staleness.
            let seenAt = min(reading.time, now)
            if let seen = lastSeen[reading.sensor], seen >= seenAt { continue }
            lastSeen[reading.sensor] = seenAt
            staleDeadlineChanged(for: reading.sensor)
        }
    }

    /// Judges a reading against its sensor's plausibility limits and returns it marked suspect where it fails.
    ///
    /// Callers condition each reading once, then `ingest` the result.
    public mutating func condition(_ reading: Reading) -> (reading: Reading, verdict: PlausibilityCheck.Verdict) {
        guard let sensor = sensors[reading.sensor], !sensor.plausible.isEmpty else { return (reading, .ok) }
        return checks[reading.sensor, default: PlausibilityCheck(sensor.plausible)].judge(reading)
    }

    /// Why a reading cannot be taken, or nil if it can: its time or value lies outside `Limits`, a pulse sensor's
    /// value is no whole count in `0 ... Limits.largestPulseCount`, or its pulses would overflow a rule's window sum.
    /// Callers ask before `condition` and `ingest`, and count a refusal like a malformed payload.
    public func refusal(for reading: Reading) -> PayloadRejection? {
        guard Limits.contains(reading.time) else {
            return .outOfRange("time \(reading.time.rfc3339) is outside 1900–2099")
        }
        guard Limits.contains(value: reading.value) else {
            return .outOfRange("value \(reading.value) is beyond ±1e15")
        }
        guard let sensor = sensors[reading.sensor], case .pulses = sensor.measure else { return nil }
        guard let pulses = Limits.pulses(reading.value) else {
            return .outOfRange("value \(reading.value) is not a pulse count from 0 to 1e9")
        }
        for index in rulesOf[reading.sensor] ?? [] {
            if let reason = rules[index].refusal(adding: pulses) { return .outOfRange(reason) }
        }
        return nil
    }

    /// Adds a sensor that no rule watches yet (one found on a wildcard topic), so its readings are conditioned.
    public mutating func register(_ sensor: SensorSpec) {
        guard sensors[sensor.id] == nil else { return }
        sensors[sensor.id] = sensor
    }

    /// Feeds one reading, after the deadlines before it, and returns the events it causes.
    ///
    /// Deadlines at the reading's own instant are judged together with the reading, once. The live agent passes
    /// `arrival`, the agent's own time when the reading came: then the engine's clock runs no further than it, and
    /// the sensor's staleness counts from it, so a payload's time (a device's clock, hours off) affects only its
    /// own reading and never moves another sensor's staleness. Replay passes none and runs in the readings' time.
    public mutating func ingest(_ reading: Reading, arrival: Timestamp? = nil) -> [AlertEvent] {
        let clockTime = arrival.map { min($0, reading.time) } ?? reading.time
        var events = advance(to: Timestamp(nanoseconds: clockTime.nanoseconds &- 1))
        guard let sensor = sensors[reading.sensor] else { return events }
        let seenAt = arrival ?? reading.time
        // One lookup for the read and the write (a reading's path does each of these once per sensor).
        var previous: Timestamp?
        func see(_ last: inout Timestamp?) {
            previous = last
            last = max(seenAt, last ?? seenAt)
        }
        see(&lastSeen[reading.sensor])
        defer {
            staleDeadlineChanged(for: reading.sensor, seen: max(seenAt, previous ?? seenAt), staleAfter: sensor.staleAfter)
        }
        let wasStale = !staleSensors.isEmpty && staleSensors.remove(reading.sensor) != nil
        guard let watching = rulesOf[reading.sensor] else { return events }
        if wasStale {
            for index in watching {
                if let event = rules[index].sensorReported(
                    at: max(seenAt, previous ?? seenAt), lastSeen: previous ?? seenAt, site: site, makeID: makeID)
                {
                    events.append(event)
                }
            }
        }
        let pulses: Int64
        if case .pulses = sensor.measure { pulses = Limits.pulses(reading.value) ?? 0 } else { pulses = 0 }
        for index in watching {
            if let event = rules[index].judge(reading, pulses: pulses, site: site, makeID: makeID) {
                events.append(event)
            }
        }
        return events
    }
}
