import Foundation
@testable import KlimavagtRuntime
import Testing

/// Clock synchronisation as the agent reports it, also where the unit's `ProtectClock=yes` refuses adjtimex(2).
@Suite("Clock synchronisation")
struct ClockSynchronisationTests {
    @Test("adjtimex answers on this machine (no system-call filter here)")
    func adjtimex() {
        #expect(StatusReporter.clockSynchronised() != nil)
    }

    @Test("without adjtimex, systemd-timesyncd's flag file answers; without timesyncd, nothing is claimed")
    func timesyncdFlag() throws {
        let folder = NSTemporaryDirectory() + "klimavagt-timesync-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(StatusReporter.timesyncdSynchronised(directory: folder) == nil)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        #expect(StatusReporter.timesyncdSynchronised(directory: folder) == false)
        FileManager.default.createFile(atPath: folder + "/synchronized", contents: nil)
        #expect(StatusReporter.timesyncdSynchronised(directory: folder) == true)
    }
}
