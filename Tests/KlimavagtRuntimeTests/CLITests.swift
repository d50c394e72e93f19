import Foundation
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
        #expect(result.stderr == "\(trace):3: '2024-08-14T12:10:00' is not an RFC 3339 time\n")
        #expect(result.stdout.isEmpty)
    }

    @Test("configuration errors name FILE:LINE:COLUMN and the key, and exit with status 78",
          arguments: [
            ("bad-unknown-key.yaml", ":3:3: mqtt.hots: unknown key; allowed here: host, port, client_id, keepalive, "
                + "username, password, password_file, protocol, tls, reconnect"),
            ("bad-type.yaml", ":4:9: mqtt.port: expected a whole number, found 'tolv'"),
            ("bad-rule-key.yaml", ":9:27: rules[0].levels.sever: unknown key; allowed here: warning, severe, extreme"),
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

    @Test("check-config summarises a valid configuration")
    func checkConfig() throws {
        let path = fixture("replay-site.yaml")
        let result = try Klimavagt.run(["check-config", "--config", path])
        #expect(result.status == 0)
        #expect(result.stdout == """
            \(path): ok
            site test, topics under klimavagt/test/
            broker 127.0.0.1:1883 (MQTT 3.1.1)
            sensor rain-1 (rimco-0.2mm): no input (replay only)
            rule skybrud: cloudburst on rain-1, window 1800s, warning >15.0, severe >30.0, extreme >45.0

            """)
    }

    @Test("bad usage exits with status 64")
    func usage() throws {
        #expect(try Klimavagt.run(["replay"]).status == 64)
        #expect(try Klimavagt.run(["check-config", "--config", "/nonexistent.yaml"]).status == 64)
        #expect(try Klimavagt.run(["no-such-command"]).status == 64)
    }
}
