/// The rate of a pulse sensor from the interval between its pulses, as a tipping-bucket intensity or a meter's power.
///
/// After the last pulse the rate can only be as high as one pulse over the time since, so it decays towards zero
/// while no pulse comes, and is zero once `timeout` has passed.
public struct PulseRate: Sendable {
    public let timeout: Duration
    private var last: Timestamp?
    private var interval: Duration?
    private var count: Int64 = 1

    public init(timeout: Duration) {
        self.timeout = timeout
    }

    /// Records `count` pulses at `time` (a counter read now and then reports several at once); pulses at or before
    /// the last ones are ignored.
    public mutating func pulse(at time: Timestamp, count: Int64 = 1) {
        guard count > 0 else { return }
        if let last {
            guard time > last else { return }
            interval = time - last
        }
        last = time
        self.count = count
    }

    /// Pulses per hour at `time`: the last pulses over the interval before them, or over the time since, if longer.
    public func perHour(at time: Timestamp) -> Double {
        guard let last, let interval else { return 0 }
        let since = time - last
        guard since < timeout else { return 0 }
        let longest = max(interval, since)
        let seconds = longest.inSeconds
        return seconds > 0 ? Double(count) * 3600 / seconds : 0
    }

    /// When the rate next changes without a pulse: the moment it would drop to zero.
    public var zeroAt: Timestamp? {
        last.map { $0 + timeout }
    }
}
