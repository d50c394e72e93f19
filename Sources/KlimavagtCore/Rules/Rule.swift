/// One configured rule as `RuleEngine` runs it: each rule kind is one type conforming to `Rule`, listed with its
/// configuration keys and names in `RuleKind.all`.
///
/// The engine calls a rule only with its own sensor's readings and times, in event time, and asks it for its
/// deadlines; every method returns the event it causes, if any. What a kind has no use for has a default that does
/// nothing (a stale rule has no window, a level rule primes nothing after a restart).
public protocol Rule: Sendable {
    /// Makes the rule for `spec` on `sensor`, or says why that sensor cannot carry it.
    init(spec: RuleSpec, sensor: SensorSpec) throws(RuleEngine.SetupError)

    var spec: RuleSpec { get }
    var lifecycle: AlertLifecycle { get }
    /// Puts back the lifecycle a restart found (the outbox journal, or the broker's retained state).
    mutating func restore(_ lifecycle: AlertLifecycle)

    /// The end of `for` or the next re-notification, if one is due.
    var timerDeadline: Timestamp? { get }
    /// The period of re-notification while `timerDeadline` is one, else nil.
    var renotifyPeriod: Duration? { get }
    /// The next instant at which time alone changes what the rule sees (a reading leaving its window).
    var windowDeadline: Timestamp? { get }
    /// How far back a restart refills the rule from the store, if it keeps readings (`prime`).
    var primedWindow: Duration? { get }

    /// A reading of the rule's sensor, conditioned (it may be suspect); `pulses` is its count for a pulse sensor.
    mutating func judge(_ reading: Reading, pulses: Int64, site: String, makeID: (String, Int64) -> String)
        -> AlertEvent?
    /// Time reached `time`, a `windowDeadline` of some rule: readings older than the window leave it.
    mutating func slide(to time: Timestamp, site: String, makeID: (String, Int64) -> String) -> AlertEvent?
    /// Its `timerDeadline` came at `time`; a re-notification that fell behind is sent at `sent`.
    mutating func timerFired(at time: Timestamp, sendingAt sent: Timestamp?, site: String,
                             makeID: (String, Int64) -> String) -> AlertEvent?
    /// The sensor went stale at `time`, silent since `lastSeen`.
    mutating func sensorWentStale(at time: Timestamp, lastSeen: Timestamp, site: String,
                                  makeID: (String, Int64) -> String) -> AlertEvent?
    /// The stale sensor reported again at `time`, after a silence that began at `lastSeen`.
    mutating func sensorReported(at time: Timestamp, lastSeen: Timestamp, site: String,
                                 makeID: (String, Int64) -> String) -> AlertEvent?
    /// After a restart: the restored lifecycle judged against what `prime` put back, at `time`.
    mutating func judgeRestored(at time: Timestamp, site: String, makeID: (String, Int64) -> String) -> AlertEvent?
    /// A reading from before a restart put back without judging it (only within `primedWindow` of now).
    mutating func prime(pulses: Int64, at time: Timestamp)
    /// Why `pulses` more pulses cannot be taken (they would overflow what the rule sums), or nil.
    func refusal(adding pulses: Int64) -> String?
}

extension Rule {
    public var timerDeadline: Timestamp? { nil }
    public var renotifyPeriod: Duration? { nil }
    public var windowDeadline: Timestamp? { nil }
    public var primedWindow: Duration? { nil }
    public mutating func judge(_ reading: Reading, pulses: Int64, site: String, makeID: (String, Int64) -> String)
        -> AlertEvent? { nil }
    public mutating func slide(to time: Timestamp, site: String, makeID: (String, Int64) -> String) -> AlertEvent? {
        nil
    }
    public mutating func timerFired(at time: Timestamp, sendingAt sent: Timestamp?, site: String,
                                    makeID: (String, Int64) -> String) -> AlertEvent? { nil }
    public mutating func sensorReported(at time: Timestamp, lastSeen: Timestamp, site: String,
                                        makeID: (String, Int64) -> String) -> AlertEvent? { nil }
    public mutating func judgeRestored(at time: Timestamp, site: String, makeID: (String, Int64) -> String)
        -> AlertEvent? { nil }
    public mutating func prime(pulses: Int64, at time: Timestamp) {}
    public func refusal(adding pulses: Int64) -> String? { nil }
}
