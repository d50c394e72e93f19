import Foundation
import KlimavagtMQTT
import KlimavagtTestSupport
import Testing

/// The built `klimavagt` binary, run as a technician would, its output compared with what is expected.
@Suite("CLI")
struct CLITests {
    @Test("replay prints the events of constructed traces exactly as worked out by hand",
          arguments: [
            // window edges: exactly 15.0 mm does not fire, 15.2 does; severe; falls as readings leave the window
            ("replay-site.yaml", "window-edges"),
            // storm surge: hysteresis, hold, a restarted count, nodata and the stale rule
            ("replay-harbour.yaml", "storm-surge"),
            // rate of rise: the rate over the window once it spans half of it, with hysteresis
            ("replay-rise.yaml", "rate-of-rise"),
          ])
    func replayMatchesExpectation(config: String, trace: String) throws {
        let result = try Klimavagt.run(["replay", "--config", fixture(config), fixture("\(trace).csv")])
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
        let expected = try String(contentsOfFile: fixture("\(trace).expected.jsonl"), encoding: .utf8)
        #expect(result.stdout == expected)
    }

    @Test("a bad trace line gives TRACE:LINE: reason and exit status 65")
    func badTrace() throws {
        let trace = fixture("bad-trace.csv")
        let result = try Klimavagt.run(["replay", "--config", fixture("replay-site.yaml"), trace])
        #expect(result.status == 65)
        #expect(result.stderr == "\(trace):3: '2024-08-14T12:10:00' is not an RFC 3339 time in 1900–2099\n")
        #expect(result.stdout.isEmpty)
    }

    @Test("configuration errors name FILE:LINE:COLUMN and the key, and exit with status 78",
          arguments: [
            ("bad-unknown-key.yaml", ":3:3: mqtt.hots: unknown key; allowed here: host, port, client_id, keepalive, "
                + "username, password, password_file, protocol, tls, reconnect"),
            ("bad-type.yaml", ":4:9: mqtt.port: expected a whole number, found 'tolv'"),
            ("bad-rule-key.yaml", ":9:27: rules[0].levels.sever: unknown key; allowed here: warning, severe, extreme"),
            ("bad-pin.yaml", ":6:25: sensors[0].input.gpio.pin: Raspberry Pi 4 Model B has no pin 'GPIO40'; use "
                + "GPIO0-GPIO27 or a header pin number (3, 5, 7, 8, 10, 11, 12, 13, 15, 16, 18, 19, 21, 22, 23, 24, 26, "
                + "27, 28, 29, 31, 32, 33, 35, 36, 37, 38, 40)"),
            ("bad-datum.yaml", ":3:5: sensors[0]: a distance sensor needs datum_cm: the height of its face in cm DVR90"),
            ("bad-topic.yaml", ":3:9: sensors[0].id: the topic site/+/meter has 1 wildcard level(s); there is no {2}"),
            ("bad-field.yaml", ":5:12: sensors[0].field: profile tasmota-energy has no field 'energy'; it has "
                + "energy_total, power, voltage"),
          ])
    func configurationErrors(file: String, message: String) throws {
        let path = fixture(file)
        for command in [["check-config"], ["run"], ["replay"]] {
            var arguments = command + ["--config", path]
            if command == ["replay"] { arguments.append(fixture("window-edges.csv")) }
            let result = try Klimavagt.run(arguments)
            #expect(result.status == 78)
            #expect(result.stderr == "klimavagt: \(path)\(message)\n")
        }
    }

    @Test("check-config summarises a valid configuration: devices, boards, inputs and rules",
          arguments: ["replay-site", "pump-station"])
    func checkConfig(name: String) throws {
        let path = fixture("\(name).yaml")
        let result = try Klimavagt.run(["check-config", "--config", path])
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
        let expected = try String(contentsOfFile: fixture("\(name).expected"), encoding: .utf8)
        #expect(result.stdout == expected.replacingOccurrences(of: "FIXTURE: ok", with: "\(path): ok"))
    }

    @Test("bad usage exits with status 64")
    func usage() throws {
        #expect(try Klimavagt.run(["replay"]).status == 64)
        #expect(try Klimavagt.run(["check-config", "--config", "/nonexistent.yaml"]).status == 64)
        #expect(try Klimavagt.run(["no-such-command"]).status == 64)
    }
}

/// `klimavagt status` against a running agent, and without one.
@Suite("CLI status", .serialized)
struct StatusCommandTests {
    @Test("status, sensors, query and alerts ask the running agent; exit 69 without one")
    func status() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-status-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "time,sensor,value\n2024-01-01T00:00:00Z,rain-1,3\n2024-01-01T00:00:01Z,rain-1,80\n"
            .write(to: folder.appendingPathComponent("trace.csv"), atomically: true, encoding: .utf8)
        try """
            site: status-test
            mqtt: {host: 127.0.0.1, port: \(broker.port)}
            sensors:
              - id: rain-1
                device: rimco-0.2mm
                input: {simulated: {file: trace.csv, speed: 1}}
              - id: level-1
                unit: cm
                input: {mqtt: {topic: site/level, max_clock_skew: never}}
            rules:
              - id: skybrud
                kind: cloudburst
                sensor: rain-1
            """.write(to: folder.appendingPathComponent("agent.yaml"), atomically: true, encoding: .utf8)
        let socket = folder.appendingPathComponent("control.sock").path
        let agent = try Klimavagt.start(["run", "--config", folder.appendingPathComponent("agent.yaml").path,
                                          "--state-dir", folder.appendingPathComponent("state").path,
                                          "--control-socket", socket])
        defer { agent.signal(SIGKILL); agent.wait() }
        let publisher = try MQTTClient(MQTTOptions(port: broker.port, clientID: "status-device"))
        defer { publisher.close() }
        try await publisher.connect()
        // Wait for the agent to answer, for the cloudburst (83 tips by 00:00:01) and for a refused payload.
        var result = try Klimavagt.run(["status", "--socket", socket])
        _ = try await eventually(10, every: .milliseconds(100)) {
            result = try Klimavagt.run(["status", "--socket", socket])
            if result.stdout.contains("alert skybrud: firing") && result.stdout.contains("refused not_json") { return true }
            try await publisher.publish("site/level", payload: Array("oops".utf8))
            return false
        }
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("klimavagt 0.1.0, site status-test, pid ") == true)
        #expect(lines.contains("broker 127.0.0.1:\(broker.port): connected"))
        #expect(lines.contains { $0.hasPrefix("clock: ") })
        #expect(lines.contains { $0.hasPrefix("state directory \(folder.appendingPathComponent("state").path): ") && $0.hasSuffix(" free") })
        #expect(lines.contains { $0.hasPrefix("outbox: ") && $0.contains("no write errors") })
        #expect(lines.contains { $0.hasPrefix("store: 1 series, 2 samples") })
        #expect(lines.contains("sensor rain-1: 16 mm at 2024-01-01T00:00:01Z, 0 s ago, ok")
            || lines.contains { $0.hasPrefix("sensor rain-1: 16 mm at 2024-01-01T00:00:01Z, ") })
        #expect(lines.contains { $0.hasPrefix("sensor level-1: no reading yet; refused not_json ") })
        #expect(lines.contains { $0.hasPrefix("alert skybrud: firing warning since 2024-01-01T00:00:01Z (seq 1)") })
        let sensors = try Klimavagt.run(["sensors", "--socket", socket])
        #expect(sensors.stdout.hasPrefix("SENSOR   VALUE  UNIT  TIME"), "\(sensors.stdout)")
        #expect(sensors.stdout.contains("rain-1   16     mm    2024-01-01T00:00:01Z"), "\(sensors.stdout)")
        // 3 tips at 00:00:00 and 80 at 00:00:01, in the minute from 00:00: 0.6 and 16 mm.
        let query = try Klimavagt.run(["query", "rain-1", "--since", "1h", "--step", "1m", "--format", "csv", "--socket", socket])
        #expect(query.stdout == "time,count,min,avg,max,last,unit\n2024-01-01T00:00:00Z,2,0.6,8.3,16,16,mm\n", "\(query.stderr)")
        let table = try Klimavagt.run(["query", "rain-1", "--since", "1h", "--step", "1m", "--socket", socket])
        #expect(table.stdout.contains("rain-1 (mm), average per 1m: ▁"), "\(table.stdout)")
        let unknown = try Klimavagt.run(["query", "nope", "--socket", socket])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.hasPrefix("klimavagt: no sensor 'nope' in the store; known: "))
        let alerts = try Klimavagt.run(["alerts", "--socket", socket])
        #expect(alerts.stdout.contains("skybrud  firing  warning   2024-01-01T00:00:01Z  1"), "\(alerts.stdout)")
        let history = try Klimavagt.run(["alerts", "--history", "--socket", socket])
        #expect(history.stdout.hasPrefix("2024-01-01T00:00:01Z  skybrud firing warning (seq 1): Skybrud: 16.6 mm"), "\(history.stdout)")
        let json = try Klimavagt.run(["status", "--socket", socket, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect((object["outbox"] as? [String: Any])?["journal_write_errors"] as? Int == 0)

        agent.signal(SIGTERM)
        #expect(await agent.wait(seconds: 15) == 0)
        let gone = try Klimavagt.run(["status", "--socket", socket])
        #expect(gone.status == 69)
        #expect(gone.stderr == "klimavagt: the agent is not running (no control socket at \(socket))\n")
    }
}

/// `klimavagt mqtt probe` against real brokers: plain, TLS with the right and a wrong CA, wrong credentials, none.
@Suite("CLI mqtt probe", .serialized)
final class ProbeCommandTests {
    /// The folders this test made (one per configuration, TLS material), removed when it ends.
    private var folders: [URL] = []

    deinit {
        for folder in folders { try? FileManager.default.removeItem(at: folder) }
    }

    func config(_ mqtt: String) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-probe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        folders.append(folder)
        let file = folder.appendingPathComponent("agent.yaml").path
        try "site: probe\nmqtt: \(mqtt)\nsensors:\n  - {id: level-1, unit: cm}\n".write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    @Test("a reachable broker: connected, and the round trip of five messages")
    func roundTrip() throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let result = try Klimavagt.run(["mqtt", "probe", "--config", config("{host: 127.0.0.1, port: \(broker.port)}")])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.first?.hasPrefix("broker 127.0.0.1:\(broker.port) (MQTT 3.1.1): connected in ") == true)
        #expect(lines.last?.hasPrefix("round trip on klimavagt/probe/probe/") == true)
        #expect(lines.last?.contains(": 5 messages, min ") == true)
    }

    @Test("TLS with the broker's CA works; with another CA the failure says TLS and what to check")
    func tls() throws {
        let material = try TLSMaterial.generate()
        let other = try TLSMaterial.generate(caName: "some other CA")
        folders += [material.directory, other.directory]
        let broker = try MosquittoBroker(tls: material)
        defer { broker.stop() }
        let good = try Klimavagt.run(["mqtt", "probe", "--config", config(
            "{host: localhost, port: \(broker.port), tls: {ca_file: \(material.caCertificate.path)}}")])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.hasPrefix("broker localhost:\(broker.port) (MQTT 3.1.1, TLS): connected in "))
        let bad = try Klimavagt.run(["mqtt", "probe", "--config", config(
            "{host: localhost, port: \(broker.port), tls: {ca_file: \(other.caCertificate.path)}}")])
        #expect(bad.status == 69)
        #expect(bad.stderr.hasPrefix("klimavagt: broker localhost:\(broker.port) (MQTT 3.1.1, TLS): TLS failed: check ca_file"), "\(bad.stderr)")
    }

    @Test("wrong credentials and a missing broker are told apart")
    func refusals() throws {
        let broker = try MosquittoBroker(credentials: .init(username: "pumpe", password: "rigtig"))
        defer { broker.stop() }
        let wrong = try Klimavagt.run(["mqtt", "probe", "--config", config(
            "{host: 127.0.0.1, port: \(broker.port), username: pumpe, password: forkert}")])
        #expect(wrong.status == 69)
        #expect(wrong.stderr.contains("the broker refused the user name or password"), "\(wrong.stderr)")
        broker.stop()
        let missing = try Klimavagt.run(["mqtt", "probe", "--config", config("{host: 127.0.0.1, port: \(broker.port)}")])
        #expect(missing.status == 69)
        #expect(missing.stderr.contains("cannot reach the broker"), "\(missing.stderr)")
    }
}

/// `klimavagt doctor`: one line per check, a fix under each failure.
@Suite("CLI doctor", .serialized)
struct DoctorCommandTests {
    @Test("the checks pass or fail one line each, with a fix under each failure; exit 69 when one fails")
    func doctor() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-doctor-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("state"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = folder.appendingPathComponent("agent.yaml").path
        try "site: doctor\nmqtt: {host: 127.0.0.1, port: \(broker.port)}\nsensors:\n  - {id: level-1, unit: cm}\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        let socket = folder.appendingPathComponent("control.sock").path
        let agent = try Klimavagt.start(["run", "--config", config, "--state-dir", folder.appendingPathComponent("state").path,
                                          "--control-socket", socket])
        defer { agent.signal(SIGKILL); agent.wait() }
        _ = await eventually(10, every: .milliseconds(100)) {
            (try? Klimavagt.run(["status", "--socket", socket]).status) == 0
        }
        let arguments = ["doctor", "--config", config, "--state-dir", folder.appendingPathComponent("state").path,
                         "--socket", socket]
        let result = try Klimavagt.run(arguments)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("ok   configuration: \(config): 1 sensors, 0 rules"))
        #expect(lines.contains("ok   broker 127.0.0.1:\(broker.port): connected"))
        #expect(lines.contains { $0.hasPrefix("ok   state directory: \(folder.appendingPathComponent("state").path): writable, ") })
        #expect(lines.contains("ok   agent: running, answering on \(socket)"))
        #expect(lines.contains { $0.hasPrefix("ok   clock: ") || $0.hasPrefix("FAIL clock: ") })
        for (index, line) in lines.enumerated() where line.hasPrefix("FAIL") {
            #expect(index + 1 < lines.count && lines[index + 1].hasPrefix("     fix: "), "\(line)")
        }
        #expect(result.status == (lines.contains { $0.hasPrefix("FAIL") } ? 69 : 0))

        broker.stop()
        let down = try Klimavagt.run(arguments)
        #expect(down.status == 69)
        #expect(down.stdout.contains("FAIL broker 127.0.0.1:\(broker.port): cannot reach the broker"))
    }
}

/// SIGHUP: a valid configuration replaces the running one; an invalid one is logged and the running one stays.
@Suite("SIGHUP reload", .serialized)
struct ReloadTests {
    /// A private broker and an agent on a configuration file of one sensor, in a temporary folder; `close()` kills
    /// the agent, stops the broker and removes the folder.
    struct Site {
        let broker: MosquittoBroker
        let folder: URL
        let config: String
        let base: String
        let socket: String
        let agent: ChildProcess

        init() throws {
            broker = try MosquittoBroker()
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-reload-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            config = folder.appendingPathComponent("agent.yaml").path
            base = "site: reload\nmqtt: {host: 127.0.0.1, port: \(broker.port)}\nsensors:\n  - {id: level-1, unit: cm}\n"
            try base.write(toFile: config, atomically: true, encoding: .utf8)
            socket = folder.appendingPathComponent("control.sock").path
            agent = try Klimavagt.start(["run", "--config", config, "--state-dir",
                                         folder.appendingPathComponent("state").path, "--control-socket", socket])
        }

        /// The agent's `klimavagt sensors` answer, once it answers (within 10 s), else "".
        func sensors() async throws -> String {
            var answer = ""
            _ = try await eventually(10, every: .milliseconds(100)) {
                let result = try Klimavagt.run(["sensors", "--socket", socket])
                answer = result.status == 0 ? result.stdout : ""
                return result.status == 0
            }
            return answer
        }

        func close() {
            agent.signal(SIGKILL)
            agent.wait()
            broker.stop()
            try? FileManager.default.removeItem(at: folder)
        }
    }
    @Test("a valid configuration is taken on SIGHUP, an invalid one is refused and the agent goes on")
    func reload() async throws {
        let site = try Site()
        defer { site.close() }
        let (agent, config, base) = (site.agent, site.config, site.base)
        func sensors() async throws -> String { try await site.sensors() }
        #expect(try await sensors().contains("level-1"))
        #expect(try await !sensors().contains("level-2"))

        try (base + "  - {id: level-2, unit: cm}\n").write(toFile: config, atomically: true, encoding: .utf8)
        agent.signal(SIGHUP)
        var after = ""
        _ = try await eventually(10, every: .milliseconds(100)) {
            after = try await sensors()
            return after.contains("level-2")
        }
        #expect(after.contains("level-2"), "\(agent.output)")

        try (base + "  - {id: level-3, unit: cm, stale_after: soon}\n").write(toFile: config, atomically: true, encoding: .utf8)
        agent.signal(SIGHUP)
        _ = await eventually(10) { agent.output.contains("SIGHUP: the configuration is not valid") }
        let kept = try await sensors()
        #expect(kept.contains("level-2") && !kept.contains("level-3"))
        #expect(agent.output.contains("SIGHUP: the configuration is not valid, so the running one stays: \(config):5:"))
        #expect(agent.output.contains("configuration reloaded: 2 sensors, 0 rules"))
        agent.signal(SIGTERM)
        #expect(await agent.wait(seconds: 15) == 0)
    }

    @Test("a reloaded configuration that cannot start gives way to the running one; SIGTERM during a reload stops the agent")
    func reloadThatCannotStart() async throws {
        let site = try Site()
        defer { site.close() }
        let (agent, config, base) = (site.agent, site.config, site.base)
        func sensors() async throws -> String { try await site.sensors() }
        #expect(try await sensors().contains("level-1"))
        // Valid to the loader, but its GPIO chip does not exist: the services cannot start with it.
        try (base + "  - {id: rain-9, device: rimco-0.2mm, input: {gpio: {chip: /dev/klimavagt-no-such-chip, line: 0}}}\n")
            .write(toFile: config, atomically: true, encoding: .utf8)
        agent.signal(SIGHUP)
        let fellBack = await eventually(15, every: .milliseconds(100)) {
            agent.output.contains("going back to the one that ran before")
        }
        #expect(fellBack, "\(agent.output)")
        let after = try await sensors()
        #expect(after.contains("level-1") && !after.contains("rain-9"), "\(after)")
        #expect(agent.isRunning)

        // A SIGTERM right behind a SIGHUP, while the services stop and start again, still stops the agent.
        try base.write(toFile: config, atomically: true, encoding: .utf8)
        agent.signal(SIGHUP)
        try await Task.sleep(for: .milliseconds(20))   // on purpose: the SIGTERM lands while the reload is under way
        agent.signal(SIGTERM)
        #expect(await agent.wait(seconds: 15) == 0, "\(agent.output)")
    }
}
