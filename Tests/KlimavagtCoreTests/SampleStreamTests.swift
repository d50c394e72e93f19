import KlimavagtCore
import PropertyBased
import Testing

@Suite("The journal's sample streams")
struct SampleStreamTests {
    @Test("samples come back bit for bit across flushes, late ones and awkward values included")
    func roundTrip() async {
        await propertyCheck(count: 200, input: Gen.uint64(in: 0 ... .max).array(of: 1...400), Gen.int(in: 1...50)) {
            seeds, flushEvery in
            var writerStream = SampleStream(resolution: 1_000_000)
            var readerStream = SampleStream(resolution: 1_000_000)
            var time: Int64 = 1_800_000_000_000_000_000
            var expected: [(Int64, Double)] = []
            var decoded: [(Int64, Double)] = []
            var pending: [(Int64, Double)] = []
            func flush() {
                var words = [UInt64](repeating: 0, count: pending.count * 3 + 2)
                let bits = words.withUnsafeMutableBufferPointer { buffer in
                    var writer = BitWriter(into: buffer)
                    for (t, v) in pending { writerStream.encode(v, at: t, into: &writer) }
                    return writer.bitCount
                }
                words.withUnsafeBufferPointer { buffer in
                    var reader = BitReader(buffer)
                    for _ in pending { decoded.append(readerStream.decode(from: &reader)) }
                    #expect(reader.position == bits)
                }
                pending.removeAll()
            }
            for (index, seed) in seeds.enumerated() {
                // Mostly forward, sometimes seconds late, in whole milliseconds.
                time += Int64(seed % 3000) * 1_000_000 - (seed % 7 == 0 ? 5_000_000_000 : 0)
                let value = seed % 4 == 0 ? awkwardValue(seed) : Double(Int64(seed >> 40) % 100_000) / 100
                expected.append((time, value))
                pending.append((time, value))
                if index % flushEvery == 0 { flush() }
            }
            flush()
            #expect(decoded.map(\.0) == expected.map(\.0))
            #expect(decoded.map(\.1.bitPattern) == expected.map(\.1.bitPattern))
        }
    }
}
