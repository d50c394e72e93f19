/// Sum, count, minimum, maximum and average of a series over its last `length` of event time, kept up to date as
/// samples arrive in O(1) amortised per sample.
///
/// Counts (`exactCounts`) are summed as integers, so a rolling rain sum equals the brute-force sum exactly; other
/// values are summed with compensation (Kahan). Minimum and maximum come from monotonic queues. Memory is fixed at
/// creation (`capacity` samples in the window); a window that would hold more drops its oldest sample early and
/// counts it in `overflowed`.
public struct RollingWindow: Sendable {
    public let length: Int64
    public let capacity: Int
    public let exactCounts: Bool
    var times: [Int64]
    var values: [Double]
    var head = 0
    public private(set) var count = 0
    var integerSum: Int64 = 0
    var sum: Double = 0
    var compensation: Double = 0
    // Monotonic queues of positions (absolute sample numbers) for the minimum and maximum.
    var minimumQueue: [Int]
    var minimumHead = 0
    var minimumCount = 0
    var maximumQueue: [Int]
    var maximumHead = 0
    var maximumCount = 0
    /// The absolute number of the oldest sample in the window.
    var firstNumber = 0
    public internal(set) var overflowed = 0

    public init(length: Duration, capacity: Int, exactCounts: Bool) {
        precondition(capacity > 0)
        let (seconds, attoseconds) = length.components
        self.length = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        self.capacity = capacity
        self.exactCounts = exactCounts
        times = Array(repeating: 0, count: capacity)
        values = Array(repeating: 0, count: capacity)
        minimumQueue = Array(repeating: 0, count: capacity)
        maximumQueue = Array(repeating: 0, count: capacity)
    }

    /// The window's aggregates.
    public struct Aggregate: Sendable, Equatable {
        public var count: Int
        public var sum: Double
        public var minimum: Double?
        public var maximum: Double?
        public var average: Double? { count > 0 ? sum / Double(count) : nil }
    }

    public var aggregate: Aggregate {
        Aggregate(
            count: count, sum: exactCounts ? Double(integerSum) : sum + compensation,
            minimum: minimumCount > 0 ? values[minimumQueue[minimumHead] % capacity] : nil,
            maximum: maximumCount > 0 ? values[maximumQueue[maximumHead] % capacity] : nil)
    }

    /// The newest sample's time, if any.
    public var newestTime: Int64? { count > 0 ? times[(head + count - 1) % capacity] : nil }

    /// Adds a sample no older than the newest, after dropping samples at or before `time − length`.
    @inline(__always)
    public mutating func add(_ value: Double, at time: Int64) {
        expire(through: time &- length)
        if count == capacity {
            overflowed += 1
            removeOldest()
        }
        let position = (head + count) % capacity
        times[position] = time
        values[position] = value
        let number = firstNumber + count
        count += 1
        if exactCounts {
            integerSum &+= Int64(value)
        } else {
            addCompensated(value)
        }
        while minimumCount > 0,
              values[minimumQueue[(minimumHead + minimumCount - 1) % capacity] % capacity] >= value
        {
            minimumCount -= 1
        }
        minimumQueue[(minimumHead + minimumCount) % capacity] = number
        minimumCount += 1
        while maximumCount > 0,
              values[maximumQueue[(maximumHead + maximumCount - 1) % capacity] % capacity] <= value
        {
            maximumCount -= 1
        }
        maximumQueue[(maximumHead + maximumCount) % capacity] = number
        maximumCount += 1
    }

    /// Inserts a sample older than the newest in its place (rare: O(samples in the window)); one already outside the
    /// window is ignored.
    public mutating func insertLate(_ value: Double, at time: Int64) {
        guard let newest = newestTime, time < newest else {
            add(value, at: time)
            return
        }
        guard time > newest &- length else { return }
        var samples: [(Int64, Double)] = []
        samples.reserveCapacity(count + 1)
        for offset in 0..<count { samples.append((times[(head + offset) % capacity], values[(head + offset) % capacity])) }
        let position = samples.firstIndex { $0.0 > time } ?? samples.count
        samples.insert((time, value), at: position)
        let overflow = overflowed
        removeAll()
        for (sampleTime, sampleValue) in samples { add(sampleValue, at: sampleTime) }
        overflowed = overflow + max(0, samples.count - capacity)
    }

    /// Drops every sample at or before `time` (the instant a window ending at `time + length` begins).
    @inline(__always)
    public mutating func expire(through time: Int64) {
        while count > 0, times[head] <= time { removeOldest() }
    }

    /// Empties the window (after a step of the clock).
    public mutating func removeAll() {
        while count > 0 { removeOldest() }
        integerSum = 0
        sum = 0
        compensation = 0
    }

    @inline(__always)
    private mutating func removeOldest() {
        let value = values[head]
        if exactCounts {
            integerSum &-= Int64(value)
        } else {
            addCompensated(-value)
        }
        if minimumCount > 0, minimumQueue[minimumHead] == firstNumber {
            minimumHead = (minimumHead + 1) % capacity
            minimumCount -= 1
        }
        if maximumCount > 0, maximumQueue[maximumHead] == firstNumber {
            maximumHead = (maximumHead + 1) % capacity
            maximumCount -= 1
        }
        head = (head + 1) % capacity
        count -= 1
        firstNumber += 1
        if count == 0 {
            sum = 0
            compensation = 0
        }
    }

    @inline(__always)
    private mutating func addCompensated(_ value: Double) {
        // Neumaier's variant of Kahan summation: exact for sums of a few exactly representable values.
        let total = sum + value
        if abs(sum) >= abs(value) {
            compensation += (sum - total) + value
        } else {
            compensation += (value - total) + sum
        }
        sum = total
    }
}
