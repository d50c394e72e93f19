/// One sensor's time series: recent samples open for late arrivals, older ones sealed into compressed blocks in a
/// fixed ring of memory, rollups per step, and rolling windows.
///
/// Memory grows with what is stored, up to sizes fixed by the configuration, and never past them: the open samples,
/// the compressed ring and its block index, the rollup rings and the windows each double as they fill, to their
/// caps, so a series that has taken a few readings costs a few hundred bytes and a full one its configured size
/// (once at its caps, appending allocates nothing). Samples carry
/// event time (nanoseconds, kept to the configured resolution); a sample older than the newest is inserted in order if it is within the late tolerance
/// and the open samples still cover it, else rejected and counted. Not thread-safe: one owner appends and reads.
public struct Series: Sendable {
    public let configuration: SeriesConfiguration
    // Open samples, in time order, kept for late arrivals; the oldest block's worth is sealed when they are full.
    var openTimes: [Int64]
    var openValues: [Double]
    public internal(set) var openCount = 0
    // The compressed ring: blocks of words written one after another, wrapping to the start.
    var words: [UInt64]
    var writeWord = 0
    var blocks: [SampleBlock]
    var blockHead = 0
    public internal(set) var blockCount = 0
    var scratch: [UInt64] = []
    /// The caps: open samples, words of the compressed ring, blocks in its index.
    let openCapacity: Int
    let wordCapacity: Int
    let blockCapacity: Int
    public internal(set) var rollups: [RollupRing]
    public internal(set) var windows: [RollingWindow]
    var tolerance: Int64
    /// Event times are kept to this many nanoseconds.
    public let resolution: Int64

    /// What the series has taken in and let go.
    public struct Counters: Sendable, Equatable {
        public var appended: Int64 = 0
        public var lateInserted: Int64 = 0
        public var rejectedTooLate: Int64 = 0
        public var evictedBlocks: Int64 = 0
        public var evictedSamples: Int64 = 0
        public var sealedBlocks: Int64 = 0
        /// Bits of compressed samples produced by sealing, for the bytes-per-sample figure.
        public var sealedBits: Int64 = 0
        public var sealedSamples: Int64 = 0
        public var clockSteps: Int64 = 0
    }

    public internal(set) var counters = Counters()

    public init(_ configuration: SeriesConfiguration) {
        self.configuration = configuration
        openCapacity = 2 * configuration.blockSize
        openTimes = []
        openValues = []
        wordCapacity = max(SampleBlockCodec.maximumWords(for: configuration.blockSize), configuration.rawBytes / 8)
        words = []
        blockCapacity = max(4, wordCapacity / 4)
        blocks = []
        rollups = configuration.rollups.map { RollupRing(step: $0.step, slots: $0.slots) }
        windows = configuration.windows.map {
            RollingWindow(length: $0.length, capacity: $0.capacity, exactCounts: configuration.isCount)
        }
        let (seconds, attoseconds) = configuration.lateTolerance.components
        tolerance = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        let (resolutionSeconds, resolutionAttoseconds) = configuration.timeResolution.components
        resolution = max(1, resolutionSeconds * 1_000_000_000 + resolutionAttoseconds / 1_000_000_000)
    }

    /// The newest sample's time.
    public var newestTime: Int64? {
        if openCount > 0 { return openTimes[openCount - 1] }
        return blockCount > 0 ? blocks[(blockHead + blockCount - 1) % blocks.count].lastTime : nil
    }

    /// Samples held now: open and in sealed blocks.
    public var retainedSampleCount: Int {
        var total = openCount
        for offset in 0..<blockCount { total += blocks[(blockHead + offset) % blocks.count].count }
        return total
    }

    /// Bytes of the arrays the series has allocated (their elements; not Swift's headers or spare capacity).
    public var allocatedBytes: Int {
        let sampleBlock = MemoryLayout<SampleBlock>.stride
        let rings = rollups.reduce(0) { $0 + $1.allocated * 56 }
        let windowBytes = windows.reduce(0) { $0 + $1.capacity * 32 }
        return (openTimes.count + openValues.count + words.count + scratch.count) * 8 + blocks.count * sampleBlock
            + rings + windowBytes
    }

    /// What `allocatedBytes` reaches at the caps of the configuration.
    public var cappedBytes: Int {
        let rings = rollups.reduce(0) { $0 + $1.slots * 56 }
        let windowBytes = windows.reduce(0) { $0 + $1.capacity * 32 }
        return (2 * openCapacity + wordCapacity + SampleBlockCodec.maximumWords(for: configuration.blockSize)) * 8
            + blockCapacity * MemoryLayout<SampleBlock>.stride + rings + windowBytes
    }

    /// Bytes the compressed blocks hold now.
    public var compressedBytes: Int {
        var total = 0
        for index in 0..<blockCount { total += blocks[(blockHead + index) % blocks.count].words * 8 }
        return total
    }

    public enum AppendOutcome: Sendable, Equatable {
        case appended
        case insertedLate
        case rejectedTooLate
    }

    /// Appends a sample; O(1) amortised and allocation-free when samples come in order.
    @discardableResult
    public mutating func append(_ value: Double, at exactTime: Int64) -> AppendOutcome {
        let time = Self.truncate(exactTime, to: resolution)
        if openCount > 0, time < openTimes[openCount - 1] {
            return insertLate(value, at: time)
        }
        makeOpenRoom()
        openTimes[openCount] = time
        openValues[openCount] = value
        openCount += 1
        counters.appended += 1
        for index in rollups.indices { rollups[index].add(value, at: time) }
        for index in windows.indices { windows[index].add(value, at: time) }
        return .appended
    }

    /// The time rounded down to the resolution; the usual resolutions divide by constants, which compile to
    /// multiplications (a 64-bit division costs tens of cycles, more than the rest of an append).
    @inline(__always)
    public static func truncate(_ time: Int64, to resolution: Int64) -> Int64 {
        let remainder: Int64
        switch resolution {
        case 1: return time
        case 1_000: remainder = time % 1_000
        case 1_000_000: remainder = time % 1_000_000
        case 1_000_000_000: remainder = time % 1_000_000_000
        default: remainder = time % resolution
        }
        return remainder >= 0 ? time - remainder : time - remainder - resolution
    }

    private mutating func insertLate(_ value: Double, at time: Int64) -> AppendOutcome {
        let newest = openTimes[openCount - 1]
        guard newest &- time <= tolerance, time >= openTimes[0] else {
            counters.rejectedTooLate += 1
            return .rejectedTooLate
        }
        makeOpenRoom()
        guard time >= openTimes[0] else {
            counters.rejectedTooLate += 1
            return .rejectedTooLate
        }
        // After every sample at the same time, so equal times keep their arrival order.
        var low = 0
        var high = openCount
        while low < high {
            let middle = (low + high) / 2
            if openTimes[middle] <= time { low = middle + 1 } else { high = middle }
        }
        var index = openCount
        while index > low {
            openTimes[index] = openTimes[index - 1]
            openValues[index] = openValues[index - 1]
            index -= 1
        }
        openTimes[low] = time
        openValues[low] = value
        openCount += 1
        counters.appended += 1
        counters.lateInserted += 1
        for index in rollups.indices { rollups[index].add(value, at: time) }
        for index in windows.indices { windows[index].insertLate(value, at: time) }
        return .insertedLate
    }

    /// Makes room for one more open sample: the open arrays double (from 16, up to `openCapacity`), or, at their
    /// cap, the oldest block's worth is sealed.
    @inline(__always)
    mutating func makeOpenRoom() {
        guard openCount == openTimes.count else { return }
        guard openTimes.count < openCapacity else {
            seal()
            return
        }
        let added = min(openCapacity, max(16, openTimes.count * 2)) - openTimes.count
        openTimes.append(contentsOf: repeatElement(0, count: added))
        openValues.append(contentsOf: repeatElement(0, count: added))
    }

    /// Seals the oldest block's worth of open samples (all of them with `everything`) into the compressed ring.
    public mutating func seal(everything: Bool = false) {
        let count = everything ? openCount : min(configuration.blockSize, openCount)
        guard count > 0 else { return }
        if scratch.isEmpty { scratch = Array(repeating: 0, count: SampleBlockCodec.maximumWords(for: configuration.blockSize)) }
        let block = openTimes.withUnsafeBufferPointer { times in
            openValues.withUnsafeBufferPointer { values in
                scratch.withUnsafeMutableBufferPointer { output in
                    SampleBlockCodec.encode(times: times, values: values, count: count, into: output)
                }
            }
        }
        store(block)
        counters.sealedBlocks += 1
        counters.sealedBits += Int64(block.bits)
        counters.sealedSamples += Int64(count)
        // Shift the samples left open to the front.
        for index in 0..<(openCount - count) {
            openTimes[index] = openTimes[index + count]
            openValues[index] = openValues[index + count]
        }
        openCount -= count
    }

    private mutating func store(_ encoded: SampleBlock) {
        var block = encoded
        if writeWord + block.words > words.count, words.count < wordCapacity {
            // Not yet wrapped: the ring's words are written from the start, so it grows at its end.
            let size = min(wordCapacity, max(writeWord + block.words, 2 * words.count, 64))
            words.append(contentsOf: repeatElement(0, count: size - words.count))
        }
        if writeWord + block.words > words.count { writeWord = 0 }
        if blockCount == blocks.count, blocks.count < blockCapacity { growBlockIndex(to: max(blockCount + 1, 2 * blocks.count, 8)) }
        let start = writeWord
        let end = start + block.words
        // Evict the oldest blocks that the new one overwrites, and the oldest if the index is full.
        while blockCount > 0 {
            let oldest = blocks[blockHead]
            let overlaps = oldest.word < end && oldest.word + oldest.words > start
            guard overlaps || blockCount == blockCapacity else { break }
            counters.evictedBlocks += 1
            counters.evictedSamples += Int64(oldest.count)
            blockHead = (blockHead + 1) % blocks.count
            blockCount -= 1
        }
        for offset in 0..<block.words { words[start + offset] = scratch[offset] }
        block.word = start
        blocks[(blockHead + blockCount) % blocks.count] = block
        blockCount += 1
        writeWord = end
        if let age = configuration.rawDuration {
            let (seconds, attoseconds) = age.components
            let oldest = block.lastTime &- (seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
            while blockCount > 1, blocks[blockHead].lastTime < oldest {
                counters.evictedBlocks += 1
                counters.evictedSamples += Int64(blocks[blockHead].count)
                blockHead = (blockHead + 1) % blocks.count
                blockCount -= 1
            }
        }
    }

    /// Makes the block index `size` places (at most `blockCapacity`), the blocks moved to its front in order.
    mutating func growBlockIndex(to size: Int) {
        let size = min(blockCapacity, size)
        guard size > blocks.count else { return }
        var moved: [SampleBlock] = []
        moved.reserveCapacity(size)
        for offset in 0..<blockCount { moved.append(blocks[(blockHead + offset) % blocks.count]) }
        moved.append(contentsOf: repeatElement(SampleBlock(count: 0, firstTime: 0, lastTime: 0, timeExponent: 0,
                                                           decimals: nil, word: 0, words: 0, bits: 0),
                                               count: size - blockCount))
        blocks = moved
        blockHead = 0
    }

    /// The samples with times in `[from, to)`, oldest first.
    public func samples(from: Int64, to: Int64) -> (times: [Int64], values: [Double]) {
        var times: [Int64] = []
        var values: [Double] = []
        words.withUnsafeBufferPointer { all in
            for index in 0..<blockCount {
                let block = blocks[(blockHead + index) % blocks.count]
                guard block.lastTime >= from, block.firstTime < to else { continue }
                var blockTimes: [Int64] = []
                var blockValues: [Double] = []
                blockTimes.reserveCapacity(block.count)
                blockValues.reserveCapacity(block.count)
                SampleBlockCodec.decode(block, from: UnsafeBufferPointer(rebasing: all[block.word..<(block.word + block.words)]),
                                        times: &blockTimes, values: &blockValues)
                for position in 0..<block.count where blockTimes[position] >= from && blockTimes[position] < to {
                    times.append(blockTimes[position])
                    values.append(blockValues[position])
                }
            }
        }
        for position in 0..<openCount where openTimes[position] >= from && openTimes[position] < to {
            times.append(openTimes[position])
            values.append(openValues[position])
        }
        if !isSorted(times) {
            // After a step of the clock back, blocks from before and after it overlap in time.
            let order = times.indices.sorted { (times[$0], $0) < (times[$1], $1) }
            return (order.map { times[$0] }, order.map { values[$0] })
        }
        return (times, values)
    }

    private func isSorted(_ times: [Int64]) -> Bool {
        var previous = Int64.min
        for time in times {
            if time < previous { return false }
            previous = time
        }
        return true
    }

    /// Consolidated points at `step` for `[from, to)`: from the rollup with that step if there is one and it still
    /// covers the range, else computed from the raw samples.
    public func downsampled(from: Int64, to: Int64, step: Duration) -> [RollupRing.Point] {
        let (seconds, attoseconds) = step.components
        let stepNanos = max(1, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        if let ring = rollups.first(where: { $0.step == stepNanos }),
           ring.newestStep != .min, ring.stepNumber(of: from) >= ring.oldestKept
        {
            return ring.points(from: from, to: to)
        }
        var ring = RollupRing(step: step, slots: Int(min(Int64(1_000_000), max(1, (to - from) / stepNanos + 1))))
        let (times, values) = samples(from: from, to: to)
        for index in times.indices { ring.add(values[index], at: times[index]) }
        return ring.points(from: from, to: to)
    }

    /// Tells the series the wall clock was stepped (a board without a real-time clock syncing to NTP): the open
    /// samples are sealed as they are and the rolling windows emptied, so samples on the new clock are taken as they
    /// come, neither rejected as late nor summed with samples from the old clock.
    public mutating func clockStepped() {
        seal(everything: true)
        for index in windows.indices { windows[index].removeAll() }
        counters.clockSteps += 1
    }
}
