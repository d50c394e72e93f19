/// How a sealed block of samples was encoded; kept beside its bits.
public struct SampleBlock: Sendable, Equatable {
    /// Samples in the block.
    public var count: Int
    public var firstTime: Int64
    public var lastTime: Int64
    /// Timestamps are stored in units of 10^timeExponent nanoseconds.
    public var timeExponent: Int
    /// Values are integers over 10^decimals, or, when nil, raw doubles compared by XOR (Gorilla).
    public var decimals: Int?
    /// Where the block's bits start in its store, and how many words they take.
    public var word: Int
    public var words: Int
    public var bits: Int
}

/// Encodes and decodes blocks of samples: delta-of-delta timestamps and, per block, either decimal values as
/// integer deltas or doubles by XOR with the previous value (Facebook's Gorilla).
///
/// A block whose values are all decimals with at most six places (sensor readings, tip counts) is stored in decimal
/// form; any other block (NaN payloads, infinities, −0, subnormals, noisy binary fractions) in XOR form, which keeps
/// every bit. Both round trips are bit-exact.
public enum SampleBlockCodec {
    static let powersOfTen: [Double] = (0...9).map { exponent in
        var value = 1.0
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    /// The worst case in words for `count` samples, for sizing the buffer `encode` writes into.
    public static func maximumWords(for count: Int) -> Int {
        (count * (68 + 77) + 63) / 64 + 2
    }

    /// Encodes `count` samples (times in nanoseconds, strictly or weakly increasing) into `output`.
    public static func encode(
        times: UnsafeBufferPointer<Int64>, values: UnsafeBufferPointer<Double>, count: Int,
        into output: UnsafeMutableBufferPointer<UInt64>, word: Int = 0
    ) -> SampleBlock {
        precondition(count > 0)
        let timeExponent = commonTimeExponent(times, count)
        let decimals = decimalPlaces(values, count)
        var writer = BitWriter(into: output)
        let unit = Int64(powersOfTen[timeExponent])
        // Timestamps: the first in the header; then deltas of deltas in units, in buckets.
        var previousTime = times[0]
        var previousDelta: Int64 = 0
        for index in 1..<max(count, 1) where index < count {
            let delta = (times[index] &- previousTime) / unit
            writeSigned(delta &- previousDelta, to: &writer, buckets: timeBuckets)
            previousDelta = delta
            previousTime = times[index]
        }
        if let decimals {
            let scale = powersOfTen[decimals]
            var previous: Int64 = 0
            for index in 0..<count {
                let mantissa = Int64((values[index] * scale).rounded())
                writeSigned(mantissa &- previous, to: &writer, buckets: index == 0 ? firstValueBuckets : valueBuckets)
                previous = mantissa
            }
        } else {
            var previous = values[0].bitPattern
            writer.write(previous, bits: 64)
            var leading = 65
            var trailing = 0
            for index in 1..<max(count, 1) where index < count {
                let bits = values[index].bitPattern
                let xor = bits ^ previous
                previous = bits
                if xor == 0 {
                    writer.write(bit: false)
                    continue
                }
                writer.write(bit: true)
                let newLeading = min(xor.leadingZeroBitCount, 31)
                let newTrailing = xor.trailingZeroBitCount
                if leading <= 64, newLeading >= leading, newTrailing >= trailing {
                    writer.write(bit: false)
                    writer.write(xor >> UInt64(trailing), bits: 64 - leading - trailing)
                } else {
                    leading = newLeading
                    trailing = newTrailing
                    let meaningful = 64 - leading - trailing
                    writer.write(bit: true)
                    writer.write(UInt64(leading), bits: 5)
                    writer.write(UInt64(meaningful - 1), bits: 6)
                    writer.write(xor >> UInt64(trailing), bits: meaningful)
                }
            }
        }
        return SampleBlock(
            count: count, firstTime: times[0], lastTime: times[count - 1], timeExponent: timeExponent,
            decimals: decimals, word: word, words: writer.wordCount, bits: writer.bitCount)
    }

    /// Decodes a block back into times and values, appending to the given arrays.
    public static func decode(_ block: SampleBlock, from words: UnsafeBufferPointer<UInt64>,
                              times: inout [Int64], values: inout [Double])
    {
        var reader = BitReader(words)
        let unit = Int64(powersOfTen[block.timeExponent])
        times.append(block.firstTime)
        var previousTime = block.firstTime
        var previousDelta: Int64 = 0
        for _ in 1..<max(block.count, 1) where block.count > 1 {
            let delta = previousDelta &+ readSigned(from: &reader, buckets: timeBuckets)
            previousTime = previousTime &+ delta &* unit
            times.append(previousTime)
            previousDelta = delta
        }
        if let decimals = block.decimals {
            let scale = powersOfTen[decimals]
            var previous: Int64 = 0
            for index in 0..<block.count {
                previous = previous &+ readSigned(from: &reader, buckets: index == 0 ? firstValueBuckets : valueBuckets)
                values.append(Double(previous) / scale)
            }
        } else {
            var previous = reader.read(bits: 64)
            values.append(Double(bitPattern: previous))
            var leading = 0
            var trailing = 0
            for _ in 1..<max(block.count, 1) where block.count > 1 {
                if reader.readBit() {
                    if reader.readBit() {
                        leading = Int(reader.read(bits: 5))
                        let meaningful = Int(reader.read(bits: 6)) + 1
                        trailing = 64 - leading - meaningful
                    }
                    let meaningful = 64 - leading - trailing
                    previous ^= reader.read(bits: meaningful) << UInt64(trailing)
                }
                values.append(Double(bitPattern: previous))
            }
        }
    }

    /// Buckets for signed fields: a unary prefix picks the width (`0`, `10`, `110`, ...), the last prefix all ones.
    struct Buckets {
        /// Bit widths after each prefix; a width of 0 means the value zero.
        let widths: [Int]
    }

    static let timeBuckets = Buckets(widths: [0, 7, 9, 12, 32, 64])
    static let valueBuckets = Buckets(widths: [0, 4, 8, 14, 24, 64])
    static let firstValueBuckets = Buckets(widths: [0, 12, 24, 40, 64])

    @inline(__always)
    static func writeSigned(_ value: Int64, to writer: inout BitWriter, buckets: Buckets) {
        let zigzag = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        let widths = buckets.widths
        for (index, width) in widths.enumerated() {
            let fits = width == 64 || (width == 0 ? zigzag == 0 : zigzag < (1 << UInt64(width)))
            guard fits else { continue }
            let last = index == widths.count - 1
            // Prefix: `index` ones, then a zero unless this is the last bucket.
            if index > 0 { writer.write((1 << UInt64(index)) - 1, bits: index) }
            if !last { writer.write(bit: false) }
            writer.write(zigzag, bits: width)
            return
        }
    }

    @inline(__always)
    static func readSigned(from reader: inout BitReader, buckets: Buckets) -> Int64 {
        let widths = buckets.widths
        var index = 0
        while index < widths.count - 1, reader.readBit() { index += 1 }
        let zigzag = reader.read(bits: widths[index])
        return Int64(bitPattern: (zigzag >> 1) ^ (0 &- (zigzag & 1)))
    }

    /// The largest k ≤ 9 such that every gap between timestamps is a whole number of 10^k nanoseconds.
    static func commonTimeExponent(_ times: UnsafeBufferPointer<Int64>, _ count: Int) -> Int {
        var exponent = 9
        while exponent > 0 {
            let unit = Int64(powersOfTen[exponent])
            var fits = true
            for index in 1..<max(count, 1) where index < count && (times[index] &- times[0]) % unit != 0 {
                fits = false
                break
            }
            if fits { return exponent }
            exponent -= 1
        }
        return 0
    }

    /// The fewest decimal places (≤ 6) that write every value exactly, or nil if some value needs raw bits.
    static func decimalPlaces(_ values: UnsafeBufferPointer<Double>, _ count: Int) -> Int? {
        var places = 0
        var index = 0
        while index < count {
            let value = values[index]
            // −0, NaN, infinities and magnitudes past 2^53 keep their raw bits.
            guard value.isFinite, value.bitPattern != (-0.0).bitPattern, abs(value) < 9.0e15 else { return nil }
            while true {
                let scale = powersOfTen[places]
                let scaled = (value * scale).rounded()
                if abs(scaled) < 9.0e15, (Double(Int64(scaled)) / scale).bitPattern == value.bitPattern { break }
                places += 1
                if places > 6 { return nil }
            }
            index += 1
        }
        // Every value once more at the places finally chosen, exactly as `encode` will scale it.
        let scale = powersOfTen[places]
        for index in 0..<count {
            let scaled = (values[index] * scale).rounded()
            guard (Double(Int64(scaled)) / scale).bitPattern == values[index].bitPattern else { return nil }
        }
        return places
    }
}
