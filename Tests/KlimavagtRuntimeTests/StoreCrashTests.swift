import Foundation
import KlimavagtTestSupport
import Testing

/// The store under SIGKILL at random moments: a writer appends to three series, flushing every 50 ms and compacting
/// often, and is killed again and again, sometimes with its files damaged in between.
@Suite("The store survives SIGKILL", .serialized)
struct StoreCrashTests {
    var soak: String {
        URL(fileURLWithPath: Klimavagt.binary).deletingLastPathComponent().appendingPathComponent("klimavagt-store-soak").path
    }

    func lines(_ process: ChildProcess) -> [String] {
        process.output.split(separator: "\n").map(String.init)
    }

    @Test("nothing flushed is lost, nothing is counted twice, damaged files are cut or set aside")
    func killAgainAndAgain() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-soak-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var lastFlushed: Int64 = -1
        var killedEarly = 0
        var awaitingCut = false
        var awaitingSetAside = false
        var generator = SystemRandomNumberGenerator()
        var wroteAfterStart = 0
        for round in 0..<24 {
            let writer = try ChildProcess(soak, [directory, "write", "50"])
            // Odd rounds kill at a random moment from the spawn, which under load may be while the writer starts
            // or recovers; even rounds wait for it to have started writing first, so that most rounds write.
            if round % 2 == 0 {
                for _ in 0..<1000 where !writer.output.contains("start ") {
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 40...400, using: &generator)))
            writer.signal(SIGKILL)
            _ = writer.wait()
            let output = lines(writer)
            // The torn journal is cut with one log line, or, when the kill came between a compaction's snapshot and
            // its new journal, it is older than the snapshot and dropped whole with one log line (its samples are in
            // the snapshot).
            if awaitingCut, writer.output.contains("cut") || writer.output.contains("predates the snapshot") {
                awaitingCut = false
            }
            if awaitingSetAside, writer.output.contains("set aside") { awaitingSetAside = false }
            // Killed while still starting or recovering: nothing was written, which is a crash worth having too.
            guard let start = output.first(where: { $0.hasPrefix("start ") }).flatMap({ Int64($0.dropFirst(6)) }) else {
                killedEarly += 1
                continue
            }
            if round % 2 == 0 { wroteAfterStart += 1 }
            #expect(!writer.output.contains("MISMATCH"), "round \(round): \(writer.output)")
            // Everything the last round reported flushed was recovered (the writer resumes after the newest sample).
            #expect(start > lastFlushed, "round \(round): resumed at \(start), \(lastFlushed) had been flushed")
            if let flushed = output.last(where: { $0.hasPrefix("flushed ") }).flatMap({ Int64($0.dropFirst(8)) }) {
                lastFlushed = flushed
            } else {
                lastFlushed = start - 1
            }
            let journal = "\(directory)/store.journal"
            let snapshot = "\(directory)/store.snapshot"
            if round == 8, let handle = FileHandle(forWritingAtPath: journal) {
                // A torn write: the journal's tail cut in the middle of a record.
                let size = try handle.seekToEnd()
                if size > 40 {
                    try handle.truncate(atOffset: size - 7)
                } else {
                    try handle.write(contentsOf: [0x10, 0, 0, 0, 0xAB])   // just compacted: a header cut short
                }
                try handle.close()
                awaitingCut = true
                lastFlushed = -1   // the cut records were flushed but are gone; the writer resumes before them
            }
            if round == 16, FileManager.default.fileExists(atPath: snapshot) {
                // A flipped byte in the snapshot: it is set aside and only the journal's samples come back.
                var bytes = try Data(contentsOf: URL(fileURLWithPath: snapshot))
                bytes[bytes.count / 2] ^= 0x5A
                try bytes.write(to: URL(fileURLWithPath: snapshot))
                awaitingSetAside = true
                lastFlushed = -1
            }
        }
        #expect(wroteAfterStart == 12, "every round that waited for the start got to write")
        #expect(killedEarly <= 12)
        #expect(!awaitingCut, "the torn journal is cut with one log line")
        #expect(!awaitingSetAside, "the damaged snapshot is set aside with one log line")
        let check = try ChildProcess(soak, [directory, "check"])
        #expect(check.wait() == 0)
        let report = lines(check)
        #expect(report.count == 3, "\(check.output)")
        for line in report {
            #expect(line.contains(": whole "), "\(line)")
        }
        let asides = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".damaged-") }
        #expect(asides.count <= 1)
    }
}
