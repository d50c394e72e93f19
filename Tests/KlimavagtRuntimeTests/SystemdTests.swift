import Foundation
import KlimavagtTestSupport
import Testing

/// The agent under systemd: sd_notify messages on a real datagram socket, and the unit files checked by
/// systemd-analyze.
@Suite("systemd", .serialized)
struct SystemdTests {
    /// A datagram socket standing in for systemd's notification socket.
    final class NotifySocket: @unchecked Sendable {
        let path: String
        let fd: Int32

        init(path: String) throws {
            self.path = path
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard bound == 0 else { throw BrokerError("cannot bind \(path)") }
            var timeout = timeval(tv_sec: 1, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit {
            close(fd)
            unlink(path)
        }

        /// Messages received until `until` says enough, or `seconds` (scaled by `TestTiming.scale`) pass.
        func receive(seconds: Double, until: ([String]) -> Bool) -> [String] {
            var messages: [String] = []
            let deadline = Date().addingTimeInterval(TestTiming.seconds(seconds))
            var buffer = [UInt8](repeating: 0, count: 4096)
            while Date() < deadline, !until(messages) {
                let count = recv(fd, &buffer, buffer.count, 0)
                if count > 0 { messages.append(String(decoding: buffer.prefix(count), as: UTF8.self)) }
            }
            return messages
        }
    }

    /// Starts the agent binary for site `notify` with a notification socket and a 2 s watchdog; its output goes to a
    /// log file, which `JOURNAL_STREAM` names as the journal when `logAsJournal`.
    func startUnderWatchdog(brokerPort: Int, sensorsAndRules: String, logAsJournal: Bool = false) throws
        -> (agent: ChildProcess, notify: NotifySocket)
    {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-notify-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try """
            site: notify
            mqtt: {host: 127.0.0.1, port: \(brokerPort)}

            """.appending(sensorsAndRules)
            .write(to: folder.appendingPathComponent("agent.yaml"), atomically: true, encoding: .utf8)
        let notify = try NotifySocket(path: folder.appendingPathComponent("notify.sock").path)
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notify.path
        environment["WATCHDOG_USEC"] = "2000000"
        let log = folder.appendingPathComponent("agent.log").path
        if logAsJournal {
            // Standard error as the journal: JOURNAL_STREAM names the log file's device and inode.
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            var info = stat()
            stat(log, &info)
            environment["JOURNAL_STREAM"] = "\(info.st_dev):\(info.st_ino)"
        }
        let agent = try ChildProcess(Klimavagt.binary, [
            "run", "--config", folder.appendingPathComponent("agent.yaml").path,
            "--state-dir", folder.appendingPathComponent("state").path,
            "--control-socket", folder.appendingPathComponent("control.sock").path,
        ], environment: environment, outputFile: log)
        return (agent, notify)
    }

    @Test("READY=1 with a STATUS once the broker session is up, WATCHDOG=1 while it runs, STOPPING=1 on SIGTERM")
    func notifications() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let (agent, notify) = try startUnderWatchdog(brokerPort: broker.port, sensorsAndRules: """
            sensors:
              - {id: level-1, unit: cm}
            rules:
              - {id: high, kind: threshold, sensor: level-1, levels: {warning: 150}}
            """, logAsJournal: true)
        defer { removeTemporaryFolder(containing: notify.path) }
        defer { agent.signal(SIGKILL); agent.wait() }
        let running = notify.receive(seconds: 20) { $0.filter { $0 == "WATCHDOG=1" }.count >= 2 }
        let ready = try #require(running.first { $0.hasPrefix("READY=1") }, "\(running)\n\(agent.output)")
        #expect(ready.contains("STATUS=broker connected; 1 sensors, 1 rules, 0 alerts firing"))
        #expect(running.filter { $0 == "WATCHDOG=1" }.count >= 2, "a watchdog ping every second (half of 2 s)")
        agent.signal(SIGTERM)
        let stopping = notify.receive(seconds: 10) { $0.contains { $0.hasPrefix("STOPPING=1") } }
        #expect(stopping.contains { $0.hasPrefix("STOPPING=1") })
        // The exit status is what this checks; the time only bounds the test (systemd waits 90 s by default). With
        // the whole suite running in parallel on two cores the shutdown has taken over 10 s.
        let status = await agent.wait(seconds: 30)
        #expect(status == 0, "exit status \(String(describing: status))\n\(agent.output)")
        let lines = agent.output.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("<6>MQTT: connecting to 127.0.0.1:\(broker.port)") }, "\(agent.output)")
        #expect(lines.allSatisfy { $0.hasPrefix("<") }, "every line has a journald priority")
        #expect(!lines.contains { $0.hasPrefix("<3>") || $0.hasPrefix("<2>") }, "no error on a clean stop: \(agent.output)")
    }

    @Test("SIGHUP (ExecReload=) says RELOADING=1 with MONOTONIC_USEC, then READY=1 again, and never STOPPING=1")
    func reloadNotifications() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let (agent, notify) = try startUnderWatchdog(brokerPort: broker.port, sensorsAndRules: """
            sensors:
              - {id: level-1, unit: cm}
            """)
        defer { removeTemporaryFolder(containing: notify.path) }
        defer { agent.signal(SIGKILL); agent.wait() }
        let started = notify.receive(seconds: 20) { $0.contains { $0.hasPrefix("READY=1") } }
        try #require(started.contains { $0.hasPrefix("READY=1") }, "\(started)\n\(agent.output)")
        agent.signal(SIGHUP)
        let reloaded = notify.receive(seconds: 20) { $0.contains { $0.hasPrefix("READY=1") } }
        let reloading = try #require(reloaded.first { $0.hasPrefix("RELOADING=1") }, "\(reloaded)\n\(agent.output)")
        let field = reloading.split(separator: "\n").first { $0.hasPrefix("MONOTONIC_USEC=") }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let stamp = try #require(field.flatMap { UInt64($0.dropFirst("MONOTONIC_USEC=".count)) })
        #expect(stamp > 0 && stamp <= UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec / 1000))
        #expect(reloaded.contains { $0.hasPrefix("READY=1") }, "READY=1 once the services run again: \(reloaded)")
        #expect(!reloaded.contains { $0.contains("STOPPING=1") }, "a reload is not a stop: \(reloaded)")
        agent.signal(SIGTERM)
        let stopping = notify.receive(seconds: 10) { $0.contains { $0.hasPrefix("STOPPING=1") } }
        #expect(stopping.contains { $0.hasPrefix("STOPPING=1") })
        #expect(await agent.wait(seconds: 10) == 0)
    }

    /// A loopback listener whose accept queue is full, so that the kernel drops further connection attempts and a
    /// client's connect hangs, as it does when a firewall or a dead link drops packets on the way to a broker.
    final class BlackholeListener {
        let port: Int
        private let listener: Int32
        private let queued: Int32

        init() throws {
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    bind(listener, pointer, length) == 0 && listen(listener, 0) == 0
                        && getsockname(listener, pointer, &length) == 0
                }
            }
            try #require(bound, "a loopback listener")
            // The one connection the queue holds; it is never accepted.
            let queued = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(queued, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            try #require(connected, "the connection that fills the accept queue")
            self.listener = listener
            self.queued = queued
            port = Int(UInt16(bigEndian: address.sin_port))
        }

        deinit {
            close(queued)
            close(listener)
        }
    }

    @Test("a broker whose packets are dropped holds the MQTT thread in connect, and the watchdog keeps being fed")
    func watchdogWhileConnectHangs() async throws {
        let blackhole = try BlackholeListener()
        let (agent, notify) = try startUnderWatchdog(brokerPort: blackhole.port, sensorsAndRules: """
            sensors:
              - {id: level-1, unit: cm}
            """)
        defer { removeTemporaryFolder(containing: notify.path) }
        defer { agent.signal(SIGKILL); agent.wait() }
        // READY=1 comes after ten seconds of trying the broker; the connect is still hanging then.
        let running = notify.receive(seconds: 30) { $0.filter { $0 == "WATCHDOG=1" }.count >= 3 }
        let ready = try #require(running.first { $0.hasPrefix("READY=1") }, "\(running)\n\(agent.output)")
        #expect(ready.contains("STATUS=broker not connected"))
        #expect(running.filter { $0 == "WATCHDOG=1" }.count >= 3, "\(running)\n\(agent.output)")
        #expect(!agent.output.contains("withholding the watchdog"), "\(agent.output)")
    }

    /// The unit with ExecStart pointing at the binary under test, as systemd-analyze checks that it exists.
    func unitUnderTest() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-unit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let unit = try String(contentsOf: repositoryRoot.appendingPathComponent("Systemd/klimavagt.service"), encoding: .utf8)
            .replacingOccurrences(of: "/usr/bin/klimavagt", with: Klimavagt.binary)
        let path = folder.appendingPathComponent("klimavagt.service").path
        try unit.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("systemd-analyze verify accepts the unit")
    func verify() throws {
        let unit = try unitUnderTest()
        defer { removeTemporaryFolder(containing: unit) }
        let output = try run("/bin/sh", ["-c", "systemd-analyze verify --man=no '\(unit)' 2>&1; echo \"exit $?\""])
        #expect(output.hasSuffix("exit 0\n"), "\(output)")
    }

    @Test("systemd-analyze security --offline=yes rates the unit's exposure at 2.0 or lower")
    func exposure() throws {
        let unit = try unitUnderTest()
        defer { removeTemporaryFolder(containing: unit) }
        let output = try run("/bin/sh", ["-c", "systemd-analyze security --offline=yes '\(unit)' 2>&1"])
        let line = try #require(output.split(separator: "\n").first { $0.contains("Overall exposure level") }, "\(output)")
        // "→ Overall exposure level for klimavagt.service: 1.5 OK :-)" (systemd 252 and 257 alike): the first number.
        let figure = try #require(line.split(separator: " ").lazy.compactMap { Double($0) }.first, "\(line)")
        #expect(figure <= 2.0, "\(line)")
    }

    @Test("the sysusers file creates the service's user and the gpio group")
    func sysusers() throws {
        let file = repositoryRoot.appendingPathComponent("Systemd/klimavagt.sysusers").path
        let output = try run("/bin/sh", ["-c", "systemd-sysusers --dry-run '\(file)' 2>&1; echo \"exit $?\""])
        #expect(output.hasSuffix("exit 0\n"), "\(output)")
        #expect(!output.contains("Failed") && !output.contains("rror"), "\(output)")
    }
}
