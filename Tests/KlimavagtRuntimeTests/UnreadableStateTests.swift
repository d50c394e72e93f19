import Foundation
@testable import KlimavagtRuntime
import KlimavagtCore
import KlimavagtMQTT
import KlimavagtTestSupport
import Logging
import Testing

/// A state file that is there but cannot be read (a folder in its place here; mode 000 under a non-root user is the
/// same to the agent) gets one log line naming the file and the reason, and is set aside; the agent goes on.
@Suite("Unreadable state files")
struct UnreadableStateTests {
    /// Collects log lines in memory.
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [String] = []
        func append(_ line: String) { lock.withLock { stored.append(line) } }
        var all: [String] { lock.withLock { stored } }
    }

    struct Handler: LogHandler {
        let lines: Lines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { lines.append("\(event.level) \(event.message)") }
    }

    @Test("a folder in place of counters.state, store.snapshot and store.journal: one line each, set aside")
    func folders() throws {
        let folder = NSTemporaryDirectory() + "klimavagt-unreadable-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for name in ["counters.state", "store.snapshot", "store.journal"] {
            try FileManager.default.createDirectory(atPath: "\(folder)/\(name)", withIntermediateDirectories: true)
        }
        let lines = Lines()
        let logger = Logger(label: "test") { _ in Handler(lines: lines) }
        let counters = CounterStore(stateDirectory: folder, logger: logger, now: 1_700_000_000)
        #expect(counters.totals.isEmpty)
        _ = try TimeSeriesStore(directory: folder, logger: logger) { sensor in
            SeriesConfiguration(id: sensor, rawBytes: 4096, isCount: false)
        }
        for name in ["counters.state", "store.snapshot", "store.journal"] {
            let mentions = lines.all.filter { $0.contains("\(folder)/\(name): cannot read it: Is a directory") }
            #expect(mentions.count == 1, "\(name): \(lines.all)")
            #expect(FileManager.default.fileExists(atPath: "\(folder)/\(name).damaged-1700000000")
                || name != "counters.state")
        }
    }
}

/// The agent run as a user that may not read its state files (mode 000), as under the unit's `User=` after a
/// careless `chmod`: one log line per file naming it and the reason, each set aside, and the agent runs on with
/// seq taken from the broker's retained state.
@Suite("Unreadable state files under a non-root user", .serialized,
       .enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
                "needs root to run the agent as another user"))
struct UnreadableStateFilesAsUserTests {
    @Test("outbox.journal, store.journal and counters.state at mode 000: one line each, set aside, the next event is seq 2")
    func modeZero() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let folder = NSTemporaryDirectory() + "klimavagt-mode000-\(UUID().uuidString)"
        let state = folder + "/state"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try """
            site: mode
            mqtt: {host: 127.0.0.1, port: \(broker.port)}
            sensors:
              - {id: level-1, unit: cm, input: {mqtt: {topic: mode/level-1, path: "$"}}}
            rules:
              - {id: high, kind: threshold, sensor: level-1, levels: {warning: 100}}

            """.write(toFile: folder + "/agent.yaml", atomically: true, encoding: .utf8)
        try run("/bin/chown", ["-R", "65534:65534", state])
        let asNobody = ["--reuid=65534", "--regid=65534", "--clear-groups", "--", Klimavagt.binary,
                        "run", "--config", folder + "/agent.yaml", "--state-dir", state]
        let delivered = DeliveredEvents()
        let watcher = try MQTTClient(MQTTOptions(port: broker.port, clientID: "mode-watch"))
        defer { watcher.close() }
        try await watcher.connect()
        try await watcher.subscribe("klimavagt/mode/alerts/+/event")
        let inbox = watcher.messages
        let collector = Task { for await message in inbox { delivered.record(message.payload) } }
        defer { collector.cancel() }
        let sensors = try MQTTClient(MQTTOptions(port: broker.port, clientID: "mode-sensors"))
        defer { sensors.close() }
        try await sensors.connect()

        func runOnce(publishing value: String, untilSeq seq: Int) async throws -> String {
            let agent = try ChildProcess("/usr/bin/setpriv", asNobody)
            defer { agent.signal(SIGKILL); agent.wait() }
            do {
                try await within(20, "seq \(seq) delivered") {
                    while delivered.highest("high") < seq {
                        try await sensors.publish("mode/level-1", payload: Array(value.utf8))
                        try await Task.sleep(for: .milliseconds(300))
                    }
                }
            } catch {
                Issue.record("\(error); agent output:\n\(agent.output)")
                throw error
            }
            agent.signal(SIGTERM)
            #expect(await agent.wait(seconds: 15) == 0, "agent output:\n\(agent.output)")
            return agent.output
        }
        _ = try await runOnce(publishing: "150", untilSeq: 1)
        let files = ["outbox.journal", "store.journal", "counters.state"]
        // No pulse sensor here writes the counter file: one left by an earlier configuration.
        try #"{"boot":1,"counters":{"rain-1":5}}"#.write(toFile: "\(state)/counters.state", atomically: false, encoding: .utf8)
        for name in files {
            #expect(FileManager.default.fileExists(atPath: "\(state)/\(name)"), "\(name) was not written")
            try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: "\(state)/\(name)")
        }
        let output = try await runOnce(publishing: "50", untilSeq: 2)
        for name in files {
            let lines = output.split(separator: "\n").filter { $0.contains("\(state)/\(name)") && $0.contains("Permission denied") }
            #expect(lines.count == 1, "\(name):\n\(output)")
            let aside = try FileManager.default.contentsOfDirectory(atPath: state).filter { $0.hasPrefix("\(name).damaged-") }
            #expect(aside.count == 1, "\(name) not set aside")
        }
        #expect(delivered.problems(retained: [:]).filter { !$0.contains("no retained state") }.isEmpty)
    }
}

/// EIO on read, from the kernel itself: each state file is a symbolic link to `/proc/self/mem`, which the agent
/// opens as its own memory, and reading it at offset 0 (an address never mapped) fails with EIO.
@Suite("State files that fail with EIO", .serialized)
struct InputOutputErrorTests {
    @Test("outbox.journal, store.journal, store.snapshot and counters.state failing with EIO: one line each, set aside, the agent runs")
    func eio() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let folder = NSTemporaryDirectory() + "klimavagt-eio-\(UUID().uuidString)"
        let state = folder + "/state"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let files = ["outbox.journal", "store.journal", "store.snapshot", "counters.state"]
        for name in files {
            try FileManager.default.createSymbolicLink(atPath: "\(state)/\(name)", withDestinationPath: "/proc/self/mem")
        }
        try """
            site: eio
            mqtt: {host: 127.0.0.1, port: \(broker.port)}
            sensors:
              - {id: level-1, unit: cm, input: {mqtt: {topic: eio/level-1, path: "$"}}}
            rules:
              - {id: high, kind: threshold, sensor: level-1, levels: {warning: 100}}

            """.write(toFile: folder + "/agent.yaml", atomically: true, encoding: .utf8)
        let watcher = try MQTTClient(MQTTOptions(port: broker.port, clientID: "eio-watch"))
        defer { watcher.close() }
        try await watcher.connect()
        try await watcher.subscribe("klimavagt/eio/alerts/+/event")
        let inbox = watcher.messages
        let agent = try Klimavagt.start(["run", "--config", folder + "/agent.yaml", "--state-dir", state])
        defer { agent.signal(SIGKILL); agent.wait() }
        let sensors = try MQTTClient(MQTTOptions(port: broker.port, clientID: "eio-sensors"))
        defer { sensors.close() }
        try await sensors.connect()
        let publisher = Task {
            for _ in 0..<100 {
                try? await sensors.publish("eio/level-1", payload: Array("150".utf8))
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        defer { publisher.cancel() }
        do {
            _ = try await within(20, "an alert event from the agent") {
                for await message in inbox { return message.payload }
                return []
            }
        } catch {
            Issue.record("\(error); agent output:\n\(agent.output)")
            return
        }
        let output = agent.output
        for name in files {
            let lines = output.split(separator: "\n").filter {
                $0.contains("\(state)/\(name)") && $0.contains("Input/output error")
            }
            #expect(lines.count == 1, "\(name):\n\(output)")
            let aside = try FileManager.default.contentsOfDirectory(atPath: state).filter { $0.hasPrefix("\(name).damaged-") }
            #expect(aside.count == 1, "\(name) not set aside:\n\(output)")
        }
        agent.signal(SIGTERM)
        #expect(await agent.wait(seconds: 15) == 0, "agent output:\n\(agent.output)")
    }
}
