import Foundation
import KlimavagtCore
import KlimavagtMQTT
import KlimavagtTestSupport
import Testing

/// ENOSPC for real: the state directory is a small tmpfs of its own (mounted for the test and unmounted after, so
/// nothing of the machine changes), filled up while the agent runs.
@Suite("A full state directory", .serialized,
       .enabled(if: geteuid() == 0, "mounting a tmpfs needs root"))
struct FullDiskTests {
    /// Four events 6, 10, 11 and 15 s after the agent starts (4 s window): warning, resolved, severe, resolved.
    static let trace = """
        time,sensor,value
        2024-01-01T00:00:00Z,rain-1,1
        2024-01-01T00:00:05Z,rain-1,80
        2024-01-01T00:00:10Z,rain-1,160

        """

    func configuration(in folder: String, port: Int, withInput: Bool) throws -> String {
        // The trace's pace is scaled under emulation, so that the disk is full before its second reading, as natively.
        let input = withInput ? "\n    input: {simulated: {file: \(folder)/trace.csv, speed: \(1 / TestTiming.scale)}}" : ""
        let path = folder + (withInput ? "/agent.yaml" : "/quiet.yaml")
        try """
            site: full
            mqtt: {host: 127.0.0.1, port: \(port), reconnect: {initial: 100ms, max: 300ms}}
            sensors:
              - id: rain-1
                device: rimco-0.2mm\(input)
            rules:
              - {id: skybrud, kind: cloudburst, sensor: rain-1, window: 4s}

            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("events decided while the disk is full are journalled once space returns, and survive a SIGKILL before delivery")
    func fullThenSpaceThenKill() async throws {
        let folder = NSTemporaryDirectory() + "klimavagt-full-\(UUID().uuidString)"
        let state = folder + "/state"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m,mode=0755", "klimavagt-test", state])
        defer { _ = try? run("/bin/umount", ["-l", state]) }
        try Self.trace.write(toFile: folder + "/trace.csv", atomically: true, encoding: .utf8)

        let broker = try MosquittoBroker(persistent: true)
        defer { broker.stop() }
        let delivered = DeliveredEvents()
        let operator_ = try MQTTClient(MQTTOptions(
            port: broker.port, clientID: "full-operator", cleanSession: false,
            reconnectInitial: .milliseconds(100), reconnectMaximum: .milliseconds(300)))
        defer { operator_.close() }
        try await operator_.connect()
        try await operator_.subscribe("klimavagt/full/alerts/+/event", qos: .atLeastOnce)
        try await operator_.subscribe("klimavagt/full/status", qos: .atLeastOnce)
        let inbox = operator_.messages
        let online = OnlineFlag()
        let collector = Task {
            for await message in inbox {
                if message.topic.hasSuffix("/status") { online.set(message.text == "online") } else { delivered.record(message.payload) }
            }
        }
        defer { collector.cancel() }

        let config = try configuration(in: folder, port: broker.port, withInput: true)
        let first = try Klimavagt.start(["run", "--config", config, "--state-dir", state])
        defer { first.signal(SIGKILL); first.wait() }
        try #require(await eventually(10) { online.value }, "the agent online")
        // The disk fills up, and the broker stops answering: what is decided now exists only in the agent.
        let filler = state + "/filler"
        FileManager.default.createFile(atPath: filler, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: filler))
        var full = false
        for _ in 0..<64 where !full {
            do { try handle.write(contentsOf: Data(count: 64 * 1024)) } catch { full = true }
        }
        try? handle.close()
        #expect(full, "the 1 MiB tmpfs never filled up")
        broker.pause()
        defer { broker.resume() }
        try #require(await eventually(20) { first.output.contains("skybrud seq 1") },
                     "the first event decided with the disk full")
        #expect(first.output.contains("alert skybrud seq 1 is kept in memory until the journal can be written")
            || first.output.contains("cannot write alert skybrud seq 1 to the journal"), "\(first.output)")
        // Space again before the next event: it and the one before go into the journal, in order.
        try FileManager.default.removeItem(atPath: filler)
        try #require(await eventually(20) {
            first.output.contains("events kept in memory while the journal could not be written are in it now")
                && journalAdds(state) >= 3
        }, "the third event decided")
        first.signal(SIGKILL)
        #expect(first.wait() == 128 + SIGKILL)
        #expect(delivered.total == 0, "the frozen broker took an event")

        broker.resume()
        let quiet = try configuration(in: folder, port: broker.port, withInput: false)
        let second = try Klimavagt.start(["run", "--config", quiet, "--state-dir", state])
        defer { second.signal(SIGKILL); second.wait() }
        // The three from the journal, then the fourth the restart decides: the severe cloudburst's rain (2024 in the
        // trace) has long left the window on the quiet run's clock, so it resolves at start.
        try #require(await eventually(30) { delivered.highest("skybrud") >= 4 }, "four events delivered after the restart")
        // Nothing more may come: a duplicate or a fifth event would arrive within this half second.
        try await Task.sleep(for: .milliseconds(500))
        let states = try await retainedAlertStates(broker, site: "full", rules: ["skybrud"])
        #expect(delivered.problems(retained: states).isEmpty, "\(delivered.problems(retained: states))\n\(first.output)")
        #expect(delivered.highest("skybrud") == 4)
        #expect(delivered.states("skybrud") == ["firing", "resolved", "firing", "resolved"])
        second.signal(SIGTERM)
        #expect(await second.wait(seconds: 15) == 0, "agent output:\n\(second.output)")
    }

}

/// How many events the outbox journal in `state` has taken (its `add` records).
func journalAdds(_ state: String) -> Int {
    let text = (try? String(contentsOfFile: state + "/outbox.journal", encoding: .utf8)) ?? ""
    return text.split(separator: "\n").filter { $0.contains(#""op":"add""#) }.count
}

/// Whether the agent's status is `online`, as last seen.
final class OnlineFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var online = false
    func set(_ value: Bool) { lock.withLock { online = value } }
    var value: Bool { lock.withLock { online } }
}
