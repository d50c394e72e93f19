/// The rate at which a level rises, in its unit per hour, over a window: the slope from the earliest reading in
/// `(t − window, t]` to the latest, once they span at least half the window.
public struct RiseRate: Sendable {
    public let window: Duration
    private var readings = RingBuffer<(time: Timestamp, value: Double)>()

    public init(window: Duration) {
        self.window = window
    }

    /// Adds a reading and returns the rate at its time, if the window holds enough history for one.
    public mutating func add(_ value: Double, at time: Timestamp) -> Double? {
        readings.append((time, value))
        while let oldest = readings.first, oldest.time <= time - window {
            readings.removeFirst()
        }
        guard let oldest = readings.first else { return nil }
        let span = time - oldest.time
        guard span > .zero, span * 2 >= window else { return nil }
        let hours = Double(span.nanosecondsClamped) / 3_600_000_000_000
        return (value - oldest.value) / hours
    }
}
