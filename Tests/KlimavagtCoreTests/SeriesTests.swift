import KlimavagtCore
import PropertyBased
import Testing

@Suite("The time-series store")
struct SeriesTests {
    static let second: Int64 = 1_000_000_000

    @Test("a full ring drops the oldest blocks first; what is left is exactly the newest samples, in order")
    func ringWrapAround() async {
        await propertyCheck(count: 40, input: Gen.int(in: 100...6000), Gen.int(in: 16...128), Gen.int(in: 1...4)) {
            total, blockSize, kilobytes in
            var series = Series(SeriesConfiguration(id: "s", rawBytes: kilobytes * 1024, blockSize: blockSize))
            var times: [Int64] = []
            var values: [Double] = []
            for index in 0..<total {
                let time = Int64(index) * Self.second + Int64(index % 7) * 1_000_000
                let value = Double(index % 97) / 10 + Double(index / 50)
                series.append(value, at: time)
                times.append(time)
                values.append(value)
            }
            let kept = series.samples(from: .min, to: .max)
            let evicted = Int(series.counters.evictedSamples)
            #expect(kept.times.count + evicted == total)
            #expect(kept.times == Array(times.suffix(kept.times.count)))
            #expect(kept.values.map(\.bitPattern) == Array(values.suffix(kept.values.count)).map(\.bitPattern))
            #expect(series.compressedBytes <= max(kilobytes * 1024, SampleBlockCodec.maximumWords(for: blockSize) * 8))
        }
    }

    @Test("rollups equal brute-force consolidation: count, sum, minimum, maximum, last")
    func rollups() async {
        await propertyCheck(count: 60, input: Gen.int(in: 0...40).array(of: 1...2000), Gen.int(in: 1...90)) { gaps, stepSeconds in
            var series = Series(SeriesConfiguration(
                id: "rain", rollups: [.init(step: .seconds(Int64(stepSeconds)), slots: 100_000)], isCount: true))
            var time: Int64 = 1_700_000_000 * Self.second
            var samples: [(Int64, Double)] = []
            for gap in gaps {
                time += Int64(gap) * Self.second / 3
                let tips = Double(gap % 5)
                series.append(tips, at: time)
                samples.append((time, tips))
            }
            let step = Int64(stepSeconds) * Self.second
            let points = series.rollups[0].points(from: samples.first!.0, to: time + 1)
            var expected: [Int64: [Double]] = [:]
            for (sampleTime, value) in samples { expected[sampleTime / step * step, default: []].append(value) }
            #expect(points.map(\.start) == expected.keys.sorted())
            for point in points {
                let values = expected[point.start]!
                #expect(point.count == Int64(values.count))
                #expect(point.sum == values.reduce(0, +))
                #expect(point.minimum == values.min())
                #expect(point.maximum == values.max())
                #expect(point.last == values.last)
            }
        }
    }

    @Test("a growing rollup ring holds exactly the steps a whole ring would: late samples, jumps back and forward")
    func rollupRingAgainstModel() async {
        // Each move is a step offset from the newest step so far (negative: late, or a clock stepped back).
        await propertyCheck(count: 100, input: Gen.int(in: -40...12).array(of: 1...600), Gen.int(in: 1...64)) {
            moves, slots in
            var ring = RollupRing(step: .seconds(60), slots: slots)
            var model: [Int64: (count: Int64, sum: Double, minimum: Double, maximum: Double, last: Double,
                                lastTime: Int64)] = [:]
            var newest: Int64?
            var mostHeld = 0
            for (index, move) in moves.enumerated() {
                let number = (newest ?? 1_000) + Int64(move)
                let time = number * 60 * Self.second + Int64(index % 59) * Self.second
                let value = Double((index * 37) % 101) - 50
                let taken = ring.add(value, at: time)
                if let newest, number <= newest - Int64(slots) {
                    #expect(!taken)   // its step has left the ring
                    continue
                }
                #expect(taken)
                if let old = model[number] {
                    let latest = time >= old.lastTime   // the last value is the one of the latest time in the step
                    model[number] = (old.count + 1, old.sum + value, min(old.minimum, value), max(old.maximum, value),
                                     latest ? value : old.last, latest ? time : old.lastTime)
                } else {
                    model[number] = (1, value, value, value, value, time)
                }
                newest = max(newest ?? number, number)
                for key in model.keys where key <= newest! - Int64(slots) { model[key] = nil }
                mostHeld = max(mostHeld, model.count)
            }
            let points = ring.points(from: .min, to: .max)
            #expect(points.map(\.start) == model.keys.sorted().map { $0 * 60 * Self.second })
            for point in points {
                let expected = model[point.start / (60 * Self.second)]!
                #expect(point.count == expected.count && point.sum == expected.sum && point.minimum == expected.minimum
                        && point.maximum == expected.maximum && point.last == expected.last)
            }
            #expect(ring.allocated <= slots)
            #expect(ring.count == model.count)
            #expect(ring.allocated <= max(8, 2 * mostHeld))   // memory follows the most steps held (it never shrinks)
            // A range query in the middle gives the same steps as the whole, cut to it.
            if points.count > 1 {
                let middle = points[points.count / 2].start
                #expect(ring.points(from: middle, to: .max) == points.filter { $0.start >= middle })
                #expect(ring.points(from: .min, to: middle) == points.filter { $0.start < middle })
            }
        }
    }

    @Test("memory follows what is stored: a series of a few readings is small, a full one stops at its caps")
    func memoryGrowsToCaps() {
        var series = Series(SeriesConfiguration(id: "level", rawBytes: 64 * 1024))
        for index in 0..<10 { series.append(Double(index), at: Int64(index) * 60 * Self.second) }
        #expect(series.allocatedBytes < 2_048)
        for index in 10..<200_000 { series.append(Double(index % 300), at: Int64(index) * 60 * Self.second) }
        let full = series.allocatedBytes
        #expect(full <= series.cappedBytes)
        for index in 200_000..<210_000 { series.append(Double(index % 300), at: Int64(index) * 60 * Self.second) }
        #expect(series.allocatedBytes == full)   // at its caps, appending allocates nothing more
        #expect(series.counters.evictedBlocks > 0)
    }

    @Test("a rolling sum of tips equals the brute-force sum over the same samples exactly, at every sample")
    func rollingWindow() async {
        await propertyCheck(count: 60, input: Gen.int(in: 0...600).array(of: 1...1500)) { gaps in
            let window: Int64 = 1800 * Self.second
            var series = Series(SeriesConfiguration(
                id: "rain", windows: [.init(length: .seconds(1800), capacity: 4096)], isCount: true))
            var time: Int64 = 0
            var samples: [(Int64, Double)] = []
            for gap in gaps {
                time += Int64(gap) * Self.second / 2 + Int64(gap % 3)
                let tips = Double(1 + gap % 3)
                series.append(tips, at: time)
                samples.append((time, tips))
                let inWindow = samples.filter { $0.0 > time - window }.map(\.1)
                let aggregate = series.windows[0].aggregate
                #expect(aggregate.sum == inWindow.reduce(0, +))
                #expect(aggregate.count == inWindow.count)
                #expect(aggregate.minimum == inWindow.min())
                #expect(aggregate.maximum == inWindow.max())
                if aggregate.sum != inWindow.reduce(0, +) { return }
            }
        }
    }

    @Test("late samples within the tolerance are inserted in order; older ones are rejected and counted")
    func lateSamples() {
        var series = Series(SeriesConfiguration(
            id: "level", blockSize: 64, lateTolerance: .seconds(300),
            windows: [.init(length: .seconds(600), capacity: 1024)]))
        for index in 0..<100 where index % 10 != 3 { series.append(Double(index), at: Int64(index) * 10 * Self.second) }
        // LoRaWAN uplinks that arrive minutes late: within 300 s of the newest (990 s) they are inserted in order.
        #expect(series.append(73, at: 730 * Self.second) == .insertedLate)
        #expect(series.append(93, at: 930 * Self.second) == .insertedLate)
        #expect(series.append(3, at: 30 * Self.second) == .rejectedTooLate)
        #expect(series.counters.rejectedTooLate == 1)
        #expect(series.counters.lateInserted == 2)
        let all = series.samples(from: .min, to: .max)
        #expect(all.times == all.times.sorted())
        #expect(all.values.contains(73) && all.values.contains(93) && !all.values.contains(3))
        // The 10-minute window ending at 990 s holds (390 s, 990 s]: samples 40...99 but 43, 53, 63, and 73 and 93.
        let expected = (40...99).filter { $0 % 10 != 3 || $0 == 73 || $0 == 93 }.map(Double.init)
        #expect(series.windows[0].aggregate.sum == expected.reduce(0, +))
        #expect(series.windows[0].aggregate.count == expected.count)
    }

    @Test("a step of the clock neither corrupts the series nor breaks a rolling window")
    func clockStep() {
        var series = Series(SeriesConfiguration(
            id: "rain", blockSize: 32, windows: [.init(length: .seconds(1800), capacity: 512)], isCount: true))
        // A board without a real-time clock starts in 1970 ...
        for index in 0..<50 { series.append(1, at: Int64(index) * 60 * Self.second) }
        #expect(series.windows[0].aggregate.sum == 30)
        // ... then NTP steps it forward to 2026: the old samples leave the window at once.
        let synced: Int64 = 1_796_000_000 * Self.second
        series.append(1, at: synced)
        #expect(series.windows[0].aggregate.sum == 1)
        // A step back (an RTC that ran ahead) would make every new sample late; told of the step, the series takes them.
        #expect(series.append(1, at: synced - 3600 * Self.second) == .rejectedTooLate)
        series.clockStepped()
        #expect(series.append(2, at: synced - 3600 * Self.second) == .appended)
        #expect(series.windows[0].aggregate.sum == 2)
        let all = series.samples(from: .min, to: .max)
        #expect(all.times == all.times.sorted())
        #expect(all.times.count == 52)
        #expect(series.counters.clockSteps == 1)
    }

    @Test("downsampling at a rollup's step reads the rollup; at another step it consolidates raw samples")
    func downsampling() {
        var series = Series(SeriesConfiguration(id: "level"))
        for index in 0..<7200 { series.append(Double(index % 60), at: Int64(index) * Self.second) }
        let minutes = series.downsampled(from: 0, to: 7200 * Self.second, step: .seconds(60))
        #expect(minutes.count == 120)
        #expect(minutes.allSatisfy { $0.count == 60 && $0.minimum == 0 && $0.maximum == 59 && $0.sum == 1770 })
        let fiveMinutes = series.downsampled(from: 0, to: 3600 * Self.second, step: .seconds(300))
        #expect(fiveMinutes.count == 12)
        #expect(fiveMinutes.allSatisfy { $0.count == 300 && $0.sum == 1770 * 5 })
    }

    @Test("a raw duration drops blocks older than it, whatever memory is left")
    func rawDuration() {
        var configuration = SeriesConfiguration(id: "level", rawBytes: 1 << 20, blockSize: 60)
        configuration.rawDuration = .seconds(600)
        var series = Series(configuration)
        for index in 0..<3600 { series.append(Double(index % 10), at: Int64(index) * Self.second) }
        let kept = series.samples(from: .min, to: .max)
        // Sealed blocks end no earlier than 600 s before the newest sealed sample; the open samples follow.
        #expect(kept.times.first! >= (3600 - 120 - 600 - 60) * Self.second)
        #expect(kept.times.last == 3599 * Self.second)
        #expect(Int64(kept.times.count) + series.counters.evictedSamples == 3600)
    }

    @Test("a snapshot restores the same samples, rollups, windows and counters; into another shape, the samples")
    func snapshotRoundTrip() async {
        await propertyCheck(count: 30, input: Gen.int(in: 0...2000).array(of: 1...3000)) { gaps in
            let configuration = SeriesConfiguration(
                id: "s", rawBytes: 8 * 1024, blockSize: 64, rollups: [.init(step: .seconds(60), slots: 120)],
                windows: [.init(length: .seconds(900), capacity: 2048)], isCount: true)
            var series = Series(configuration)
            var time: Int64 = 1_800_000_000 * Self.second
            for gap in gaps {
                time += Int64(gap) * 1_000_000
                series.append(Double(gap % 4), at: time)
            }
            var writer = BinaryWriter()
            series.snapshot(into: &writer)
            var reader = BinaryReader(writer.bytes)
            guard let restored = Series(restoring: &reader, configuration: configuration) else {
                Issue.record("the snapshot did not restore")
                return
            }
            #expect(reader.isAtEnd)
            let before = series.samples(from: .min, to: .max)
            let after = restored.samples(from: .min, to: .max)
            #expect(after.times == before.times)
            #expect(after.values == before.values)
            #expect(restored.counters == series.counters)
            #expect(restored.windows[0].aggregate == series.windows[0].aggregate)
            #expect(restored.rollups[0].points(from: .min, to: .max) == series.rollups[0].points(from: .min, to: .max))
            // Another shape: the raw samples come back, appended afresh.
            var other = configuration
            other.blockSize = 32
            var again = BinaryReader(writer.bytes)
            let reshaped = Series(restoring: &again, configuration: other)
            #expect(reshaped?.samples(from: .min, to: .max).times == before.times)
            // A damaged snapshot is refused, never half-restored.
            var cut = BinaryReader(Array(writer.bytes.prefix(writer.bytes.count / 2)))
            #expect(Series(restoring: &cut, configuration: configuration) == nil)
        }
    }
}
