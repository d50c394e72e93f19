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
