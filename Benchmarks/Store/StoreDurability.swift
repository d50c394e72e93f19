import Benchmark
import Foundation
import KlimavagtCore
import KlimavagtRuntime
import Logging

/// The store on disk: recovering a million samples, and what 20 sensors at 1 Hz write in an hour.
let durabilityBenchmarks: @Sendable () -> Void = {
    for fromSnapshot in [true, false] {
        let name = fromSnapshot ? "snapshot" : "journal"
        Benchmark("Store: recovery of one million samples from the \(name)",
                  configuration: .init(metrics: [.wallClock, .peakMemoryResident], timeUnits: .milliseconds,
                                       scalingFactor: .one, maxDuration: .seconds(20), maxIterations: 10),
                  closure: { benchmark in
                      guard let directory = RecoveryRig.directories[name] else { return }
                      benchmark.startMeasurement()
                      let store = try TimeSeriesStore(directory: directory, logger: RecoveryRig.logger,
                                                      compactAfterBytes: 1 << 40, configurationFor: RecoveryRig.configuration)
                      benchmark.stopMeasurement()
                      precondition(store.statistics.recoveredSamples >= 1_000_000)
                  },
                  setup: { RecoveryRig.directories[name] = try RecoveryRig.prepare(snapshot: fromSnapshot) },
                  teardown: {
                      if let directory = RecoveryRig.directories[name] { try? FileManager.default.removeItem(atPath: directory) }
                  })
    }

    let metrics: [BenchmarkMetric] = [
        .custom("journal bytes handed to the kernel per hour (wchar)", useScalingFactor: false),
        .custom("bytes of dirtied pages per hour (write_bytes)", useScalingFactor: false),
        .custom("compressed bytes produced per hour", useScalingFactor: false),
        .custom("amplification, wchar / compressed, x100", useScalingFactor: false),
        .custom("amplification, write_bytes / compressed, x100", useScalingFactor: false),
    ]
    Benchmark("Store: SD-card wear, 20 series at 1 Hz over a simulated hour, flushed every second",
              configuration: .init(metrics: metrics, scalingFactor: .one, maxIterations: 3)) { benchmark in
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-wear-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try TimeSeriesStore(directory: directory, logger: RecoveryRig.logger) { id in
            SeriesConfiguration(id: id, rawBytes: 256 * 1024)
        }
        let names = (0..<20).map { "sensor-\($0)" }
        let series = (0..<20).map { RealisticSeries.samples(of: $0 % 2 == 0 ? .noisyLevel : .noisyArrival, count: 3600) }
        let before = ProcessIO.current()
        for second in 0..<3600 {
            for (index, name) in names.enumerated() {
                store.append(sensor: name, value: series[index].values[second],
                             at: Timestamp(nanoseconds: series[index].times[second]))
            }
            store.flush()
        }
        let after = ProcessIO.current()
        var compressedBits: Int64 = 0
        for name in names {
            var copy = store.series(name)!
            copy.seal(everything: true)
            compressedBits += copy.counters.sealedBits
        }
        store.close()
        let compressed = Int(compressedBits / 8)
        let wchar = after.wchar - before.wchar
        let written = after.writeBytes - before.writeBytes
        benchmark.measurement(metrics[0], wchar)
        benchmark.measurement(metrics[1], written)
        benchmark.measurement(metrics[2], compressed)
        benchmark.measurement(metrics[3], wchar * 100 / max(compressed, 1))
        benchmark.measurement(metrics[4], written * 100 / max(compressed, 1))
    }
}

/// A store of one million samples, written once for the recovery benchmarks.
enum RecoveryRig {
    nonisolated(unsafe) static var directories: [String: String] = [:]
    static let logger = Logger(label: "bench")

    @Sendable static func configuration(_ id: String) -> SeriesConfiguration {
        SeriesConfiguration(id: id, rawBytes: 4 << 20)
    }

    static func prepare(snapshot: Bool) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-recovery-\(UUID().uuidString)").path
        let store = try TimeSeriesStore(directory: directory, logger: logger, compactAfterBytes: 1 << 40,
                                        configurationFor: configuration)
        let samples = RealisticSeries.noisyLevel(count: 1_000_000)
        for index in 0..<samples.times.count {
            store.append(sensor: "level", value: samples.values[index], at: Timestamp(nanoseconds: samples.times[index]))
            if index % 1000 == 999 { store.flush() }
        }
        if snapshot { store.compact() }
        store.close()
        return directory
    }
}

/// The process's I/O counters from /proc/self/io.
struct ProcessIO {
    var wchar = 0
    var writeBytes = 0

    static func current() -> ProcessIO {
        var io = ProcessIO()
        let text = (try? String(contentsOfFile: "/proc/self/io", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let value = Int(parts[1]) else { continue }
            if parts[0] == "wchar" { io.wchar = value }
            if parts[0] == "write_bytes" { io.writeBytes = value }
        }
        return io
    }
}
