import Foundation
import KlimavagtCore

extension TimeSeriesStore {
    /// Loads the snapshot, then replays the journal written after it; damaged parts are set aside or cut.
    func recover() {
        var snapshotGeneration: UInt64?
        let now = Int64(Date().timeIntervalSince1970)
        if let snapshotPath, case .unreadable(let failure) = AtomicFile.read(snapshotPath) {
            let aside = AtomicFile.setAside(snapshotPath, at: now).map { "; set aside as \($0)" } ?? ""
            logger.error("store snapshot \(failure)\(aside); only the journal's samples are recovered")
        }
        if let snapshotPath, case .contents(let data) = AtomicFile.read(snapshotPath) {
            if let generation = loadSnapshot(Array(data)) {
                snapshotGeneration = generation
            } else {
                series = [:]
                indices = [:]
                order = []
                streams = []
                pending = []
                let aside = AtomicFile.setAside(snapshotPath, at: now)
                logger.error("store snapshot \(snapshotPath) is damaged; set aside as \(aside ?? "(could not move)"); only the journal's samples are recovered")
            }
        }
        generation = snapshotGeneration ?? 1
        guard let journalPath else { return }
        switch AtomicFile.read(journalPath) {
        case .missing:
            return
        case .contents(let data):
            replayJournal(Array(data), snapshotGeneration: snapshotGeneration, path: journalPath)
        case .unreadable(let failure):
            let aside = AtomicFile.setAside(journalPath, at: now).map { "; set aside as \($0)" } ?? ""
            logger.error("store journal \(failure)\(aside); its samples are not recovered")
        }
    }

    /// Restores the series of a snapshot; returns its generation, or nil when the file is damaged.
    private func loadSnapshot(_ bytes: [UInt8]) -> UInt64? {
        let magic = Array("KVSNAP1\n".utf8)
        guard bytes.count >= magic.count + 16, Array(bytes.prefix(magic.count)) == magic else { return nil }
        var header = BinaryReader(bytes, from: magic.count)
        guard let crc = header.readUInt64(), let length = header.readUInt64(),
              length == UInt64(bytes.count - header.position)
        else { return nil }
        let body = Array(bytes[header.position...])
        guard UInt64(CRC32.checksum(body)) == crc else { return nil }
        var reader = BinaryReader(body)
        guard let generation = reader.readVarint(), let count = reader.readVarint(), count < 1 << 20 else { return nil }
        for _ in 0..<count {
            guard let name = reader.readString(), let size = reader.readVarint().flatMap({ Int(exactly: $0) }),
                  let part = reader.readBytes(size)
            else { return nil }
            var partReader = BinaryReader(Array(part))
            guard let restored = Series(restoring: &partReader, configuration: configurationFor(name)) else { return nil }
            indices[name] = order.count
            order.append(name)
            series[name] = restored
            streams.append(SampleStream(resolution: restored.resolution))
            pending.append([])
            statistics.recoveredSamples += restored.retainedSampleCount
        }
        return generation
    }

    /// Replays the journal's records in order; cuts it at the first damaged one.
    private func replayJournal(_ bytes: [UInt8], snapshotGeneration: UInt64?, path: String) {
        var position = 0
        var records = 0
        var journalGeneration: UInt64?
        var readers: [Int: SampleStream] = [:]
        var replayed = 0
        var damage: String?
        while position < bytes.count {
            guard position + 8 <= bytes.count else { damage = "a record header is cut short"; break }
            let length = Int(UInt32(bytes[position]) | UInt32(bytes[position + 1]) << 8 | UInt32(bytes[position + 2]) << 16
                | UInt32(bytes[position + 3]) << 24)
            let crc = UInt32(bytes[position + 4]) | UInt32(bytes[position + 5]) << 8 | UInt32(bytes[position + 6]) << 16
                | UInt32(bytes[position + 7]) << 24
            guard length > 0, position + 8 + length <= bytes.count else { damage = "a record is cut short"; break }
            let body = Array(bytes[(position + 8)..<(position + 8 + length)])
            guard CRC32.checksum(body) == crc else { damage = "a record's checksum is wrong"; break }
            var reader = BinaryReader(body, from: 1)
            switch body[0] {
            case 0:
                guard records == 0, let generation = reader.readVarint() else { damage = "a misplaced generation record"; break }
                journalGeneration = generation
                if let snapshotGeneration, generation < snapshotGeneration {
                    logger.notice("store journal \(path) predates the snapshot (generation \(generation) < \(snapshotGeneration)); its samples are in the snapshot")
                    return
                }
                self.generation = generation
            case 1:
                guard journalGeneration != nil, let index = reader.readVarint(), let name = reader.readString(),
                      let resolution = reader.readVarint()
                else { damage = "a series record does not parse"; break }
                let local = seriesIndex(name)
                guard local == Int(exactly: index) else {
                    damage = "series \(name) is numbered \(index), expected \(local)"
                    break
                }
                guard let nanoseconds = Int64(exactly: resolution), nanoseconds > 0 else {
                    damage = "series \(name) has a resolution of \(resolution) ns"
                    break
                }
                readers[local] = SampleStream(resolution: nanoseconds)
                declared.insert(local)
            case 2:
                guard journalGeneration != nil, let count = replaySamples(&reader, readers: &readers) else {
                    damage = "a samples record does not parse"
                    break
                }
                replayed += count
            case 3:
                guard journalGeneration != nil else { damage = "a misplaced clock-step record"; break }
                for name in order { series[name]!.clockStepped() }
            default:
                damage = "a record of unknown type \(body[0])"
            }
            if damage != nil { break }
            records += 1
            position += 8 + length
        }
        for (index, stream) in readers { streams[index] = stream }
        statistics.recoveredSamples += replayed
        if let damage {
            logger.error("store journal \(path): \(damage) after record \(records); cut \(bytes.count - position) bytes, the samples in them are lost")
            if let handle = FileHandle(forWritingAtPath: path) {
                try? handle.truncate(atOffset: UInt64(position))
                try? handle.synchronize()
                try? handle.close()
            }
        }
        journalBytes = position
        if journalGeneration == nil { journalBytes = 0 }
    }

    /// Appends one samples record's samples to their series; returns how many, or nil if it does not parse.
    private func replaySamples(_ reader: inout BinaryReader, readers: inout [Int: SampleStream]) -> Int? {
        guard let seriesCount = reader.readVarint(), seriesCount <= UInt64(order.count),
              let bitmap = reader.readBytes((Int(seriesCount) + 7) / 8)
        else { return nil }
        let rest = Array(reader.readBytes(reader.remaining) ?? [])
        var words = [UInt64](repeating: 0, count: (rest.count + 7) / 8 + 1)
        for (offset, byte) in rest.enumerated() { words[offset / 8] |= UInt64(byte) << UInt64(56 - 8 * (offset % 8)) }
        var total = 0
        var failed = false
        words.withUnsafeBufferPointer { buffer in
            var bits = BitReader(buffer)
            for index in 0..<Int(seriesCount) where bitmap[bitmap.startIndex + index / 8] & (1 << UInt8(index % 8)) != 0 {
                guard var stream = readers[index], let name = order.indices.contains(index) ? order[index] : nil else {
                    failed = true
                    return
                }
                let (count, overflow) = Int(SampleBlockCodec.readSigned(from: &bits, buckets: .value))
                    .addingReportingOverflow(1)
                guard !overflow, count > 0, count <= rest.count * 8 + 64 - bits.position else {
                    failed = true
                    return
                }
                for _ in 0..<count {
                    let (time, value) = stream.decode(from: &bits)
                    series[name]!.append(value, at: time)
                }
                readers[index] = stream
                total += count
            }
            if bits.position > rest.count * 8 { failed = true }
        }
        return failed ? nil : total
    }

    /// Opens the journal to append after what recovery kept, or starts one under the current generation.
    func openJournal() throws {
        guard let journalPath else { return }
        if journalBytes > 0, FileManager.default.fileExists(atPath: journalPath) {
            journal = try FileHandle(forUpdating: URL(fileURLWithPath: journalPath))
            try journal?.seekToEnd()
            return
        }
        try startJournal(at: journalPath)
    }

    /// Replaces the journal with one holding only the current generation, atomically; every stream starts afresh.
    func startJournal(at path: String) throws {
        var start = BinaryWriter()
        appendRecord(type: 0, to: &start) { $0.writeVarint(generation) }
        try AtomicFile.write(Data(start.bytes), to: path)
        journal = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try journal?.seekToEnd()
        journalBytes = start.bytes.count
        declared.removeAll()
        streams = order.map { SampleStream(resolution: series[$0]!.resolution) }
    }
}

