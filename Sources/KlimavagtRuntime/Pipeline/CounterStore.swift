import Foundation
import KlimavagtCore
import Logging

/// The pulse totals of the agent's counters, kept in `counters.state` in the state directory so a total never goes
/// backwards or counts a pulse twice across restarts.
///
/// The file holds one `ChecksummedLine` and is replaced atomically. A graceful stop writes the exact totals; a
/// crash or power loss loses at most the pulses since the last flush (the caller flushes at most once a second).
/// A damaged file is set aside with one log line and the totals start again from zero. The totals are written a
/// second after the first pulse not yet written (`flushDue`), so a flood of pulses costs one write a second.
/// Not thread-safe: the pipeline owns it, under its lock.
final class CounterStore {
    let path: String
    private let logger: Logger
    private(set) var totals: [String: Int64]
    private var written: [String: Int64]
    /// When the totals are next written: a second after the first pulse since the last write; nil while none waits.
    private(set) var flushDue: Timestamp?

    private struct Record: Codable {
        var counters: [String: Int64]
    }

    init(stateDirectory: String, logger: Logger, now: Int64) {
        path = URL(fileURLWithPath: stateDirectory).appendingPathComponent("counters.state").path
        self.logger = logger
        totals = [:]
        switch AtomicFile.read(path) {
        case .missing:
            break
        case .contents(let data):
            if let record = Self.decode(data) {
                totals = record.counters
            } else if let aside = AtomicFile.setAside(path, at: now) {
                logger.error("counter file \(path) is damaged; set aside as \(aside); pulse totals start again from 0")
            } else {
                logger.error("counter file \(path) is damaged and cannot be moved; pulse totals start again from 0")
            }
        case .unreadable(let failure):
            let aside = AtomicFile.setAside(path, at: now).map { "; set aside as \($0)" } ?? ""
            logger.error("counter file \(failure)\(aside); pulse totals start again from 0")
        }
        written = totals
    }

    private static func decode(_ data: Data) -> Record? {
        // The file is one line.
        guard data.last == 0x0A else { return nil }
        return ChecksummedLine.decode(Record.self, from: data.dropLast())
    }

    /// Adds to a total; a total that would pass `Int64.max` stays there (at 10⁹ pulses a reading, the most a reading
    /// may carry, that takes 9 × 10⁹ readings).
    func add(_ pulses: Int64, to sensor: String, at time: Timestamp? = nil) {
        let (sum, overflow) = totals[sensor, default: 0].addingReportingOverflow(pulses)
        totals[sensor] = overflow ? (pulses < 0 ? .min : .max) : sum
        if flushDue == nil, let time { flushDue = time + .seconds(1) }
    }

    /// Writes the totals if their `flushDue` has come by `time`.
    func flush(ifDueAt time: Timestamp) {
        guard let due = flushDue, due <= time else { return }
        flush()
    }

    var isDirty: Bool { totals != written }

    /// Writes the totals if they changed since the last write.
    func flush() {
        flushDue = nil
        guard isDirty else { return }
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            try AtomicFile.write(try ChecksummedLine.encode(Record(counters: totals), with: encoder), to: path)
            written = totals
        } catch {
            logger.error("counter file \(path): cannot write (\(FileErrorText.describe(error))); totals kept in memory")
        }
    }
}
