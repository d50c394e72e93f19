import Foundation

/// The one record framing of the agent's small state files (`outbox.journal`, `counters.state`): one record per
/// line, `CRC32HEX JSON\n`, where the eight lowercase hex digits are the CRC-32 (`CRC32`) of the JSON bytes. A line
/// whose checksum, form or JSON does not hold is damaged; each line stands alone, so a damaged one loses only itself.
enum ChecksummedLine {
    /// `value` as one line, with its line end.
    static func encode(_ value: some Encodable, with encoder: JSONEncoder = JSONEncoder()) throws -> Data {
        let json = try encoder.encode(value)
        var line = Data(String(format: "%08x ", CRC32.checksum(json)).utf8)
        line.append(json)
        line.append(0x0A)
        return line
    }

    /// The record of one line (without its line end), or nil if it is damaged.
    static func decode<Record: Decodable>(_ type: Record.Type, from line: Data,
                                          with decoder: JSONDecoder = JSONDecoder()) -> Record?
    {
        guard line.count > 9, line[line.startIndex + 8] == 0x20,
              let crc = UInt32(String(decoding: line.prefix(8), as: UTF8.self), radix: 16)
        else { return nil }
        let json = line.dropFirst(9)
        guard CRC32.checksum(json) == crc else { return nil }
        return try? decoder.decode(Record.self, from: Data(json))
    }
}
