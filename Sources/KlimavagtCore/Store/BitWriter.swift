/// Appends bit fields, most significant bit first, into 64-bit words the caller owns.
///
/// It writes into a preallocated buffer and never allocates, so sealing a block costs no memory of its own.
public struct BitWriter {
    private let words: UnsafeMutableBufferPointer<UInt64>
    public private(set) var bitCount = 0

    public init(into words: UnsafeMutableBufferPointer<UInt64>) {
        self.words = words
    }

    /// How many bits are left in the buffer.
    public var remaining: Int { words.count * 64 - bitCount }

    /// Writes the low `count` bits of `value` (0...64); the caller keeps within `remaining`.
    @inline(__always)
    public mutating func write(_ value: UInt64, bits count: Int) {
        guard count > 0 else { return }
        let field = count == 64 ? value : value & ((1 << UInt64(count)) - 1)
        let word = bitCount >> 6
        let used = bitCount & 63
        let free = 64 - used
        if used == 0 { words[word] = 0 }
        if count <= free {
            words[word] |= field << UInt64(free - count)
        } else {
            let spill = count - free
            words[word] |= field >> UInt64(spill)
            words[word + 1] = field << UInt64(64 - spill)
        }
        bitCount += count
    }

    @inline(__always)
    public mutating func write(bit: Bool) {
        write(bit ? 1 : 0, bits: 1)
    }

    /// Words used so far.
    public var wordCount: Int { (bitCount + 63) >> 6 }
}

/// Reads bit fields written by `BitWriter`.
public struct BitReader {
    private let words: UnsafeBufferPointer<UInt64>
    public private(set) var position = 0

    public init(_ words: UnsafeBufferPointer<UInt64>) {
        self.words = words
    }

    @inline(__always)
    public mutating func read(bits count: Int) -> UInt64 {
        guard count > 0 else { return 0 }
        let word = position >> 6
        let used = position & 63
        let available = 64 - used
        var result: UInt64
        if count <= available {
            result = (words[word] << UInt64(used)) >> UInt64(64 - count)
        } else {
            let high = (words[word] << UInt64(used)) >> UInt64(used)
            let spill = count - available
            result = (high << UInt64(spill)) | (words[word + 1] >> UInt64(64 - spill))
        }
        position += count
        return result
    }

    @inline(__always)
    public mutating func readBit() -> Bool {
        read(bits: 1) == 1
    }
}
