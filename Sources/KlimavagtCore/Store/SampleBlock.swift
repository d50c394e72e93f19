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
    public static let powersOfTen: [Double] = (0...9).map { exponent in
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
            let gap = times[index] &- previousTime
            let delta: Int64
            switch timeExponent {   // literal divisors compile to multiplications
            case 9: delta = gap / 1_000_000_000
            case 6: delta = gap / 1_000_000
            case 3: delta = gap / 1_000
            case 0: delta = gap
            default: delta = gap / unit
            }
            writeSigned(delta &- previousDelta, to: &writer, buckets: timeBuckets)
            previousDelta = delta
            previousTime = times[index]
        }
        if let decimals {
            let scale = powersOfTen[decimals]
            var previous: Int64 = 0
            for index in 0..<count {
                let mantissa = nearestInteger(values[index] * scale)
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

    /// Bucket widths for signed fields: a unary prefix picks the width (`0`, `10`, `110`, ...; the last prefix is all
    /// ones), then the zigzag-encoded value in that many bits. A width of 0 is the value zero.
    public enum Buckets: Sendable {
        /// Deltas of deltas of timestamps, Gorilla's buckets with one more for irregular events.
        case time
        /// Differences between decimal values.
        case value
        /// The first decimal value of a block.
        case firstValue

        @inline(__always)
        var widths: (Int, Int, Int, Int, Int, Int, Int) {
            switch self {
            case .time: (0, 7, 9, 12, 21, 32, 64)
            case .value: (0, 3, 6, 12, 24, 64, 64)
            case .firstValue: (0, 12, 24, 40, 64, 64, 64)
            }
        }

        @inline(__always)
        var count: Int {
            switch self {
            case .time: 7
            case .value: 6
            case .firstValue: 5
            }
        }

        @inline(__always)
        func width(_ index: Int) -> Int {
            let all = widths
            switch index {
            case 0: return all.0
            case 1: return all.1
            case 2: return all.2
            case 3: return all.3
            case 4: return all.4
            case 5: return all.5
            default: return all.6
            }
        }
    }

    static let timeBuckets = Buckets.time
    static let valueBuckets = Buckets.value
    static let firstValueBuckets = Buckets.firstValue

    @inline(__always)
    public static func writeSigned(_ value: Int64, to writer: inout BitWriter, buckets: Buckets) {
        let zigzag = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        if zigzag == 0 {
            writer.write(0, bits: 1)
            return
        }
        let needed = 64 - zigzag.leadingZeroBitCount
        let lastIndex = buckets.count - 1
        var index = 1
        while index < lastIndex, buckets.width(index) < needed { index += 1 }
        // Prefix: `index` ones, then a zero unless this is the last bucket; written in one go with the value when
        // they fit in 64 bits together.
        let last = index == lastIndex
        let prefixBits = last ? index : index + 1
        let prefix: UInt64 = last ? (1 << UInt64(index)) - 1 : ((1 << UInt64(index)) - 1) << 1
        let width = buckets.width(index)
        if prefixBits + width <= 64 {
            writer.write(prefix << UInt64(width) | zigzag, bits: prefixBits + width)
        } else {
            writer.write(prefix, bits: prefixBits)
            writer.write(zigzag, bits: width)
        }
    }

    @inline(__always)
    public static func readSigned(from reader: inout BitReader, buckets: Buckets) -> Int64 {
        let lastIndex = buckets.count - 1
        var index = 0
        while index < lastIndex, reader.readBit() { index += 1 }
        let zigzag = reader.read(bits: buckets.width(index))
        return Int64(bitPattern: (zigzag >> 1) ^ (0 &- (zigzag & 1)))
    }

    /// The largest k ≤ 9 such that every gap between timestamps is a whole number of 10^k nanoseconds.
    static func commonTimeExponent(_ times: UnsafeBufferPointer<Int64>, _ count: Int) -> Int {
        // Divisions by literal powers of ten compile to multiplications; most blocks settle at 9 (seconds) or 6 (ms).
        @inline(__always) func divides(_ unit: Int64) -> Bool {
            let first = times[0]
            for index in 1..<max(count, 1) where index < count {
                let gap = times[index] &- first
                let remainder: Int64
                switch unit {
                case 1_000_000_000: remainder = gap % 1_000_000_000
                case 1_000_000: remainder = gap % 1_000_000
                case 1_000: remainder = gap % 1_000
                default: remainder = gap % unit
                }
                if remainder != 0 { return false }
            }
            return true
        }
        if divides(1_000_000_000) { return 9 }
        if divides(1_000_000) {
            for exponent in [8, 7] where divides(Int64(powersOfTen[exponent])) { return exponent }
            return 6
        }
        if divides(1_000) {
            for exponent in [5, 4] where divides(Int64(powersOfTen[exponent])) { return exponent }
            return 3
        }
        for exponent in [2, 1] where divides(Int64(powersOfTen[exponent])) { return exponent }
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
                let scaled = value * scale
                if abs(scaled) < 9.0e15, (Double(nearestInteger(scaled)) / scale).bitPattern == value.bitPattern { break }
                places += 1
                if places > 6 { return nil }
            }
            index += 1
        }
        // Every value once more at the places finally chosen, exactly as `encode` will scale it.
        let scale = powersOfTen[places]
        for index in 0..<count {
            guard (Double(nearestInteger(values[index] * scale)) / scale).bitPattern == values[index].bitPattern else {
                return nil
            }
        }
        return places
    }

    /// The nearest integer by adding a half and truncating: one instruction where `rounded()` is a libm call on
    /// baseline x86-64. It can miss by one just below a half; the exactness checks then reject the decimal form.
    @inline(__always)
    public static func nearestInteger(_ value: Double) -> Int64 {
        Int64(value + (value < 0 ? -0.5 : 0.5))
    }
}
