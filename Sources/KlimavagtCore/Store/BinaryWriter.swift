/// Appends little-endian integers, varints, doubles and strings to a byte array, for snapshots and journal records.
public struct BinaryWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    public mutating func write(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    public mutating func write(_ value: Int64) { write(UInt64(bitPattern: value)) }
    public mutating func write(_ value: Double) { write(value.bitPattern) }

    /// An unsigned LEB128 varint.
    public mutating func writeVarint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    /// A signed varint, zigzag first.
    public mutating func writeSignedVarint(_ value: Int64) {
        writeVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    public mutating func write(_ text: String) {
        let utf8 = Array(text.utf8)
        writeVarint(UInt64(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    public mutating func write(bytes more: some Collection<UInt8>) {
        bytes.append(contentsOf: more)
    }
}

/// Reads what `BinaryWriter` wrote; every read fails cleanly (nil) past the end, so damaged data is detected.
public struct BinaryReader {
    private let bytes: [UInt8]
    public private(set) var position: Int

    public init(_ bytes: [UInt8], from position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    public var isAtEnd: Bool { position >= bytes.count }

    /// How many bytes are left to read.
    public var remaining: Int { max(0, bytes.count - position) }

    /// The bytes between two positions already read.
    public func bytes(from start: Int, to end: Int) -> ArraySlice<UInt8> {
        bytes[start..<end]
    }

    public mutating func readUInt64() -> UInt64? {
        guard position + 8 <= bytes.count else { return nil }
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(bytes[position + index]) << UInt64(8 * index) }
        position += 8
        return value
    }

    public mutating func readInt64() -> Int64? { readUInt64().map { Int64(bitPattern: $0) } }
    public mutating func readDouble() -> Double? { readUInt64().map { Double(bitPattern: $0) } }

    public mutating func readVarint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while position < bytes.count, shift < 64 {
            let byte = bytes[position]
            position += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }

    public mutating func readSignedVarint() -> Int64? {
        readVarint().map { Int64(bitPattern: ($0 >> 1) ^ (0 &- ($0 & 1))) }
    }

    public mutating func readString() -> String? {
        guard let count = readVarint(), count <= UInt64(bytes.count - position) else { return nil }
        let text = String(decoding: bytes[position..<(position + Int(count))], as: UTF8.self)
        position += Int(count)
        return text
    }

    public mutating func readBytes(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, count <= bytes.count - position else { return nil }
        defer { position += count }
        return bytes[position..<(position + count)]
    }
}
