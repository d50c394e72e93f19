/// Applies a rule's `for` (pending) and re-notification to the changes its condition makes. Public only as a name,
/// so that `GatedRule` can require one; everything in it is the module's own.
public struct FiringGate: Sendable {
    let pendingFor: Duration
    let renotify: Duration?
    private(set) var pendingSince: Timestamp?
    private var before: (state: AlertState, since: Timestamp?) = (.inactive, nil)

    init(spec: RuleSpec) {
        pendingFor = spec.pendingFor
        renotify = spec.renotify
    }

    /// The period of re-notification while the timer's deadline is one (firing, not pending), else nil.
    func renotifyPeriod(_ lifecycle: AlertLifecycle) -> Duration? {
        pendingSince == nil && lifecycle.state == .firing ? renotify : nil
    }

    /// The next instant at which time alone matters: the end of `for`, or the next re-notification.
    func deadline(_ lifecycle: AlertLifecycle) -> Timestamp? {
        if let pendingSince { return pendingSince + pendingFor }
        if lifecycle.state == .firing, let renotify, let last = lifecycle.lastEvent { return last.eventTime + renotify }
        return nil
    }

    /// Whether a change to `target` is held back: a rule that starts to fire waits out `for`, pending, and a
    /// condition that ends while pending returns the rule silently to the state it had. `fresh` (after `nodata`)
    /// is never held back.
    mutating func holdsBack(target: Severity?, lifecycle: inout AlertLifecycle, at time: Timestamp, fresh: Bool)
        -> Bool
    {
        if lifecycle.state == .pending {
            if target == nil {
                lifecycle.cancelPending(backTo: before.state, since: before.since)
                pendingSince = nil
            }
            return true
        }
        guard !fresh, pendingFor > .zero, target != nil, lifecycle.firingSeverity == nil else { return false }
        before = (lifecycle.state, lifecycle.since)
        pendingSince = time
        lifecycle.markPending(at: time)
        return true
    }

    /// Ends pending at its deadline; the rule then fires if its condition still holds.
    mutating func endPending() {
        pendingSince = nil
    }

    /// Forgets a pending start (the sensor went stale).
    mutating func reset() {
        pendingSince = nil
    }
}

/// A rule whose changes pass a `FiringGate` (`WindowRule`, `LevelRule`): its timer is the gate's, the end of `for`
/// or the next re-notification.
public protocol GatedRule: Rule {
    var gate: FiringGate { get }
}

extension GatedRule {
    /// The end of `for` or the next re-notification, if one is due.
    public var timerDeadline: Timestamp? {
        gate.deadline(lifecycle)
    }

    /// The period of re-notification while `timerDeadline` is one, else nil.
    public var renotifyPeriod: Duration? {
        gate.renotifyPeriod(lifecycle)
    }
}
