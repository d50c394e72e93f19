/// Turns a contact's raw edges into state changes that have held for `hold`, as a float switch needs in waves.
///
/// Edges come with their times; a state counts once it has lasted `hold` with no edge back. The accepted change
/// carries the time the state began, not the time it was confirmed.
public struct LevelDebouncer: Sendable {
    public let hold: Duration
    public private(set) var state: Bool?
    private var candidate: (state: Bool, since: Timestamp)?

    public init(hold: Duration, initial: Bool? = nil) {
        self.hold = hold
        self.state = initial
    }

    /// Records the contact's level at `time` (an edge, or the level read when the input opens).
    public mutating func level(_ active: Bool, at time: Timestamp) {
        if let candidate, candidate.state == active { return }
        if active == state {
            candidate = nil
            return
        }
        candidate = (active, time)
    }

    /// The time at which the pending state will have held long enough.
    public var nextDeadline: Timestamp? {
        candidate.map { $0.since + hold }
    }

    /// The state change confirmed by `time`, with the time it began, if any.
    public mutating func advance(to time: Timestamp) -> (state: Bool, since: Timestamp)? {
        guard let pending = candidate, time >= pending.since + hold else { return nil }
        candidate = nil
        state = pending.state
        return pending
    }
}
