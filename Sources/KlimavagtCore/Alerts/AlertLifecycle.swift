/// The state, severity and sequence number of one rule's alert, and the events its changes produce.
public struct AlertLifecycle: Sendable, Equatable, Codable {
    public private(set) var state: AlertState = .inactive
    /// The current severity while firing, else the last one it had.
    public private(set) var severity: Severity?
    /// The number of events produced so far; the next event gets `seq + 1`.
    public private(set) var seq: Int64 = 0
    /// When the current state began.
    public private(set) var since: Timestamp?
    public private(set) var lastEvent: AlertEvent?

    public init() {}

    /// Restores a lifecycle saved from an earlier run.
    public init(state: AlertState, severity: Severity?, seq: Int64, since: Timestamp?, lastEvent: AlertEvent?) {
        self.state = state
        self.severity = severity
        self.seq = seq
        self.since = since
        self.lastEvent = lastEvent
    }

    /// The severity the alert fires at now, or `nil` when it is not firing.
    public var firingSeverity: Severity? {
        state == .firing ? severity : nil
    }

    /// Moves to `pending` at `time` without an event; `seq` is unchanged.
    public mutating func markPending(at time: Timestamp) {
        state = .pending
        since = time
    }

    /// Leaves `pending` without an event, back to the state it had before.
    public mutating func cancelPending(backTo previous: AlertState, since previousSince: Timestamp?) {
        state = previous
        since = previousSince
    }

    /// Records a move to `state` at `severity` and returns the event for it with the next `seq`.
    public mutating func transition(
        to state: AlertState, severity: Severity, at time: Timestamp, makeEvent: (Int64) -> AlertEvent
    ) -> AlertEvent {
        if state != self.state { since = time }
        if since == nil { since = time }
        self.state = state
        self.severity = severity
        seq += 1
        let event = makeEvent(seq)
        lastEvent = event
        return event
    }
}
