import Benchmark
import KlimavagtCore

/// The time-series store's own work, in memory: appends, rolling-window updates, block compression both ways, range
/// queries, and the compressed size of realistic series.
let benchmarks: @Sendable () -> Void = {
    durabilityBenchmarks()
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal], timeUnits: .nanoseconds, warmupIterations: 2,
        scalingFactor: .mega, maxDuration: .seconds(10), maxIterations: 30)

    Benchmark("Store: append, 1 Hz level, two rollups, sealed into the compressed ring") { benchmark in
        var series = Series(SeriesConfiguration(id: "level", rawBytes: 1 << 20))
        let values = RealisticSeries.noisyLevel(count: 4096).values
        let start: Int64 = 1_790_000_000_000_000_000
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            series.append(values[index & 4095], at: start &+ Int64(index) &* 1_000_000_000)
        }
        benchmark.stopMeasurement()
        blackHole(series.openCount)
    }

    Benchmark("Store: rolling-window update, 30 min of rain tips, exact sum, min, max") { benchmark in
        var window = RollingWindow(length: .seconds(1800), capacity: 4096, exactCounts: true)
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            window.add(Double(index & 3), at: Int64(index) &* 1_000_000_000)
        }
        benchmark.stopMeasurement()
        blackHole(window.aggregate.sum)
    }

    Benchmark("Store: compress a block of 256 samples (1 Hz noisy level)",
              configuration: .init(scalingFactor: .kilo)) { benchmark in
        let series = RealisticSeries.noisyLevel(count: 256)
        var output = [UInt64](repeating: 0, count: SampleBlockCodec.maximumWords(for: 256))
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let block = series.times.withUnsafeBufferPointer { times in
                series.values.withUnsafeBufferPointer { values in
                    output.withUnsafeMutableBufferPointer {
                        SampleBlockCodec.encode(times: times, values: values, count: 256, into: $0)
                    }
                }
            }
            blackHole(block.bits)
        }
        benchmark.stopMeasurement()
    }

    Benchmark("Store: decompress a block of 256 samples (1 Hz noisy level)",
              configuration: .init(scalingFactor: .kilo)) { benchmark in
        let series = RealisticSeries.noisyLevel(count: 256)
        var output = [UInt64](repeating: 0, count: SampleBlockCodec.maximumWords(for: 256))
        let block = series.times.withUnsafeBufferPointer { times in
            series.values.withUnsafeBufferPointer { values in
                output.withUnsafeMutableBufferPointer {
                    SampleBlockCodec.encode(times: times, values: values, count: 256, into: $0)
                }
            }
        }
        var times: [Int64] = []
        var values: [Double] = []
        times.reserveCapacity(256)
        values.reserveCapacity(256)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            times.removeAll(keepingCapacity: true)
            values.removeAll(keepingCapacity: true)
            output.withUnsafeBufferPointer { SampleBlockCodec.decode(block, from: $0, times: &times, values: &values) }
            blackHole(values.count)
        }
        benchmark.stopMeasurement()
    }

    Benchmark("Store: range query, one hour out of a series of one million samples",
              configuration: .init(scalingFactor: .one, maxIterations: 2000)) { benchmark in
        var series = Series(SeriesConfiguration(id: "level", rawBytes: 8 << 20))
        let level = RealisticSeries.noisyLevel(count: 1_000_000)
        for index in 0..<level.times.count { series.append(level.values[index], at: level.times[index]) }
        let hour: Int64 = 3_600_000_000_000
        benchmark.startMeasurement()
        for iteration in benchmark.scaledIterations {
            let from = level.times[(iteration * 7919) % 900_000]
            let result = series.samples(from: from, to: from + hour)
            blackHole(result.times.count)
        }
        benchmark.stopMeasurement()
    }

    for kind in RealisticSeries.Kind.allCases {
        let metric = BenchmarkMetric.custom("bits per sample, x100", useScalingFactor: false)
        Benchmark("Store: compressed size, \(kind.rawValue)",
                  configuration: .init(metrics: [metric], scalingFactor: .one, maxIterations: 1)) { benchmark in
            let samples = RealisticSeries.samples(of: kind, count: 100_000)
            var series = Series(SeriesConfiguration(
                id: kind.rawValue, rawBytes: 4 << 20, timeResolution: kind.resolution))
            for index in 0..<samples.times.count { series.append(samples.values[index], at: samples.times[index]) }
            series.seal(everything: true)
            benchmark.measurement(metric, Int(series.counters.sealedBits * 100 / series.counters.sealedSamples))
        }
    }
}

/// Deterministic series shaped like the agent's inputs.
enum RealisticSeries {
    enum Kind: String, CaseIterable {
        case noisyLevel = "1 Hz readings with sensor noise (0.01 resolution, device clock)"
        case noisyArrival = "1 Hz readings with sensor noise, stamped on arrival (ms jitter)"
        case tipsPerMinute = "rain tips counted per minute"
        case tipEvents = "rain tips as events (ms times)"
        case waterLevel = "water level every 10 min from TTN (0.1 cm, seconds of jitter)"

        var resolution: Duration {
            self == .waterLevel ? .seconds(1) : .milliseconds(1)
        }
    }

    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
    }

    static func noisyLevel(count: Int) -> (times: [Int64], values: [Double]) {
        samples(of: .noisyLevel, count: count)
    }

    static func samples(of kind: Kind, count: Int) -> (times: [Int64], values: [Double]) {
        var random = Generator(state: 0x5EED)
        var times: [Int64] = []
        var values: [Double] = []
        times.reserveCapacity(count)
        values.reserveCapacity(count)
        var time: Int64 = 1_790_000_000_000_000_000
        var level = 1234.0
        for index in 0..<count {
            switch kind {
            case .noisyLevel, .noisyArrival:
                // A slow drift with noise of a few hundredths, as a 1 Hz temperature or pressure sensor gives.
                time += 1_000_000_000
                let jitter = kind == .noisyArrival ? Int64(random.next() % 40) * 1_000_000 : 0
                if kind == .noisyLevel, index % 100 == 0 { time += 1_000_000 }   // the device clock's corrections
                level += Double(Int(random.next() % 3) - 1) / 100
                let noise = Double(Int(random.next() % 9) - 4) / 100
                times.append(time + jitter)
                values.append(((level + noise) * 100).rounded() / 100)
            case .tipsPerMinute:
                time += 60_000_000_000
                let raining = (index / 90) % 5 == 0
                times.append(time)
                values.append(raining ? Double(random.next() % 6) : 0)
            case .tipEvents:
                time += Int64(2 + random.next() % 600) * 1_000_000_000 + Int64(random.next() % 1000) * 1_000_000
                times.append(time)
                values.append(1)
            case .waterLevel:
                time += 600_000_000_000
                let received = time + Int64(random.next() % 4000) * 1_000_000
                level += Double(Int(random.next() % 11) - 5) / 10
                times.append(received)
                values.append((level * 10).rounded() / 10)
            }
        }
        return (times, values)
    }
}
