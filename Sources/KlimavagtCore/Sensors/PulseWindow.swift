/// A rolling sum of whole pulse counts over the half-open window `(t − length, t]`.
///
/// Each pulse batch leaves the window at the instant `time + length`; `expire(through:)` drops every batch whose
/// instant has come. Adding and expiring are O(1) amortised, and the sum is an exact integer.
public struct PulseWindow: Sendable {
    public let length: Duration
    private var batches = RingBuffer<Batch>()
    public private(set) var pulses: Int64 = 0

    struct Batch: Sendable {
        var time: Timestamp
        var pulses: Int64
    }

    public init(length: Duration) {
        self.length = length
    }

    /// The instant the oldest batch leaves the window, if any batch is in it.
    public var nextExpiry: Timestamp? {
        batches.first.map { $0.time + length }
    }

    /// Whether `count` more pulses fit the sum without overflowing it.
    public func canAdd(_ count: Int64) -> Bool {
        !pulses.addingReportingOverflow(count).overflow
    }

    /// Adds pulses counted at `time`; a batch older than the newest one is kept in time order. A count that would
    /// overflow the sum is left out (callers refuse such a reading first, through `canAdd`).
    public mutating func add(_ count: Int64, at time: Timestamp) {
        guard count != 0, canAdd(count) else { return }
        batches.insert(Batch(time: time, pulses: count)) { $0.time < $1.time }
        pulses += count
    }

    /// Drops every batch that has left the window at `time`; returns whether the sum changed.
    @discardableResult
    public mutating func expire(through time: Timestamp) -> Bool {
        var changed = false
        while let oldest = batches.first, oldest.time + length <= time {
            pulses -= oldest.pulses
            batches.removeFirst()
            changed = true
        }
        return changed
    }
}
