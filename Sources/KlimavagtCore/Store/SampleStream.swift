/// Encodes one series' samples as a continuing bit stream for the store's journal, one flush at a time.
///
/// Unlike a sealed block, the stream cannot look ahead, so it keeps the state between flushes: the last time and
/// delta (times as deltas of deltas in the series' resolution) and the last value with its decimal places. A value
/// with the same places costs a mantissa delta; one needing other places says so in a few bits; one that is not a
/// short decimal (NaN, infinities, −0, noisy binary fractions) is written raw. The journal starts every stream afresh
/// after a snapshot, so writer and reader keep the same state.
public struct SampleStream: Sendable, Equatable {
    public let resolution: Int64
    private var lastTime: Int64?
    private var lastDelta: Int64 = 0
    private var places = 0
    private var lastMantissa: Int64 = 0

    public init(resolution: Int64) {
        self.resolution = max(1, resolution)
    }

    public mutating func encode(_ value: Double, at time: Int64, into writer: inout BitWriter) {
        if let lastTime {
            let delta = (time &- lastTime) / resolution
            SampleBlockCodec.writeSigned(delta &- lastDelta, to: &writer, buckets: .time)
            lastDelta = delta
        } else {
            writer.write(UInt64(bitPattern: time), bits: 64)
        }
        lastTime = time
        let scale = SampleBlockCodec.powersOfTen[places]
        if value.isFinite, value.bitPattern != (-0.0).bitPattern, abs(value * scale) < 9.0e15,
           case let mantissa = SampleBlockCodec.nearestInteger(value * scale),
           (Double(mantissa) / scale).bitPattern == value.bitPattern
        {
            writer.write(0, bits: 1)   // '0': same places, mantissa delta
            SampleBlockCodec.writeSigned(mantissa &- lastMantissa, to: &writer, buckets: .value)
            lastMantissa = mantissa
            return
        }
        if let newPlaces = Self.places(of: value) {
            writer.write(0b10, bits: 2)   // '10': new places, then the whole mantissa
            writer.write(UInt64(newPlaces), bits: 3)
            places = newPlaces
            lastMantissa = SampleBlockCodec.nearestInteger(value * SampleBlockCodec.powersOfTen[newPlaces])
            SampleBlockCodec.writeSigned(lastMantissa, to: &writer, buckets: .firstValue)
            return
        }
        writer.write(0b11, bits: 2)   // '11': raw bits
        writer.write(value.bitPattern, bits: 64)
    }

    public mutating func decode(from reader: inout BitReader) -> (time: Int64, value: Double) {
        let time: Int64
        if let lastTime {
            let delta = lastDelta &+ SampleBlockCodec.readSigned(from: &reader, buckets: .time)
            time = lastTime &+ delta &* resolution
            lastDelta = delta
        } else {
            time = Int64(bitPattern: reader.read(bits: 64))
        }
        lastTime = time
        if !reader.readBit() {
            lastMantissa = lastMantissa &+ SampleBlockCodec.readSigned(from: &reader, buckets: .value)
            return (time, Double(lastMantissa) / SampleBlockCodec.powersOfTen[places])
        }
        if !reader.readBit() {
            places = Int(reader.read(bits: 3))
            lastMantissa = SampleBlockCodec.readSigned(from: &reader, buckets: .firstValue)
            return (time, Double(lastMantissa) / SampleBlockCodec.powersOfTen[min(places, 9)])
        }
        return (time, Double(bitPattern: reader.read(bits: 64)))
    }

    /// The fewest decimal places (≤ 6) that write the value exactly.
    static func places(of value: Double) -> Int? {
        guard value.isFinite, value.bitPattern != (-0.0).bitPattern, abs(value) < 9.0e15 else { return nil }
        for places in 0...6 {
            let scale = SampleBlockCodec.powersOfTen[places]
            guard abs(value * scale) < 9.0e15 else { return nil }
            if (Double(SampleBlockCodec.nearestInteger(value * scale)) / scale).bitPattern == value.bitPattern {
                return places
            }
        }
        return nil
    }
}
