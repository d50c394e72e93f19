import Foundation
@testable import KlimavagtRuntime
import KlimavagtCore
import Logging
import Testing

/// A state file that is there but cannot be read (a folder in its place here; mode 000 under a non-root user is the
/// same to the agent) gets one log line naming the file and the reason, and is set aside; the agent goes on.
@Suite("Unreadable state files")
struct UnreadableStateTests {
    /// Collects log lines in memory.
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [String] = []
        func append(_ line: String) { lock.withLock { stored.append(line) } }
        var all: [String] { lock.withLock { stored } }
    }

    struct Handler: LogHandler {
        let lines: Lines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { lines.append("\(event.level) \(event.message)") }
    }

    @Test("a folder in place of counters.state, store.snapshot and store.journal: one line each, set aside")
    func folders() throws {
        let folder = NSTemporaryDirectory() + "klimavagt-unreadable-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for name in ["counters.state", "store.snapshot", "store.journal"] {
            try FileManager.default.createDirectory(atPath: "\(folder)/\(name)", withIntermediateDirectories: true)
        }
        let lines = Lines()
        let logger = Logger(label: "test") { _ in Handler(lines: lines) }
        let counters = CounterStore(stateDirectory: folder, logger: logger, now: 1_700_000_000)
        #expect(counters.totals.isEmpty)
        _ = try TimeSeriesStore(directory: folder, logger: logger) { sensor in
            SeriesConfiguration(id: sensor, rawBytes: 4096, isCount: false)
        }
        for name in ["counters.state", "store.snapshot", "store.journal"] {
            let mentions = lines.all.filter { $0.contains("\(folder)/\(name): cannot read it: Is a directory") }
            #expect(mentions.count == 1, "\(name): \(lines.all)")
            #expect(FileManager.default.fileExists(atPath: "\(folder)/\(name).damaged-1700000000")
                || name != "counters.state")
        }
    }
}
