import Foundation
import KlimavagtCore
import Logging

/// The agent's time series, one per sensor, kept in memory and made durable in the state directory.
///
/// Durability: every `flush()` (once a second by default) appends one journal record holding the samples since the
/// last flush, each series continuing its own compressed bit stream, with a CRC; it is handed to the kernel with
/// write(2), so a SIGKILL loses at most the samples since the last flush, and a sample is never written twice. Every
/// `syncInterval` and at close the journal is fsynced, which bounds what a power cut can take. When the journal grows
/// past `compactAfterBytes` the whole store is written as a snapshot (write, fsync, rename, fsync the directory) and
/// the journal starts again under the next generation number; a journal older than the snapshot is ignored, so a
/// crash in between never replays samples twice. A damaged snapshot is set aside; a damaged journal tail is cut; each
/// with one log line saying what was lost.
///
/// Threading: all methods take one lock; appends come from the pipeline, flushes from the store's service.
public final class TimeSeriesStore: @unchecked Sendable {   // unchecked: every var is guarded by `lock`, which the recovery in TimeSeriesStore+Recovery.swift takes too
    public let directory: String?
    let logger: Logger
    let lock = NSLock()
    let configurationFor: @Sendable (String) -> SeriesConfiguration
    var series: [String: Series] = [:]
    var indices: [String: Int] = [:]
    var order: [String] = []
    var streams: [SampleStream] = []
    var pending: [[(Int64, Double)]] = []
    var declared: Set<Int> = []
    var journal: FileHandle?
    var journalBytes = 0
    /// Set when a journal write failed: the file was cut back to its last good end, but the encoders' state has moved
    /// past it, so nothing more may be appended until a snapshot and a new journal have been written.
    var journalNeedsRestart = false
    var lastRestartAttempt: ContinuousClock.Instant?
    var generation: UInt64 = 1
    var lastSync = ContinuousClock.now
    var hasPending = false
    /// Yields when a sample arrives with none waiting to be flushed, so an idle store needs no timer.
    public let samplesWaiting: AsyncStream<Void>
    let samplesWaitingSink: AsyncStream<Void>.Continuation
    public let syncInterval: Duration
    public let compactAfterBytes: Int

    /// What recovery found and what flushing has written, for logs, the CLI and the wear benchmark.
    public struct Statistics: Sendable {
        public var recoveredSamples = 0
        public var journalRecords = 0
        public var journalBytesWritten = 0
        public var snapshotsWritten = 0
        public var snapshotBytesWritten = 0
    }

    public internal(set) var statistics = Statistics()

    var snapshotPath: String? { directory.map { "\($0)/store.snapshot" } }
    var journalPath: String? { directory.map { "\($0)/store.journal" } }

    /// Opens the store in `directory` (none keeps it in memory only) and recovers what the last run left.
    public init(directory: String?, logger: Logger, syncInterval: Duration = .seconds(60),
                compactAfterBytes: Int = 4 << 20,
                configurationFor: @escaping @Sendable (String) -> SeriesConfiguration) throws
    {
        self.directory = directory
        self.logger = logger
        self.syncInterval = syncInterval
        self.compactAfterBytes = compactAfterBytes
        self.configurationFor = configurationFor
        (samplesWaiting, samplesWaitingSink) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        guard let directory else { return }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        recover()
        try openJournal()
    }

    // MARK: Writing

    /// Appends a sample to its sensor's series and to the next journal record.
    @discardableResult
    public func append(sensor: String, value: Double, at time: Timestamp) -> Series.AppendOutcome {
        lock.withLock {
            let index = seriesIndex(sensor)
            // In place through the dictionary's slot (inout, so never a read): a read of `series[sensor]!` or of
            // `series.values[slot]` copies the whole series and retains each of its buffers, on every sample.
            func append(to series: inout Series) -> (Series.AppendOutcome, Int64) {
                let truncated = Series.truncate(time.nanoseconds, to: series.resolution)
                return (series.append(value, at: truncated), truncated)
            }
            let (outcome, truncated) = append(to: &series.values[series.index(forKey: sensor)!])
            if outcome != .rejectedTooLate, directory != nil {
                pending[index].append((truncated, value))
                if !hasPending {
                    hasPending = true
                    samplesWaitingSink.yield()
                }
            }
            return outcome
        }
    }

    func seriesIndex(_ sensor: String) -> Int {
        if let index = indices[sensor] { return index }
        let configuration = configurationFor(sensor)
        let created = Series(configuration)
        series[sensor] = created
        let index = order.count
        indices[sensor] = index
        order.append(sensor)
        streams.append(SampleStream(resolution: created.resolution))
        pending.append([])
        return index
    }

    /// Writes the samples since the last flush as one journal record; fsyncs when `syncInterval` has passed.
    public func flush() {
        lock.withLock {
            hasPending = false
            guard journal != nil || journalNeedsRestart else { return }
            if journalNeedsRestart {
                // Every sample is in the series in memory; the snapshot writes them all, and the journal starts afresh.
                // Tried at most every 10 s while the disk stays full.
                if let last = lastRestartAttempt, ContinuousClock.now - last < .seconds(10) { return }
                lastRestartAttempt = .now
                compactLocked()
                return
            }
            guard let journal else { return }
            var records = BinaryWriter()
            for index in order.indices where !declared.contains(index) && !pending[index].isEmpty {
                appendRecord(type: 1, to: &records) { payload in
                    payload.writeVarint(UInt64(index))
                    payload.write(order[index])
                    payload.writeVarint(UInt64(streams[index].resolution))
                }
                declared.insert(index)
            }
            if pending.contains(where: { !$0.isEmpty }) {
                appendRecord(type: 2, to: &records) { payload in samplesPayload(into: &payload) }
            }
            guard !records.bytes.isEmpty else { return }
            do {
                try journal.write(contentsOf: records.bytes)
                journalBytes += records.bytes.count
                statistics.journalBytesWritten += records.bytes.count
                if ContinuousClock.now - lastSync >= syncInterval {
                    try journal.synchronize()
                    lastSync = .now
                }
            } catch {
                failedWrite(error)
            }
            if journalBytes >= compactAfterBytes { compactLocked() }
        }
    }

    /// The samples payload: which series have samples (a bitmap), then each one's count and samples in its stream.
    private func samplesPayload(into payload: inout BinaryWriter) {
        payload.writeVarint(UInt64(order.count))
        var bitmap = [UInt8](repeating: 0, count: (order.count + 7) / 8)
        var sampleCount = 0
        for index in order.indices where !pending[index].isEmpty {
            bitmap[index / 8] |= 1 << UInt8(index % 8)
            sampleCount += pending[index].count
        }
        payload.write(bytes: bitmap)
        var words = [UInt64](repeating: 0, count: 4 + sampleCount * 3 + order.count)
        let bits: Int = words.withUnsafeMutableBufferPointer { buffer in
            var writer = BitWriter(into: buffer)
            for index in order.indices where !pending[index].isEmpty {
                SampleBlockCodec.writeSigned(Int64(pending[index].count - 1), to: &writer, buckets: .value)
                for (time, value) in pending[index] { streams[index].encode(value, at: time, into: &writer) }
                pending[index].removeAll(keepingCapacity: true)
            }
            return writer.bitCount
        }
        // The bit stream, big-endian words trimmed to whole bytes.
        var bytes: [UInt8] = []
        bytes.reserveCapacity((bits + 7) / 8)
        for word in words.prefix((bits + 63) / 64) {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        payload.write(bytes: bytes.prefix((bits + 7) / 8))
    }

    /// A record: `u32 length`, `u32 CRC-32 of the body`, then the body (a type byte and the payload).
    func appendRecord(type: UInt8, to output: inout BinaryWriter, _ fill: (inout BinaryWriter) -> Void) {
        var body = BinaryWriter()
        body.write(bytes: [type])
        fill(&body)
        let length = UInt32(body.bytes.count)
        let crc = CRC32.checksum(body.bytes)
        output.write(bytes: withUnsafeBytes(of: length.littleEndian, Array.init))
        output.write(bytes: withUnsafeBytes(of: crc.littleEndian, Array.init))
        output.write(bytes: body.bytes)
        statistics.journalRecords += 1
    }

    /// Tells every series the wall clock was stepped (see `Series.clockStepped()`), after writing what was pending,
    /// and records the step in the journal so that recovery replays it at the same point.
    public func clockStepped() {
        flush()
        lock.withLock {
            for name in order { series[name]!.clockStepped() }
            guard let journal else { return }
            var record = BinaryWriter()
            appendRecord(type: 3, to: &record) { _ in }
            do {
                try journal.write(contentsOf: record.bytes)
                journalBytes += record.bytes.count
                statistics.journalBytesWritten += record.bytes.count
            } catch {
                failedWrite(error)
            }
        }
    }

    /// After a failed journal write (a full disk): the file is cut back to its last good end, so a torn record is
    /// never followed by good ones, and appending stops until a snapshot and a new journal succeed. The caller
    /// holds `lock`.
    private func failedWrite(_ error: any Error) {
        logger.error("store journal \(journalPath ?? ""): cannot write (\(FileErrorText.describe(error))); samples kept in memory until a snapshot can be written")
        if let journal {
            try? journal.truncate(atOffset: UInt64(journalBytes))
            try? journal.seek(toOffset: UInt64(journalBytes))
            try? journal.close()
        }
        journal = nil
        journalNeedsRestart = true
        lastRestartAttempt = .now
    }

    /// Writes the whole store as a snapshot and starts the journal again.
    public func compact() {
        lock.withLock { compactLocked() }
    }

    private func compactLocked() {
        guard let snapshotPath, let journalPath else { return }
        // Samples still pending are in the series already; the snapshot holds them, the new journal starts after.
        for index in pending.indices { pending[index].removeAll(keepingCapacity: true) }
        var snapshot = BinaryWriter(capacity: 1 << 16)
        snapshot.writeVarint(generation + 1)
        snapshot.writeVarint(UInt64(order.count))
        for name in order {
            var part = BinaryWriter()
            series[name]!.snapshot(into: &part)
            snapshot.write(name)
            snapshot.writeVarint(UInt64(part.bytes.count))
            snapshot.write(bytes: part.bytes)
        }
        var file = BinaryWriter()
        let crc = CRC32.checksum(snapshot.bytes)
        file.write(bytes: Array("KVSNAP1\n".utf8))
        file.write(UInt64(crc))
        file.write(UInt64(snapshot.bytes.count))
        file.write(bytes: snapshot.bytes)
        do {
            try AtomicFile.write(Data(file.bytes), to: snapshotPath)
            statistics.snapshotsWritten += 1
            statistics.snapshotBytesWritten += file.bytes.count
            generation += 1
            try? journal?.close()
            journal = nil
            try startJournal(at: journalPath)
            if journalNeedsRestart { logger.notice("store journal \(journalPath): written again after a snapshot of every sample") }
            journalNeedsRestart = false
        } catch {
            logger.error("store snapshot \(snapshotPath): cannot write (\(FileErrorText.describe(error))); the journal goes on")
        }
    }

    /// Flushes, fsyncs and closes the journal; safe to call twice.
    public func close() {
        flush()
        samplesWaitingSink.finish()
        lock.withLock {
            try? journal?.synchronize()
            try? journal?.close()
            journal = nil
        }
    }

    // MARK: Reading

    /// A copy of a sensor's series, for queries.
    public func series(_ sensor: String) -> Series? {
        lock.withLock { series[sensor] }
    }

    public var sensorIDs: [String] {
        lock.withLock { order }
    }
}
