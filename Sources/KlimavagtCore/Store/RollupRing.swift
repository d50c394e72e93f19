/// Consolidated steps of a series, as RRD's archives keep them: count, sum, minimum, maximum and last value per step.
///
/// Memory is fixed at creation: `slots` steps in a ring indexed by step number, so a sample updates its step in O(1),
/// a late sample still finds its step while the ring holds it, and a jump of the clock, forward or back, only
/// reuses slots (each slot knows which step it holds).
public struct RollupRing: Sendable {
    public let step: Int64
    public let slots: Int
    var stepNumbers: [Int64]
    var counts: [Int64]
    var sums: [Double]
    var minimums: [Double]
    var maximums: [Double]
    var lasts: [Double]
    var lastTimes: [Int64]
    /// The newest step written.
    public internal(set) var newestStep: Int64 = .min
    // The step last written to and its slot, so samples within it need no division.
    var cachedStart: Int64 = .max
    var cachedNumber: Int64 = 0
    var cachedSlot = 0

    /// One consolidated step.
    public struct Point: Sendable, Equatable {
        public var start: Int64
        public var count: Int64
        public var sum: Double
        public var minimum: Double
        public var maximum: Double
        public var last: Double
        public var average: Double { count > 0 ? sum / Double(count) : .nan }
    }

    public init(step: Duration, slots: Int) {
        precondition(slots > 0)
        let (seconds, attoseconds) = step.components
        self.step = max(1, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        self.slots = slots
        stepNumbers = Array(repeating: .min, count: slots)
        counts = Array(repeating: 0, count: slots)
        sums = Array(repeating: 0, count: slots)
        minimums = Array(repeating: 0, count: slots)
        maximums = Array(repeating: 0, count: slots)
        lasts = Array(repeating: 0, count: slots)
        lastTimes = Array(repeating: .min, count: slots)
    }

    @inline(__always)
    func stepNumber(of time: Int64) -> Int64 {
        time >= 0 ? time / step : (time - step + 1) / step
    }

    /// Adds a sample; returns false if its step has already left the ring.
    @discardableResult
    @inline(__always)
    public mutating func add(_ value: Double, at time: Int64) -> Bool {
        let number: Int64
        let slot: Int
        if time >= cachedStart, time &- cachedStart < step {
            number = cachedNumber
            slot = cachedSlot
        } else {
            number = stepNumber(of: time)
            if newestStep != .min, number <= newestStep - Int64(slots) { return false }
            slot = Int(((number % Int64(slots)) + Int64(slots)) % Int64(slots))
            cachedStart = number &* step
            cachedNumber = number
            cachedSlot = slot
        }
        if stepNumbers[slot] != number {
            stepNumbers[slot] = number
            counts[slot] = 1
            sums[slot] = value
            minimums[slot] = value
            maximums[slot] = value
            lasts[slot] = value
            lastTimes[slot] = time
        } else {
            counts[slot] += 1
            sums[slot] += value
            if value < minimums[slot] { minimums[slot] = value }
            if value > maximums[slot] { maximums[slot] = value }
            if time >= lastTimes[slot] {
                lasts[slot] = value
                lastTimes[slot] = time
            }
        }
        if number > newestStep { newestStep = number }
        return true
    }

    /// The steps that start in `[from, to)` and hold samples, oldest first.
    public func points(from: Int64, to: Int64) -> [Point] {
        guard newestStep != .min, from < to else { return [] }
        // Clamped to the steps the ring can hold first, so open-ended ranges (.min, .max) cannot overflow.
        let lowest = newestStep - Int64(slots) + 1
        let first = from <= lowest &* step ? lowest : max(stepNumber(of: from), lowest)
        let last = to > (newestStep &+ 1) &* step ? newestStep : min(stepNumber(of: to - 1), newestStep)
        guard first <= last else { return [] }
        var result: [Point] = []
        for number in first...last {
            let slot = Int(((number % Int64(slots)) + Int64(slots)) % Int64(slots))
            guard stepNumbers[slot] == number else { continue }
            result.append(Point(start: number * step, count: counts[slot], sum: sums[slot], minimum: minimums[slot],
                                maximum: maximums[slot], last: lasts[slot]))
        }
        return result
    }
}
