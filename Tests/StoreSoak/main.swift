// klimavagt-store-soak: writes to a TimeSeriesStore until it is killed, for the store's crash test.
//
//   klimavagt-store-soak DIR write FLUSH_MS   recover, then append sample after sample to series a, b and c,
//                                             flushing every FLUSH_MS and printing "flushed N" after each flush
//   klimavagt-store-soak DIR check            recover and print, per series, whether the samples are whole:
//                                             consecutive, none twice, values as written, windows as brute force
import Foundation
import KlimavagtCore
import KlimavagtRuntime
import Logging

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: klimavagt-store-soak DIR write FLUSH_MS | check\n".utf8))
    exit(64)
}
let second: Int64 = 1_000_000_000
let origin: Int64 = 1_800_000_000 * second
let names = ["a", "b", "c"]
var logger = Logger(label: "soak") { _ in StreamLogHandler.standardError(label: "soak") }
logger.logLevel = .notice

func value(_ index: Int64) -> Double { Double(index % 5) }

let store = try TimeSeriesStore(directory: arguments[1], logger: logger, compactAfterBytes: 24 * 1024) { name in
    SeriesConfiguration(id: name, rawBytes: 8 * 1024, blockSize: 64, rollups: [.init(step: .seconds(60), slots: 600)],
                        windows: [.init(length: .seconds(300), capacity: 1024)], isCount: true)
}

func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

if arguments[2] == "check" {
    for name in names {
        guard let series = store.series(name) else {
            say("\(name): empty")
            continue
        }
        let (times, values) = series.samples(from: .min, to: .max)
        var whole = true
        var problem = ""
        for index in times.indices {
            let sample = (times[index] - origin) / second
            if index > 0, times[index] != times[index - 1] + second, whole {
                whole = false
                problem = " (gap or repeat at sample \(sample) after \((times[index - 1] - origin) / second))"
            }
            if values[index] != value(sample), whole {
                whole = false
                problem = " (sample \(sample) is \(values[index]))"
            }
        }
        // The window ends at the newest sample; its sum must equal the samples within it.
        let newest = times.last ?? 0
        let expected = zip(times, values).filter { $0.0 > newest - 300 * second }.map(\.1).reduce(0, +)
        let window = series.windows[0].aggregate.sum
        say("\(name): \(whole && window == expected ? "whole" : "BROKEN") \(times.count) samples, last \((newest - origin) / second), window \(window) expected \(expected), evicted \(series.counters.evictedSamples)\(problem)")
    }
    exit(0)
}

let flushEvery = Duration.milliseconds(Int64(arguments.count > 3 ? arguments[3] : "100") ?? 100)
func resumeIndex(_ name: String) -> Int64 {
    (store.series(name)?.newestTime).map { ($0 - origin) / second + 1 } ?? 0
}
var next = resumeIndex("a")
for name in names where resumeIndex(name) != next {
    say("MISMATCH \(name) resumes at \(resumeIndex(name)), a at \(next)")
}
say("start \(next)")
var lastFlush = ContinuousClock.now
while true {
    for _ in 0..<20 {
        for name in names { store.append(sensor: name, value: value(next), at: Timestamp(nanoseconds: origin + next * second)) }
        next += 1
    }
    if ContinuousClock.now - lastFlush >= flushEvery {
        store.flush()
        say("flushed \(next - 1)")
        lastFlush = .now
    }
    usleep(200)
}
