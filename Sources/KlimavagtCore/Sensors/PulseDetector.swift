/// Tells real pulses from contact bounce by the width between an edge and the next, from kernel timestamps.
///
/// A pulse is an active (rising) edge followed by an inactive (falling) edge; it counts when its width lies within
/// `minimumWidth ... maximumWidth`. No lock-out timer is involved, so a bounce can never hide a real pulse.
public struct PulseDetector: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// A valid pulse that began at `start` (nanoseconds on the edge clock) and lasted `width` nanoseconds.
        case accepted(start: Int64, width: Int64)
        case tooShort(start: Int64, width: Int64)
        case tooLong(start: Int64, width: Int64)
        /// The edge opened a pulse, or was a falling edge without a rising one before it.
        case pending
    }

    public let minimumWidth: Duration
    public let maximumWidth: Duration
    private var activeSince: Int64?

    public init(minimumWidth: Duration, maximumWidth: Duration) {
        self.minimumWidth = minimumWidth
        self.maximumWidth = maximumWidth
    }

    /// Feeds one edge; `active` is true for a rising (logically active) edge.
    ///
    /// The kernel names an edge by the level it reads when its interrupt thread runs, so in fast bounce an edge can
    /// be named like the one before it. Two rising edges in a row mean the line fell in between: the pulse ends at
    /// the second, which starts the next. (A falling edge while inactive closes nothing.)
    public mutating func edge(active: Bool, at nanoseconds: Int64) -> Outcome {
        if active {
            defer { activeSince = nanoseconds }
            guard let start = activeSince else { return .pending }
            return judge(start: start, end: nanoseconds)
        }
        guard let start = activeSince else { return .pending }
        activeSince = nil
        return judge(start: start, end: nanoseconds)
    }

    private func judge(start: Int64, end nanoseconds: Int64) -> Outcome {
        let width = nanoseconds - start
        if width < minimumWidth.nanosecondsClamped { return .tooShort(start: start, width: width) }
        if width > maximumWidth.nanosecondsClamped { return .tooLong(start: start, width: width) }
        return .accepted(start: start, width: width)
    }
}
