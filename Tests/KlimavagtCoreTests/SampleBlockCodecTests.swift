import KlimavagtCore
import PropertyBased
import Testing

/// Values of every awkward kind, chosen by a generated number: NaN payloads, infinities, zeros of both signs,
/// subnormals, arbitrary bit patterns, and decimals as sensors write them.
func awkwardValue(_ seed: UInt64) -> Double {
    switch seed % 9 {
    case 0: return Double(bitPattern: 0x7FF0_0000_0000_0000 | (seed >> 8 & 0x000F_FFFF_FFFF_FFFF) | 1)   // NaN payloads
    case 1: return seed & 0x100 == 0 ? .infinity : -.infinity
    case 2: return seed & 0x100 == 0 ? 0.0 : -0.0
    case 3: return Double(bitPattern: (seed >> 12) & 0x000F_FFFF_FFFF_FFFF | (seed & 0x200 == 0 ? 0 : 1 << 63))   // subnormals
    case 4: return Double(bitPattern: seed &* 0x9E37_79B9_7F4A_7C15)   // any bits
    case 5: return Double(Int64(seed >> 40) - 8_000_000) / 100                 // 2 decimals
    case 6: return Double(seed % 7)                                             // small counts
    case 7: return 123.4 + Double(seed % 21) / 10                              // a level with 0.1 resolution
    default: return .greatestFiniteMagnitude * (seed & 0x100 == 0 ? 1 : -1)
    }
}

func roundTrip(times: [Int64], values: [Double]) -> (times: [Int64], values: [Double], block: SampleBlock) {
    var output = [UInt64](repeating: 0, count: SampleBlockCodec.maximumWords(for: times.count))
    let block = times.withUnsafeBufferPointer { t in
        values.withUnsafeBufferPointer { v in
            output.withUnsafeMutableBufferPointer { SampleBlockCodec.encode(times: t, values: v, count: times.count, into: $0) }
        }
    }
    var decodedTimes: [Int64] = []
    var decodedValues: [Double] = []
    output.withUnsafeBufferPointer {
        SampleBlockCodec.decode(block, from: UnsafeBufferPointer(rebasing: $0[0..<block.words]),
                                times: &decodedTimes, values: &decodedValues)
    }
    return (decodedTimes, decodedValues, block)
}

@Suite("Compressed sample blocks")
struct SampleBlockCodecTests {
    @Test("any values and non-decreasing times come back bit for bit")
    func anyValues() async {
        await propertyCheck(count: 300, input: Gen.uint64(in: 0 ... .max).array(of: 1...300), Gen.int(in: 0...4)) {
            seeds, timing in
            var time: Int64 = 1_700_000_000_000_000_000
            var times: [Int64] = []
            for seed in seeds {
                switch timing {
                case 0: time += 1_000_000_000                                  // exactly 1 Hz
                case 1: time += 1_000_000_000 + Int64(seed % 2001) * 1_000_000 - 1_000_000_000   // ms jitter, may repeat
                case 2: time += Int64(seed % 3_000_000_000_000)                // irregular ns, up to 50 min apart
                case 3: time += Int64(seed % 2)                                // nanosecond steps and repeats
                default: time += Int64(seed >> 20)                             // huge gaps
                }
                times.append(time)
            }
            let values = seeds.map(awkwardValue)
            let decoded = roundTrip(times: times, values: values)
            #expect(decoded.times == times)
            #expect(decoded.values.map(\.bitPattern) == values.map(\.bitPattern))
        }
    }

    @Test("decimal blocks come back bit for bit too", arguments: [0, 1, 2, 3, 6])
    func decimals(places: Int) async {
        await propertyCheck(count: 100, input: Gen.int64(in: -10_000_000 ... 10_000_000).array(of: 1...256)) { mantissas in
            var scale = 1.0
            for _ in 0..<places { scale *= 10 }
            let values = mantissas.map { Double($0) / scale }
            let times = values.indices.map { Int64($0) * 60_000_000_000 }
            let decoded = roundTrip(times: times, values: values)
            #expect(decoded.values.map(\.bitPattern) == values.map(\.bitPattern))
            #expect(decoded.block.decimals != nil)
        }
    }

    @Test("special values force the raw form: NaN, infinities, -0, subnormals")
    func specials() {
        for value in [Double.nan, .infinity, -.infinity, -0.0, .leastNonzeroMagnitude, Double(bitPattern: 0x7FF8_0000_DEAD_BEEF)] {
            let decoded = roundTrip(times: [0, 1_000_000_000], values: [1.5, value])
            #expect(decoded.block.decimals == nil)
            #expect(decoded.values.map(\.bitPattern) == [(1.5 as Double).bitPattern, value.bitPattern])
        }
    }
}
