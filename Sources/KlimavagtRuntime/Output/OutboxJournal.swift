import Foundation
import KlimavagtCore
import Logging

/// The on-disk record of alert events not yet acknowledged by the broker, and of every rule's lifecycle.
///
/// An append-only file of lines `CRC32HEX JSON`; an event is on disk (fsync) before it is handed to the broker, and
/// the time it was first handed is on disk before the publish. A damaged tail is cut at the first bad record, with
/// one log line saying what was lost. When nothing waits and the file has grown, it is compacted into one lifecycle
/// record per rule, written atomically (write, fsync, rename, fsync the directory). Not thread-safe: the outbox
/// serialises access.
final class OutboxJournal {
    struct Entry {
        var number: Int64
        var event: AlertEvent
        var since: Timestamp
        var publishedAt: Timestamp?
    }

    private struct Record: Codable {
        var op: String
        var n: Int64?
        var event: AlertEvent?
        var since: Timestamp?
        var at: Timestamp?
        var rule: String?
        var lifecycle: AlertLifecycle?
    }

    let path: String
    private let directory: String
    private let logger: Logger
    private var handle: FileHandle
    private(set) var pending: [Entry] = []
    private(set) var lifecycles: [String: AlertLifecycle] = [:]
    private var nextNumber: Int64 = 1
    private(set) var size: UInt64 = 0
    private let compactAbove: UInt64

    init(directory: String, logger: Logger, compactAbove: UInt64 = 256 * 1024) throws {
        self.directory = directory
        self.logger = logger
        self.compactAbove = compactAbove
        path = URL(fileURLWithPath: directory).appendingPathComponent("outbox.journal").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        do {
            handle = try Self.open(path)
        } catch {
            // A journal that is there but cannot be opened (no permission, a folder in its place) is set aside and
            // a new one started: the broker's retained states give back seq and state. Only a directory where no
            // new journal can be made stops the agent.
            guard FileManager.default.fileExists(atPath: path),
                  let aside = AtomicFile.setAside(path, at: Int64(Date().timeIntervalSince1970))
            else { throw error }
            logger.error("outbox journal \(path): cannot open it (\(FileErrorText.describe(error))); set aside as \(aside), a new journal is started")
            handle = try Self.open(path)
        }
        do {
            try recover()
        } catch {
            // Opened but not readable (EIO on read): set aside the same way.
            try? handle.close()
            guard let aside = AtomicFile.setAside(path, at: Int64(Date().timeIntervalSince1970)) else { throw error }
            logger.error("outbox journal \(path): cannot read it (\(FileErrorText.describe(error))); set aside as \(aside), a new journal is started")
            handle = try Self.open(path)
            try recover()
        }
    }

    deinit {
        try? handle.close()
    }

    /// Opens the journal for reading and appending, creating it if it is missing.
    private static func open(_ path: String) throws -> FileHandle {
        if !FileManager.default.fileExists(atPath: path) {
            let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
            guard fd >= 0 else { throw AtomicFile.Failure(path: path, operation: "create it", code: errno) }
            Glibc.close(fd)
        }
        return try FileHandle(forUpdating: URL(fileURLWithPath: path))
    }

    /// Appends an event produced by a rule and makes it durable.
    func append(_ event: AlertEvent, since: Timestamp) throws -> Entry {
        let entry = Entry(number: nextNumber, event: event, since: since)
        nextNumber += 1
        try write(Record(op: "add", n: entry.number, event: event, since: since), sync: true)
        pending.append(entry)
        apply(event, since: since)
        return entry
    }

    /// Records, durably, when an entry was first handed to the broker.
    func markPublished(_ number: Int64, at time: Timestamp) throws {
        try write(Record(op: "pub", n: number, at: time), sync: true)
        if let index = pending.firstIndex(where: { $0.number == number }) { pending[index].publishedAt = time }
    }

    /// Records the broker's acknowledgement; compacts the file when nothing waits and it has grown.
    func markAcknowledged(_ number: Int64) throws {
        try write(Record(op: "ack", n: number), sync: false)
        pending.removeAll { $0.number == number }
        if pending.isEmpty && size > compactAbove { try compact() }
    }

    /// Records, durably, a rule's lifecycle learnt elsewhere (the broker's retained copy) when it is newer than the
    /// journal's: the next start finds it here even if the broker is then out of reach.
    func adopt(_ lifecycle: AlertLifecycle, rule: String) throws {
        guard (lifecycles[rule]?.seq ?? -1) < lifecycle.seq else { return }
        try write(Record(op: "life", rule: rule, lifecycle: lifecycle), sync: true)
        lifecycles[rule] = lifecycle
    }

    private func apply(_ event: AlertEvent, since: Timestamp) {
        if let known = lifecycles[event.rule], known.seq >= event.seq { return }
        lifecycles[event.rule] = AlertLifecycle(
            state: event.state, severity: event.severity, seq: event.seq, since: since, lastEvent: event)
    }

    private func write(_ record: Record, sync: Bool) throws {
        let line = try ChecksummedLine.encode(record)
        // Records go at the last good end, never after a torn one: a write that fails (a full disk) is cut back off
        // before the error goes up, so recovery never finds a damaged record followed by good ones.
        do {
            try handle.seek(toOffset: size)
            try handle.write(contentsOf: line)
            if sync { try handle.synchronize() }
        } catch {
            try? handle.truncate(atOffset: size)
            throw error
        }
        size += UInt64(line.count)
    }

    /// Reads the file back. A damaged record (a wrong checksum or form) is skipped and every intact record after it
    /// is kept: each record is one line with its own checksum. A torn last line (no line end) is cut off, so new
    /// records start on a line of their own. One log line says what was lost.
    private func recover() throws {
        try handle.seek(toOffset: 0)
        let data = try handle.readToEnd() ?? Data()
        var offset = 0
        var kept = 0
        var entries: [Int64: Entry] = [:]
        var order: [Int64] = []
        let decoder = JSONDecoder()
        var damagedLines = 0
        var damagedBytes = 0
        while offset < data.count {
            guard let newline = data[offset...].firstIndex(of: 0x0A) else { break }
            let line = data[offset..<newline]
            guard let record = ChecksummedLine.decode(Record.self, from: line, with: decoder) else {
                damagedLines += 1
                damagedBytes += line.count + 1
                offset = newline + 1
                continue
            }
            switch record.op {
            case "add":
                if let n = record.n, let event = record.event, let since = record.since {
                    entries[n] = Entry(number: n, event: event, since: since)
                    order.append(n)
                    apply(event, since: since)
                    nextNumber = max(nextNumber, n + 1)
                }
            case "pub":
                if let n = record.n { entries[n]?.publishedAt = record.at }
            case "ack":
                if let n = record.n { entries[n] = nil }
            case "life":
                if let rule = record.rule, let lifecycle = record.lifecycle {
                    if (lifecycles[rule]?.seq ?? -1) < lifecycle.seq { lifecycles[rule] = lifecycle }
                }
            default:
                break
            }
            kept += 1
            offset = newline + 1
        }
        if damagedLines > 0 {
            logger.error("outbox journal \(path): \(damagedLines) damaged records (\(damagedBytes) bytes) skipped; \(kept) intact records kept")
        }
        if offset < data.count {
            logger.error("outbox journal \(path): a torn last record of \(data.count - offset) bytes cut off after \(kept) intact records")
            try handle.truncate(atOffset: UInt64(offset))
            try handle.synchronize()
        }
        size = UInt64(offset)
        pending = order.compactMap { entries[$0] }
        if !pending.isEmpty {
            logger.notice("outbox journal: \(pending.count) alert events from before the restart still to deliver")
        }
    }

    /// Rewrites the file as one lifecycle record per rule, atomically.
    private func compact() throws {
        var text = Data()
        for (rule, lifecycle) in lifecycles.sorted(by: { $0.key < $1.key }) {
            text.append(try ChecksummedLine.encode(Record(op: "life", rule: rule, lifecycle: lifecycle)))
        }
        try AtomicFile.write(text, to: path)
        try handle.close()
        handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        size = UInt64(text.count)
    }
}
