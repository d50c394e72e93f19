import Foundation
@testable import KlimavagtRuntime
import KlimavagtCore
import Logging
import Testing

/// Fault injection on the state files themselves: every truncation point of the outbox journal, and a flipped bit at
/// a sample of offsets of each state file. Recovery never throws, keeps every intact record, and says in one log
/// line what it lost and where.
@Suite("State files truncated or with a flipped bit")
struct StateFileDamageTests {
    typealias Lines = UnreadableStateTests.Lines
    typealias Handler = UnreadableStateTests.Handler

    let start = Timestamp(seconds: 1_800_000_000)

    func event(_ seq: Int64, rule: String = "skybrud") -> AlertEvent {
        AlertEvent(id: "id-\(rule)-\(seq)", seq: seq, site: "s", rule: rule, kind: .cloudburst,
                   state: seq % 2 == 1 ? .firing : .resolved, severity: .warning, sensor: "rain-1",
                   value: 15.2 + Double(seq), unit: "mm", threshold: 15, windowSeconds: 1800,
                   eventTime: start + .seconds(seq * 60), publishedAt: nil, message: "Skybrud: \(seq)")
    }

    func folder() throws -> String {
        let path = NSTemporaryDirectory() + "klimavagt-damage-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A journal of six events for two rules; the first four published and acknowledged. Returns its bytes and
    /// the offset where each record ends.
    func writeJournal(in directory: String) throws -> (bytes: [UInt8], ends: [Int]) {
        let journal = try OutboxJournal(directory: directory, logger: Logger(label: "test"))
        for seq in Int64(1)...6 {
            let entry = try journal.append(event(seq, rule: seq % 3 == 0 ? "stormflod" : "skybrud"),
                                           since: start + .seconds(seq * 60))
            if seq <= 4 {
                try journal.markPublished(entry.number, at: start + .seconds(seq * 60 + 1))
                try journal.markAcknowledged(entry.number)
            }
        }
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: journal.path)))
        let ends = bytes.indices.filter { bytes[$0] == 0x0A }.map { $0 + 1 }
        return (bytes, ends)
    }

    /// The seq each rule reaches with the records that end at or before `cut`.
    func expectedSeqs(_ bytes: [UInt8], upTo cut: Int) -> [String: Int64] {
        var seqs: [String: Int64] = [:]
        let text = String(decoding: bytes.prefix(cut), as: UTF8.self)
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) where line.contains(#""op":"add""#) {
            guard cut >= text.utf8.count || text.hasSuffix("\n") || line != text.split(separator: "\n").last else { continue }
            let rule = line.contains("stormflod") ? "stormflod" : "skybrud"
            let seq = Int64(line.components(separatedBy: #""seq":"#)[1].prefix { $0.isNumber })!
            seqs[rule] = max(seqs[rule] ?? 0, seq)
        }
        return seqs
    }

    @Test("the outbox journal cut at every record boundary and at offsets inside records recovers what came before")
    func truncation() throws {
        let directory = try folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (bytes, ends) = try writeJournal(in: directory)
        #expect(ends.count == 6 + 4 + 4)
        let cuts = Set([0] + ends + stride(from: 1, to: bytes.count, by: 23))
        for cut in cuts.sorted() {
            let copy = directory + "/cut-\(cut)"
            try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
            try Data(bytes.prefix(cut)).write(to: URL(fileURLWithPath: copy + "/outbox.journal"))
            let lines = Lines()
            let logger = Logger(label: "test") { _ in Handler(lines: lines) }
            let journal = try OutboxJournal(directory: copy, logger: logger)
            let whole = ends.filter { $0 <= cut }.last ?? 0
            #expect(journal.size == UInt64(whole), "cut at \(cut)")
            #expect(journal.lifecycles.mapValues(\.seq) == expectedSeqs(bytes, upTo: whole), "cut at \(cut)")
            let torn = lines.all.filter { $0.contains("torn last record") && $0.contains(copy + "/outbox.journal") }
            #expect(torn.count == (whole == cut ? 0 : 1), "cut at \(cut): \(lines.all)")
            // What comes next goes on a line of its own, and the file reads back whole.
            let next = (journal.lifecycles["skybrud"]?.seq ?? 0) + 1
            _ = try journal.append(event(next), since: start)
            let again = Lines()
            let reopened = try OutboxJournal(directory: copy, logger: Logger(label: "test") { _ in Handler(lines: again) })
            #expect(reopened.lifecycles["skybrud"]?.seq == next, "cut at \(cut)")
            #expect(again.all.filter { $0.hasPrefix("error") }.isEmpty, "cut at \(cut): \(again.all)")
            try FileManager.default.removeItem(atPath: copy)
        }
    }

    @Test("a flipped bit anywhere in the outbox journal costs the record it is in, and every other record is kept")
    func outboxBitFlips() throws {
        let directory = try folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (bytes, ends) = try writeJournal(in: directory)
        for offset in stride(from: 0, to: bytes.count, by: 11) {
            var damaged = bytes
            damaged[offset] ^= 1 << UInt8(offset % 8)
            let copy = directory + "/flip-\(offset)"
            try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
            try Data(damaged).write(to: URL(fileURLWithPath: copy + "/outbox.journal"))
            let lines = Lines()
            let journal = try OutboxJournal(directory: copy, logger: Logger(label: "test") { _ in Handler(lines: lines) })
            // The record holding the offset (with the one after it, if the flip hit its line end).
            let index = ends.firstIndex { $0 > offset }!
            let lost = Set([index] + (bytes[offset] == 0x0A && index + 1 < ends.count ? [index + 1] : []))
            var expected: [String: Int64] = [:]
            var recordStart = 0
            for (number, end) in ends.enumerated() {
                defer { recordStart = end }
                guard !lost.contains(number) else { continue }
                let line = String(decoding: bytes[recordStart..<end], as: UTF8.self)
                guard line.contains(#""op":"add""#) else { continue }
                let rule = line.contains("stormflod") ? "stormflod" : "skybrud"
                let seq = Int64(line.components(separatedBy: #""seq":"#)[1].prefix { $0.isNumber })!
                expected[rule] = max(expected[rule] ?? 0, seq)
            }
            #expect(journal.lifecycles.mapValues(\.seq) == expected, "flip at \(offset)")
            let said = lines.all.filter { $0.hasPrefix("error") && $0.contains(copy + "/outbox.journal") }
            #expect(said.count == 1, "flip at \(offset): \(lines.all)")
            try FileManager.default.removeItem(atPath: copy)
        }
    }

    @Test("a flipped bit in counters.state, store.snapshot or store.journal: one line naming the file, and the agent's state opens")
    func otherFilesBitFlips() throws {
        let directory = try folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let original = directory + "/original"
        try FileManager.default.createDirectory(atPath: original, withIntermediateDirectories: true)
        let configuration: @Sendable (String) -> SeriesConfiguration = { sensor in
            SeriesConfiguration(id: sensor, rawBytes: 4096, isCount: sensor.hasPrefix("rain"))
        }
        do {
            let counters = CounterStore(stateDirectory: original, logger: Logger(label: "test"), now: 1_800_000_000)
            counters.add(42, to: "rain-1")
            counters.add(7, to: "meter-1")
            counters.flush()
            let store = try TimeSeriesStore(directory: original, logger: Logger(label: "test"), configurationFor: configuration)
            for step in Int64(0)..<200 {
                _ = store.append(sensor: "level-1", value: 100 + Double(step % 17), at: start + .seconds(step * 60))
                if step % 3 == 0 { _ = store.append(sensor: "rain-1", value: 1, at: start + .seconds(step * 60)) }
                if step == 120 { store.compact() }
                if step % 10 == 0 { store.flush() }
            }
            store.close()
        }
        for name in ["counters.state", "store.snapshot", "store.journal"] {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: "\(original)/\(name)")))
            #expect(bytes.count > 16, "\(name)")
            for offset in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 40)) {
                let copy = directory + "/\(name)-\(offset)"
                try FileManager.default.copyItem(atPath: original, toPath: copy)
                var damaged = bytes
                damaged[offset] ^= 1 << UInt8(offset % 8)
                try Data(damaged).write(to: URL(fileURLWithPath: "\(copy)/\(name)"))
                let lines = Lines()
                let logger = Logger(label: "test") { _ in Handler(lines: lines) }
                let counters = CounterStore(stateDirectory: copy, logger: logger, now: 1_800_000_001)
                let store = try TimeSeriesStore(directory: copy, logger: logger, configurationFor: configuration)
                let said = lines.all.filter { $0.hasPrefix("error") && $0.contains("\(copy)/\(name)") }
                #expect(said.count == 1, "\(name), flip at \(offset): \(lines.all)")
                #expect(lines.all.filter { $0.hasPrefix("error") }.count == 1, "\(name), flip at \(offset): \(lines.all)")
                if name == "counters.state" {
                    #expect(counters.totals.isEmpty)
                    #expect(FileManager.default.fileExists(atPath: "\(copy)/counters.state.damaged-1800000001"))
                } else {
                    #expect(counters.totals["rain-1"] == 42)
                }
                // What the store still has is a prefix of what was written, and it takes new samples.
                let newest = store.series("level-1")?.newestTime ?? 0
                #expect(newest <= (start + .seconds(199 * 60)).nanoseconds, "\(name), flip at \(offset)")
                _ = store.append(sensor: "level-1", value: 1, at: start + .seconds(200 * 60))
                store.close()
                try FileManager.default.removeItem(atPath: copy)
            }
        }
    }
}
