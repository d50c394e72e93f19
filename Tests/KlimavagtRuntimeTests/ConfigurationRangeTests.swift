import Foundation
@testable import KlimavagtRuntime
import KlimavagtCore
import PropertyBased
import Testing

/// Out-of-range configuration values are refused with `FILE:LINE:COLUMN` and the key, never trapped on, and
/// check-config refuses what run would.
@Suite("Configuration ranges")
struct ConfigurationRangeTests {
    static let base = """
        site: test
        sensors:
          - id: rain-1
            device: rimco-0.2mm
          - id: level-1
            unit: cm
            stale_after: 15m
            input:
              mqtt:
                topic: site/level
        rules:
          - id: skybrud
            kind: cloudburst
            sensor: rain-1
          - id: high
            kind: threshold
            sensor: level-1
            levels: {warning: 10}
        """

    /// Loads `text` from a file in a temporary folder that is removed afterwards.
    func load(_ text: String) throws(ConfigurationError) -> Configuration {
        let folder = NSTemporaryDirectory() + "klimavagt-config-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/agent.yaml"
        FileManager.default.createFile(atPath: file, contents: Data(text.utf8))
        return try ConfigurationLoader.load(file, devicesDirectory: repositoryRoot.appendingPathComponent("Devices").path)
    }

    @Test("the base configuration loads")
    func base() throws {
        let configuration = try load(Self.base)
        #expect(configuration.sensors.count == 2)
        #expect(configuration.maximumSensors == 256)
    }

    @Test("out-of-range values are refused at their place, with the key",
          arguments: [
            ("    device: rimco-0.2mm", "    device: rimco-0.2mm\n    stale_after: 106752d", "sensors[0].stale_after",
             "must be at most 3660d"),
            ("    sensor: rain-1", "    sensor: rain-1\n    window: 99999999999999d", "rules[0].window", "must be at most 3660d"),
            ("    sensor: rain-1", "    sensor: rain-1\n    window: 1e300s", "rules[0].window", "must be at most 3660d"),
            ("    sensor: rain-1", "    sensor: rain-1\n    for: -5s", "rules[0].for", "expected a duration"),
            ("site: test", "site: test\nmqtt:\n  keepalive: 9999999999999s", "mqtt.keepalive", "must be at most 3660d"),
            ("    device: rimco-0.2mm", "    device: rimco-0.2mm\n    per_pulse: 1e10", "sensors[0].per_pulse",
             "must be between 1e-9 and 1e6"),
            ("    device: rimco-0.2mm", "    device: rimco-0.2mm\n    per_pulse: 0", "sensors[0].per_pulse",
             "must be between 1e-9 and 1e6"),
            ("levels: {warning: 10}", "levels: {warning: 1e300}", "rules[1].levels.warning", "must lie within ±1e15"),
            ("site: test", "site: test\nprefix: 'a/#/+'", "prefix", "holds a wildcard"),
            ("site: test", "site: test\nprefix: 'a/b/'", "prefix", "ends with '/'"),
            ("site: test", "site: test\nhome_assistant: {prefix: '$SYS'}", "home_assistant.prefix", "starts with '$'"),
            ("site: test", "site: test\nmqtt: {client_id: ''}", "mqtt.client_id", "1 to 256 bytes"),
            ("site: test", "site: test\nlimits: {sensors: 0}", "limits.sensors", "between 1 and 100000"),
            ("site: test", "site: test\nlimits: {sensors: 1}", "sensors", "more than limits.sensors"),
            ("topic: site/level", "topic: \"site/\\u0001\"", "sensors[1].input.mqtt.topic", "control character"),
          ])
    func refused(find: String, replace: String, key: String, message: String) throws {
        let text = Self.base.replacingOccurrences(of: find, with: replace)
        #expect(text != Self.base)
        do {
            _ = try load(text)
            Issue.record("accepted: \(replace)")
        } catch {
            #expect(error.key == key)
            #expect(error.message.contains(message), "\(error)")
            #expect(error.line > 1 || key == "(top)")
        }
    }

    @Test("a site id of 100 000 characters is refused with its place, not by the MQTT client at run")
    func longSite() throws {
        let text = Self.base.replacingOccurrences(of: "site: test", with: "site: " + String(repeating: "a", count: 100_000))
        do {
            _ = try load(text)
            Issue.record("accepted")
        } catch {
            #expect(error.key == "site")
            #expect(error.message.contains("at most 64 characters"))
        }
    }

    @Test("a TLS file that cannot be read is refused by the check, as the MQTT client would refuse it at run")
    func tlsFile() throws {
        let text = Self.base.replacingOccurrences(of: "site: test", with: "site: test\nmqtt:\n  tls: {ca_file: /nonexistent/ca.pem}")
        do {
            _ = try load(text)
            Issue.record("accepted")
        } catch {
            #expect(error.key == "mqtt")
            #expect(error.message.contains("MQTT client"))
        }
    }

    @Test("the duration parser takes arbitrary text without trapping; what it accepts is within 3660d")
    func arbitraryDurations() async {
        let characters = Array("0123456789.e+-smhd ")
        await propertyCheck(count: 3000, input: Gen.element(of: characters).array(of: 0...30)) { picked in
            let text = String(picked.compactMap { $0 })
            if let duration = DurationText.parse(text) {
                #expect(Limits.contains(duration))
                _ = DurationText.format(duration)
            }
        }
        #expect(DurationText.parse("3660d") == .seconds(3660 * 86_400))
        #expect(DurationText.check("3661d") == .failure(.tooLong))
        #expect(DurationText.check("1e300s") == .failure(.tooLong))
        #expect(DurationText.check("nan s") == .failure(.malformed))
        #expect(DurationText.check("infs") == .failure(.malformed))
    }

    @Test("a trace with CRLF line ends reads like one with LF; blank lines cost no memory")
    func crlfTrace() throws {
        let folder = NSTemporaryDirectory() + "klimavagt-trace-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let lf = "time,sensor,value\n2024-08-14T12:00:00Z,rain-1,1\n\n2024-08-14T12:01:00Z,rain-1,2\n"
        let crlf = lf.replacingOccurrences(of: "\n", with: "\r\n")
        FileManager.default.createFile(atPath: folder + "/lf.csv", contents: Data(lf.utf8))
        FileManager.default.createFile(atPath: folder + "/crlf.csv", contents: Data(crlf.utf8))
        let a = try Trace.load(folder + "/lf.csv").readings
        let b = try Trace.load(folder + "/crlf.csv").readings
        #expect(a.count == 2)
        #expect(a == b)
        for (line, expected) in [("2263-01-01T00:00:00Z,rain-1,1", ":2: '2263-01-01T00:00:00Z' is not an RFC 3339 time"),
                                 ("2024-01-01T00:00:00Z,rain-1,1e19", ":2: 1e19 is beyond ±1e15"),
                                 ("2024-01-01T00:00:00Z,rain-1,1e12", ":2: 1e12 is not a pulse count")] {
            let file = folder + "/bad.csv"
            FileManager.default.createFile(atPath: file, contents: Data("time,sensor,value\r\n\(line)\r\n".utf8))
            do {
                try Trace.forEachReading(in: file, pulseSensors: ["rain-1"]) { _, _ in }
                Issue.record("accepted \(line)")
            } catch {
                #expect(error.description.hasPrefix(file + expected), "\(error)")
            }
        }
    }
}
