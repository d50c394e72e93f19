import Foundation
import KlimavagtCore
import KlimavagtRuntime
import Logging
import Testing

@Suite("The store's journal and snapshots")
struct TimeSeriesStoreTests {
    static let second: Int64 = 1_000_000_000

    func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-store-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func open(_ directory: String, compactAfter: Int = 1 << 20) throws -> TimeSeriesStore {
        try TimeSeriesStore(directory: directory, logger: Logger(label: "test"), compactAfterBytes: compactAfter) { name in
            SeriesConfiguration(id: name, rawBytes: 16 * 1024, blockSize: 64,
                                windows: [.init(length: .seconds(300), capacity: 1024)], isCount: name == "rain")
        }
    }

    @Test("what was flushed comes back exactly after reopening, through journal records and snapshots")
    func recoversFlushedSamples() throws {
        let directory = try folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var expected: [String: [(Int64, Double)]] = [:]
        var store: TimeSeriesStore? = try open(directory, compactAfter: 4096)
        var seed: UInt64 = 7
        for index in 0..<20_000 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let name = ["rain", "level", "power"][Int(seed >> 60) % 3]
            let time = Int64(index) * Self.second + Int64(seed >> 50 % 1000) * 1_000_000 / 1000 * 1000
            let value = name == "rain" ? Double(seed >> 61) : Double(Int64(seed >> 44) % 20_000) / 100
            store!.append(sensor: name, value: value, at: Timestamp(nanoseconds: time))
            expected[name, default: []].append((Series.truncate(time, to: 1_000_000), value))
            if seed % 17 == 0 { store!.flush() }
        }
        store!.flush()
        #expect(store!.statistics.snapshotsWritten > 0)
        let before = Dictionary(uniqueKeysWithValues: store!.sensorIDs.map { ($0, store!.series($0)!.samples(from: .min, to: .max)) })
        store = nil
        let reopened = try open(directory, compactAfter: 4096)
        for (name, samples) in before {
            let after = try #require(reopened.series(name)).samples(from: .min, to: .max)
            if after.times != samples.times {
                let first = zip(after.times, samples.times).enumerated().first { $0.element.0 != $0.element.1 }
                let onlyAfter = Set(after.times).subtracting(samples.times).sorted()
                let onlyBefore = Set(samples.times).subtracting(after.times).sorted()
                Issue.record("\(name): only after \(onlyAfter.prefix(5)) only before \(onlyBefore.prefix(5)) newest \(samples.times.suffix(3)) \(after.times.suffix(3))")
                Issue.record("\(name): \(after.times.count) after, \(samples.times.count) before; first difference at \(first.map { "\($0.offset): \($0.element)" } ?? "end")")
            }
            #expect(after.times == samples.times, "\(name)")
            #expect(after.values.map(\.bitPattern) == samples.values.map(\.bitPattern), "\(name)")
            let kept = Array(expected[name]!.suffix(after.times.count))
            #expect(after.times == kept.map(\.0), "\(name): the newest samples as appended")
        }
    }

    @Test("a step of the wall clock is journalled, so recovery takes the samples after it as the live store did")
    func clockStepSurvivesRecovery() throws {
        let directory = try folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var store: TimeSeriesStore? = try open(directory)
        let synced: Int64 = 1_796_000_000 * Self.second
        for index in 0..<100 { store!.append(sensor: "rain", value: 1, at: Timestamp(nanoseconds: synced + Int64(index) * Self.second)) }
        store!.flush()
        // The clock goes back an hour: told of it, the store takes the samples on the new clock.
        store!.clockStepped()
        for index in 0..<10 {
            let outcome = store!.append(sensor: "rain", value: 2, at: Timestamp(nanoseconds: synced - 3600 * Self.second + Int64(index) * Self.second))
            #expect(outcome == .appended)
        }
        store!.flush()
        let before = store!.series("rain")!.samples(from: .min, to: .max)
        store = nil
        let reopened = try open(directory)
        let after = try #require(reopened.series("rain")).samples(from: .min, to: .max)
        #expect(after.times == before.times)
        #expect(after.times.count == 110)
        #expect(reopened.series("rain")!.counters.clockSteps == 1)
    }
}
