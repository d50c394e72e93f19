import Foundation
@testable import KlimavagtSystem
import KlimavagtTestSupport
import Testing

/// The release of the start-up code's pages, on this very process: the segment is found, the kernel takes the pages
/// back, and the code runs on (its pages fault back in from the file).
@Suite("Program code pages")
struct ProgramCodeTests {
    /// The resident kB of the mapping that starts at `start`, from /proc/self/smaps.
    static func residentKilobytes(of start: UInt) -> Int? {
        guard let smaps = try? String(contentsOfFile: "/proc/self/smaps", encoding: .utf8) else { return nil }
        var inside = false
        for line in smaps.split(separator: "\n") {
            if let dash = line.firstIndex(of: "-"), let begin = UInt(line[..<dash], radix: 16),
               line.split(separator: " ").count >= 5
            {
                inside = begin == start
            } else if inside, line.hasPrefix("Rss:") {
                return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
            }
        }
        return nil
    }

    // qemu-user runs the guest's code from its own translation cache and answers madvise(MADV_PAGEOUT) without
    // passing it on: the code's resident kB stayed the same there (7 324 before and after, arm64 under qemu-aarch64),
    // so this test has nothing to see under emulation.
    @Test("the code segment is found, its resident pages go, and the code still runs",
          .disabled(if: TestTiming.emulation != nil, "the code's resident pages are the emulator's"))
    func release() throws {
        let segment = try #require(ProgramCode.codeSegment())
        #expect(segment.end > segment.start)
        let before = try #require(Self.residentKilobytes(of: segment.start))
        let released = try #require(ProgramCode.releaseResidentPages())
        #expect(UInt(released) == segment.end - segment.start)
        // Read at once: the code that reads it faults back in, but not the most of what was resident.
        let after = try #require(Self.residentKilobytes(of: segment.start))
        #expect(after < before, "resident code \(before) kB before, \(after) kB after")
        // Code runs on: a sort and a JSON round trip touch code the release took away.
        let sorted = (0..<1000).map { ($0 * 7919) % 1000 }.sorted()
        #expect(sorted == Array(0..<1000))
        let data = try JSONSerialization.data(withJSONObject: ["seq": 1])
        #expect(String(decoding: data, as: UTF8.self) == #"{"seq":1}"#)
    }
}
