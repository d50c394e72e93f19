extension Series {
    /// The whole series as bytes: open samples, compressed blocks, rollups, windows and counters.
    public func snapshot(into writer: inout BinaryWriter) {
        writeShape(into: &writer)
        for value in [counters.appended, counters.lateInserted, counters.rejectedTooLate, counters.evictedBlocks,
                      counters.evictedSamples, counters.sealedBlocks, counters.sealedBits, counters.sealedSamples,
                      counters.clockSteps] {
            writer.writeSignedVarint(value as Int64)
        }
        writer.writeVarint(UInt64(openCount))
        for index in 0..<openCount {
            writer.write(openTimes[index])
            writer.write(openValues[index])
        }
        writer.writeVarint(UInt64(blockCount))
        for offset in 0..<blockCount {
            let block = blocks[(blockHead + offset) % blocks.count]
            writer.writeVarint(UInt64(block.count))
            writer.write(block.firstTime)
            writer.write(block.lastTime)
            writer.writeVarint(UInt64(block.timeExponent))
            writer.writeSignedVarint(Int64(block.decimals ?? -1))
            writer.writeVarint(UInt64(block.words))
            writer.writeVarint(UInt64(block.bits))
            for word in 0..<block.words { writer.write(words[block.word + word]) }
        }
        for ring in rollups {
            writer.write(ring.newestStep)
            let held = ring.held
            writer.writeVarint(UInt64(held.count))
            for step in held {
                // The place the step had when rings were allocated whole, which readers of that format expect.
                let remainder = step.number % Int64(ring.slots)
                let place: Int64 = remainder < 0 ? remainder + Int64(ring.slots) : remainder
                writer.writeVarint(UInt64(place))
                writer.write(step.number)
                writer.writeSignedVarint(step.count)
                writer.write(step.sum)
                writer.write(step.minimum)
                writer.write(step.maximum)
                writer.write(step.last)
                writer.write(step.lastTime)
            }
        }
        for window in windows {
            writer.writeVarint(UInt64(window.count))
            for offset in 0..<window.count {
                writer.write(window.times[(window.head + offset) % window.capacity])
                writer.write(window.values[(window.head + offset) % window.capacity])
            }
            writer.writeVarint(UInt64(window.overflowed))
        }
    }

    /// The configuration as it shapes the stored state; a snapshot restores exactly only into the same shape.
    func writeShape(into writer: inout BinaryWriter) {
        writer.write(configuration.id)
        writer.writeVarint(UInt64(wordCapacity))
        writer.writeVarint(UInt64(blockCapacity))
        writer.writeVarint(UInt64(configuration.blockSize))
        writer.writeSignedVarint(tolerance)
        writer.writeSignedVarint(resolution)
        writer.writeVarint(UInt64(configuration.isCount ? 1 : 0))
        writer.writeVarint(UInt64(rollups.count))
        for ring in rollups {
            writer.writeSignedVarint(ring.step)
            writer.writeVarint(UInt64(ring.slots))
        }
        writer.writeVarint(UInt64(windows.count))
        for window in windows {
            writer.writeSignedVarint(window.length)
            writer.writeVarint(UInt64(window.capacity))
        }
    }

    /// Restores a series from its snapshot. With another configuration than the one it was written with, the raw
    /// samples are appended afresh (rollups older than them are then lost); `nil` means the bytes are damaged.
    public init?(restoring reader: inout BinaryReader, configuration: SeriesConfiguration) {
        self.init(configuration)
        var fresh = BinaryWriter()
        writeShape(into: &fresh)
        // The stored shape: the same bytes as this configuration's, or another shape whose state cannot be used.
        let shapeStart = reader.position
        guard reader.readString() != nil else { return nil }
        for _ in 0..<6 { guard reader.readVarint() != nil else { return nil } }
        guard let ringCount = reader.readVarint(), ringCount < 64 else { return nil }
        for _ in 0..<(ringCount * 2) { guard reader.readVarint() != nil else { return nil } }
        guard let windowCount = reader.readVarint(), windowCount < 64 else { return nil }
        for _ in 0..<(windowCount * 2) { guard reader.readVarint() != nil else { return nil } }
        let sameShape = Array(reader.bytes(from: shapeStart, to: reader.position)) == fresh.bytes

        var fields: [Int64] = []
        for _ in 0..<9 {
            guard let value = reader.readSignedVarint() else { return nil }
            fields.append(value)
        }
        guard let open = reader.readVarint(), open <= (sameShape ? UInt64(openCapacity) : 1 << 24) else { return nil }
        var openSamples: [(Int64, Double)] = []
        for _ in 0..<open {
            guard let time = reader.readInt64(), let value = reader.readDouble() else { return nil }
            openSamples.append((time, value))
        }
        guard let blockTotal = reader.readVarint(), blockTotal <= 1 << 32 else { return nil }
        var restoredBlocks: [(SampleBlock, [UInt64])] = []
        for _ in 0..<blockTotal {
            guard let count = reader.readVarint(), count > 0, let first = reader.readInt64(), let last = reader.readInt64(),
                  let exponent = reader.readVarint(), exponent <= 9, let decimals = reader.readSignedVarint(),
                  decimals >= -1, decimals <= 6, let wordCount = reader.readVarint(), wordCount <= 1 << 24,
                  let bits = reader.readVarint(), bits <= wordCount * 64
            else { return nil }
            var blockWords: [UInt64] = []
            for _ in 0..<wordCount {
                guard let word = reader.readUInt64() else { return nil }
                blockWords.append(word)
            }
            restoredBlocks.append((SampleBlock(
                count: Int(count), firstTime: first, lastTime: last, timeExponent: Int(exponent),
                decimals: decimals < 0 ? nil : Int(decimals), word: 0, words: Int(wordCount), bits: Int(bits)),
                blockWords))
        }
        typealias Slot = (slot: Int, number: Int64, count: Int64, sum: Double, minimum: Double, maximum: Double,
                          last: Double, lastTime: Int64)
        var ringStates: [(newest: Int64, slots: [Slot])] = []
        for _ in 0..<ringCount {
            guard let newest = reader.readInt64(), let used = reader.readVarint(), used <= 1 << 24 else { return nil }
            var slots: [Slot] = []
            for _ in 0..<used {
                guard let slot = reader.readVarint(), let number = reader.readInt64(),
                      let count = reader.readSignedVarint(), let sum = reader.readDouble(),
                      let minimum = reader.readDouble(), let maximum = reader.readDouble(),
                      let last = reader.readDouble(), let lastTime = reader.readInt64()
                else { return nil }
                slots.append((Int(slot), number, count, sum, minimum, maximum, last, lastTime))
            }
            ringStates.append((newest, slots))
        }
        var windowStates: [(samples: [(Int64, Double)], overflowed: Int)] = []
        for _ in 0..<windowCount {
            guard let count = reader.readVarint(), count <= 1 << 24 else { return nil }
            var samples: [(Int64, Double)] = []
            for _ in 0..<count {
                guard let time = reader.readInt64(), let value = reader.readDouble() else { return nil }
                samples.append((time, value))
            }
            guard let overflowed = reader.readVarint() else { return nil }
            windowStates.append((samples, Int(overflowed)))
        }

        guard sameShape else {
            // Another shape: the raw samples are appended afresh.
            for (block, blockWords) in restoredBlocks {
                var times: [Int64] = []
                var values: [Double] = []
                blockWords.withUnsafeBufferPointer { SampleBlockCodec.decode(block, from: $0, times: &times, values: &values) }
                for index in times.indices { append(values[index], at: times[index]) }
            }
            for (time, value) in openSamples { append(value, at: time) }
            return
        }
        (counters.appended, counters.lateInserted, counters.rejectedTooLate, counters.evictedBlocks,
         counters.evictedSamples, counters.sealedBlocks, counters.sealedBits, counters.sealedSamples,
         counters.clockSteps) = (fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[6], fields[7],
                                 fields[8])
        // Blocks packed from the start of the ring, oldest first.
        let totalWords = restoredBlocks.reduce(0) { $0 + $1.1.count }
        guard totalWords <= wordCapacity, restoredBlocks.count <= blockCapacity else { return nil }
        words = Array(repeating: 0, count: min(wordCapacity, max(totalWords, 64)))
        growBlockIndex(to: max(restoredBlocks.count, 8))
        var position = 0
        for (block, blockWords) in restoredBlocks {
            guard position + blockWords.count <= words.count, blockCount < blocks.count else { return nil }
            var placed = block
            placed.word = position
            for (offset, word) in blockWords.enumerated() { words[position + offset] = word }
            blocks[(blockHead + blockCount) % blocks.count] = placed
            blockCount += 1
            position += blockWords.count
        }
        writeWord = position
        openTimes = Array(repeating: 0, count: min(openCapacity, max(16, openSamples.count)))
        openValues = Array(repeating: 0, count: openTimes.count)
        for (index, sample) in openSamples.enumerated() {
            openTimes[index] = sample.0
            openValues[index] = sample.1
        }
        openCount = openSamples.count
        for (ring, state) in ringStates.enumerated() {
            rollups[ring].newestStep = state.newest
            // Oldest first, so each step goes in at the end (earlier versions wrote them in the order of their places).
            for slot in state.slots.sorted(by: { $0.number < $1.number }) where slot.slot < rollups[ring].slots {
                rollups[ring].restore(number: slot.number, count: slot.count, sum: slot.sum, minimum: slot.minimum,
                                      maximum: slot.maximum, last: slot.last, lastTime: slot.lastTime)
            }
        }
        for (index, state) in windowStates.enumerated() {
            for (time, value) in state.samples { windows[index].add(value, at: time) }
            windows[index].overflowed = state.overflowed
        }
    }
}
