/// Consolidated steps of a series, as RRD's archives keep them: count, sum, minimum, maximum and last value per step.
///
/// The steps that hold samples are kept oldest first in a ring that grows as they arrive, doubling up to `slots`
/// places, so memory follows what is stored: a sensor that reports every 15 minutes holds 96 steps of a day's ring
/// of 1 440 one-minute steps, not 1 440. A sample in the newest step, or a new newest step, costs O(1); a late
/// sample finds its step by binary search while the ring holds it (a new step between two held ones shifts the
/// newer ones, O(steps held), which only late samples and a clock stepped back do). A step leaves when a newer one
/// is `slots` steps or more ahead of it.
public struct RollupRing: Sendable {
    public let step: Int64
    public let slots: Int
    // The held steps, oldest first, from `head` in a ring of `stepNumbers.count` places (all seven arrays the same).
    var stepNumbers: [Int64] = []
    var counts: [Int64] = []
    var sums: [Double] = []
    var minimums: [Double] = []
    var maximums: [Double] = []
    var lasts: [Double] = []
    var lastTimes: [Int64] = []
    var head = 0
    /// How many steps are held.
    public private(set) var count = 0
    /// The newest step written.
    public internal(set) var newestStep: Int64 = .min
    // The step last written to and its place, so samples within it need no division or search; a growth or an
    // insertion moves places and clears it.
    var cachedStart: Int64 = .max
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
    }

    /// Places allocated now (at most `slots`).
    public var allocated: Int { stepNumbers.count }

    /// The step `time` falls in, rounded towards negative infinity (no overflow at the ends of `Int64`).
    @inline(__always)
    func stepNumber(of time: Int64) -> Int64 {
        let quotient = time / step
        return time % step < 0 ? quotient - 1 : quotient
    }

    /// Adds a sample; returns false if its step has already left the ring.
    @discardableResult
    @inline(__always)
    public mutating func add(_ value: Double, at time: Int64) -> Bool {
        if time >= cachedStart, time &- cachedStart < step {
            update(cachedSlot, value, at: time)
            return true
        }
        let number = stepNumber(of: time)
        if newestStep != .min, number < oldestKept { return false }
        let slot: Int
        if count == 0 || number > stepNumbers[place(count - 1)] {
            if number > newestStep { newestStep = number }
            dropExpired()
            slot = insert(number, at: count)
            start(slot, number, value, at: time)
        } else {
            let index = firstIndex(notBefore: number)
            if index < count, stepNumbers[place(index)] == number {
                slot = place(index)
                update(slot, value, at: time)
            } else {
                slot = insert(number, at: index)
                start(slot, number, value, at: time)
            }
        }
        cachedStart = number &* step
        cachedSlot = slot
        return true
    }

    /// The steps that start in `[from, to)` and hold samples, oldest first.
    public func points(from: Int64, to: Int64) -> [Point] {
        guard count > 0, from < to else { return [] }
        // Open-ended ranges (.min, .max) start at the oldest step held, so no step number is computed from them.
        var index = from <= stepNumbers[head] &* step ? 0 : firstIndex(notBefore: stepNumber(of: from))
        var result: [Point] = []
        while index < count {
            let slot = place(index)
            let start = stepNumbers[slot] &* step
            guard start < to else { break }
            result.append(Point(start: start, count: counts[slot], sum: sums[slot], minimum: minimums[slot],
                                maximum: maximums[slot], last: lasts[slot]))
            index += 1
        }
        return result
    }

    /// The held steps as they are stored, oldest first, for a snapshot.
    var held: [(number: Int64, count: Int64, sum: Double, minimum: Double, maximum: Double, last: Double,
                lastTime: Int64)] {
        (0..<count).map { index in
            let slot = place(index)
            return (stepNumbers[slot], counts[slot], sums[slot], minimums[slot], maximums[slot], lasts[slot],
                    lastTimes[slot])
        }
    }

    /// Puts back a step from a snapshot (in any order); one the ring would not hold is left out.
    mutating func restore(number: Int64, count stepCount: Int64, sum: Double, minimum: Double, maximum: Double,
                          last: Double, lastTime: Int64)
    {
        guard newestStep != .min, number <= newestStep, number >= oldestKept else { return }
        let index = firstIndex(notBefore: number)
        guard index == count || stepNumbers[place(index)] != number else { return }
        let slot = insert(number, at: index)
        (counts[slot], sums[slot], minimums[slot], maximums[slot], lasts[slot], lastTimes[slot])
            = (stepCount, sum, minimum, maximum, last, lastTime)
        cachedStart = .max
    }

    // MARK: - The ring

    /// The oldest step the ring may hold: `slots − 1` before the newest (saturating: a snapshot's newest step is
    /// read from a file).
    @inline(__always)
    var oldestKept: Int64 {
        let (difference, overflow) = newestStep.subtractingReportingOverflow(Int64(slots) - 1)
        return overflow ? .min : difference
    }

    /// The place of the `index`-th oldest held step.
    @inline(__always)
    private func place(_ index: Int) -> Int {
        let position = head + index
        return position >= stepNumbers.count ? position - stepNumbers.count : position
    }

    /// The index of the oldest held step numbered `number` or later (`count` if none).
    private func firstIndex(notBefore number: Int64) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if stepNumbers[place(middle)] < number { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Lets go of the steps a newer one is `slots` or more ahead of.
    @inline(__always)
    private mutating func dropExpired() {
        let oldestKept = self.oldestKept
        while count > 0, stepNumbers[head] < oldestKept {
            head = head + 1 == stepNumbers.count ? 0 : head + 1
            count -= 1
        }
        if count == 0 { head = 0 }
    }

    /// Makes room for step `number` as the `index`-th oldest and returns its place; the caller fills it.
    private mutating func insert(_ number: Int64, at index: Int) -> Int {
        if count == stepNumbers.count { grow() }
        if index < count {
            // Shift the newer steps one place on (only late samples and a clock stepped back get here).
            var position = count
            while position > index {
                let to = place(position)
                let from = place(position - 1)
                stepNumbers[to] = stepNumbers[from]
                counts[to] = counts[from]
                sums[to] = sums[from]
                minimums[to] = minimums[from]
                maximums[to] = maximums[from]
                lasts[to] = lasts[from]
                lastTimes[to] = lastTimes[from]
                position -= 1
            }
            cachedStart = .max
        }
        count += 1
        let slot = place(index)
        stepNumbers[slot] = number
        return slot
    }

    /// Doubles the places (at least 8, at most `slots`), the held steps moved to the front in order.
    private mutating func grow() {
        let size = min(slots, max(8, stepNumbers.count * 2))
        precondition(size > count, "a rollup ring holds at most `slots` steps")
        func moved<T>(_ array: [T], _ filler: T) -> [T] {
            var result: [T] = []
            result.reserveCapacity(size)
            for index in 0..<count { result.append(array[place(index)]) }
            result.append(contentsOf: repeatElement(filler, count: size - count))
            return result
        }
        let numbers = moved(stepNumbers, .min)
        counts = moved(counts, 0)
        sums = moved(sums, 0)
        minimums = moved(minimums, 0)
        maximums = moved(maximums, 0)
        lasts = moved(lasts, 0)
        lastTimes = moved(lastTimes, .min)
        stepNumbers = numbers
        head = 0
        cachedStart = .max
    }

    @inline(__always)
    private mutating func start(_ slot: Int, _ number: Int64, _ value: Double, at time: Int64) {
        stepNumbers[slot] = number
        counts[slot] = 1
        sums[slot] = value
        minimums[slot] = value
        maximums[slot] = value
        lasts[slot] = value
        lastTimes[slot] = time
    }

    @inline(__always)
    private mutating func update(_ slot: Int, _ value: Double, at time: Int64) {
        counts[slot] += 1
        sums[slot] += value
        if value < minimums[slot] { minimums[slot] = value }
        if value > maximums[slot] { maximums[slot] = value }
        if time >= lastTimes[slot] {
            lasts[slot] = value
            lastTimes[slot] = time
        }
    }
}
