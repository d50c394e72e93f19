// The acceptance run "N mutated payloads over a real broker give no trap and no hang".
//
// Starts a private mosquitto on a random 127.0.0.1 port and the built `klimavagt run` with MQTT sensors on wildcard
// topics (several device profiles, templates, every time format), then publishes N mutations of the device fixtures'
// payloads (bit flips, splices, truncation, numbers replaced with extreme values, extreme years and epoch times, long
// strings, deep nesting, stray bytes) on mutated topics, one in ten at QoS 1 and the rest at QoS 0. Every 5000 messages
// it checks that the agent still runs; at the end that it runs, answers `klimavagt status` on its control socket
// within 10 s, and still takes a reading. Prints the counts and the time taken; exits 1 if the agent died or hung.
// Everything lives in one temporary folder, removed at the end (kept on failure, with the agent's log).
//
// On failure the last 50 messages published are in last-messages.txt in the kept folder (hex of topic, payload).
//
//   klimavagt-broker-fuzz [--count N] [--seed S] [--time-limit SECONDS] [--agent PATH] [--devices DIR]
import Foundation
import KlimavagtMQTT
import KlimavagtFuzzSupport
import KlimavagtRuntime
import KlimavagtTestSupport


struct Options {
    var count = 100_000
    var seed: UInt64 = 1
    var timeLimit = 1800.0
    var agent: String
    var devices: String

    init() {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        devices = root.appendingPathComponent("Devices").path
        agent = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("klimavagt").path
        var arguments = CommandLine.arguments.dropFirst().makeIterator()
        while let argument = arguments.next() {
            guard let value = arguments.next() else { Self.usage() }
            switch argument {
            case "--count": guard let number = Int(value), number >= 0 else { Self.usage() }; count = number
            case "--seed": guard let number = UInt64(value) else { Self.usage() }; seed = number
            case "--time-limit": guard let number = Double(value), number > 0 else { Self.usage() }; timeLimit = number
            case "--agent": agent = value
            case "--devices": devices = value
            default: Self.usage()
            }
        }
    }

    static func usage() -> Never {
        print("usage: klimavagt-broker-fuzz [--count N] [--seed S] [--time-limit SECONDS] [--agent PATH] [--devices DIR]")
        exit(2)
    }
}

let agentConfiguration = """
    site: broker-fuzz
    home_assistant: {discovery: true}
    sensors:
      - id: "plug-{1}"
        device: tasmota-energy
        input: {mqtt: {max_clock_skew: never}}
      - id: "{1}-power"
        device: shelly-gen2-switch
        input: {mqtt: {}}
      - id: "{1}-energy"
        device: shelly-gen2-switch
        field: energy_total
        input: {mqtt: {}}
      - id: level-1
        device: milesight-em500-udl
        datum_cm: 250
        input: {mqtt: {topic: "v3/koege@ttn/devices/wl-1/up", max_clock_skew: never}}
      - id: "level-{2}"
        device: milesight-em500-udl
        datum_cm: 250
        input: {mqtt: {max_clock_skew: never}}
      - id: "temp-{1}"
        device: generic-json
        unit: °C
        stale_after: 1h
        input: {mqtt: {topic: "site/+/temperature", path: "readings[0].t", time_path: ts, time_format: unix_seconds, max_clock_skew: never}}
      - id: "ms-{1}"
        device: generic-json
        unit: °C
        input: {mqtt: {topic: "site/+/temperature", path: "readings[1].t", time_path: ms, time_format: unix_ms}}
      - id: "current-{1}"
        device: generic-json
        unit: A
        plausible: {min: 0, max: 100, max_step: 20, flatline: 1h}
        input: {mqtt: {topic: "site/+/current", path: "$", max_bytes: 64}}
      - id: "any-{1}"
        unit: cm
        input: {mqtt: {topic: "fuzz/#", path: "v", time_path: t, time_format: rfc3339, max_clock_skew: never}}
      - id: marker
        unit: cm
        input: {mqtt: {topic: "marker/level", path: "v", time_path: t, time_format: rfc3339, max_clock_skew: never}}
      - id: "local-{1}"
        unit: cm
        input: {mqtt: {topic: "local/+", path: "v", scale: 0.1, time_path: t, time_format: local, time_zone: Europe/Copenhagen, max_clock_skew: never}}
    rules:
      - {id: stormflod, kind: storm_surge, sensor: level-1, levels: {warning: 125, severe: 150, extreme: 180}}
      - {id: stigning, kind: rate_of_rise, sensor: level-1, window: 10m, levels: {warning: 20}}
      - {id: pumper, kind: threshold, sensor: plug-pump-3, levels: {warning: 500}, renotify: 1h}
      - {id: strom, kind: threshold, sensor: current-pump, levels: {warning: 10, severe: 50}, hysteresis: 1}
      - {id: frost, kind: threshold, sensor: temp-well, direction: below, levels: {warning: 2}}
      - {id: brond-stale, kind: stale, sensor: temp-well}
      - {id: any-level, kind: threshold, sensor: any-x, levels: {warning: 100}, for: 1m}

    """

/// Topic and payload of every message in the device fixtures (Devices/*/fixtures/*.yaml), plus a few for the
/// configuration's own topics.
func fixtureMessages(devices: String) -> [(topic: String, payload: String)] {
    var messages: [(String, String)] = [
        ("fuzz/x", #"{"v": 101.5, "t": "2024-07-02T18:01:00.25+02:00"}"#),
        ("local/level", #"{"v": 1234, "t": "2024-10-27T02:30:00"}"#),
        ("site/well/temperature", #"{"ts": 1719943200, "ms": 1719943200123, "readings": [{"t": 9.75}, {"t": 9.5}]}"#),
        ("site/pump/current", "6.25"),
    ]
    let files = (FileManager.default.enumerator(atPath: devices)?.allObjects as? [String] ?? [])
        .filter { $0.contains("fixtures/") && $0.hasSuffix(".yaml") }.sorted()
    for file in files {
        guard let text = try? String(contentsOfFile: devices + "/" + file, encoding: .utf8) else { continue }
        var topic: String?
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("- topic:") {
                topic = String(trimmed.dropFirst(8).split(separator: "#").first ?? "").trimmingCharacters(in: .whitespaces)
            } else if trimmed.hasPrefix("payload: '"), trimmed.hasSuffix("'"), let topic {
                let quoted = trimmed.dropFirst(10).dropLast()
                messages.append((topic, quoted.replacingOccurrences(of: "''", with: "'")))
            }
        }
    }
    return messages
}

/// Makes the mutated messages.
struct Mutator {
    let messages: [(topic: String, payload: String)]
    var random: SplitMix64

    static let numbers = [
        "1e308", "-1e308", "1.7976931348623157e308", "1e309", "-0", "-0.0", "0", "1e18", "-1e18", "9.3e18", "1e19",
        "9223372036854775807", "9223372036854775808", "-9223372036854775809", "18446744073709551616",
        "4.9e-324", "2.2250738585072014e-308", "1e-400", "123456789012345678901234567890",
        "1" + String(repeating: "0", count: 400), "0." + String(repeating: "0", count: 400) + "1",
        "99999999999", "1e11", "-1e11", "99999999999999", "1e14", "-62135596800", "253402300800", "1e10", "NaN", "nan",
        "Infinity", "-Infinity", "0x10", "1.", ".5", "+1", "01", "1e", "--1", "\"12\"", "true", "null",
    ]
    static let times = [
        "2263-01-01T00:00:00Z", "2262-04-11T23:47:16.854775807Z", "2262-04-11T23:47:17Z", "1677-09-21T00:12:43Z",
        "1677-09-21T00:12:44Z", "9999-12-31T23:59:59.999999999Z", "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+23:59",
        "1970-01-01T00:00:00-23:59", "2024-02-30T25:61:61Z", "2024-07-02T18:00:00.1234567890123456789Z",
        "2024-07-02T18:00:00", "99999-01-01T00:00:00Z", "2024-07-02T18:00:00+99:99", "",
    ]

    mutating func int(_ bound: Int) -> Int { Int.random(in: 0..<max(bound, 1), using: &random) }

    mutating func next() -> (topic: String, payload: [UInt8]) {
        let base = messages[int(messages.count)]
        var payload = Array(base.payload.utf8)
        for _ in 0...int(3) { payload = mutate(payload) }
        return (mutateTopic(base.topic), payload)
    }

    mutating func mutate(_ payload: [UInt8]) -> [UInt8] {
        var bytes = payload
        switch int(12) {
        case 0 where !bytes.isEmpty:   // bit flip
            let at = int(bytes.count)
            bytes[at] ^= UInt8(1 << int(8))
        case 1:   // splice with another fixture
            let other = Array(messages[int(messages.count)].payload.utf8)
            bytes = Array(bytes.prefix(int(bytes.count + 1))) + Array(other.suffix(int(other.count + 1)))
        case 2, 3, 4:   // a number replaced with an extreme one
            bytes = replaceToken(in: bytes, where: { "0123456789.-+eE".utf8.contains($0) }, with: Self.numbers)
        case 5, 6:   // a time replaced with an extreme one, or an epoch time
            if let range = findTime(in: bytes) {
                let replacement = Self.times[int(Self.times.count)]
                bytes.replaceSubrange(range, with: Array(replacement.utf8))
            } else {
                bytes = replaceToken(in: bytes, where: { "0123456789.-+eE".utf8.contains($0) }, with: Self.numbers)
            }
        case 7:   // a long string
            let at = bytes.firstIndex(of: UInt8(ascii: "\"")).map { $0 + 1 } ?? 0
            let length = int(10) == 0 ? 1 + int(70_000) : 1 + int(2000)   // now and then past the 64 KiB limit
            bytes.insert(contentsOf: Array(repeating: UInt8(ascii: "a"), count: length), at: at)
        case 8:   // deep nesting, in arrays or objects, around the document or a value
            let depth = int(10) == 0 ? 1 + int(40_000) : 1 + int(1000)
            let (open, close): ([UInt8], [UInt8]) = int(2) == 0 ? (Array("[".utf8), Array("]".utf8))
                : (Array(#"{"v":"#.utf8), Array("}".utf8))
            bytes = Array(repeating: open, count: depth).flatMap { $0 } + bytes
                + (int(3) == 0 ? [] : Array(repeating: close, count: depth).flatMap { $0 })
        case 9:   // truncated
            bytes = Array(bytes.prefix(int(bytes.count + 1)))
        case 10:   // stray bytes: NUL, control characters, invalid UTF-8, lone surrogates
            let strays: [[UInt8]] = [[0], [0xFF], [0xC3], [0xED, 0xA0, 0x80], Array("\\ud800".utf8), [0x0A], [0x7F],
                                     Array("\\u0000".utf8), [0xEF, 0xBB, 0xBF]]
            bytes.insert(contentsOf: strays[int(strays.count)], at: int(bytes.count + 1))
        default:   // a member duplicated or repeated many times
            let copies = 1 + int(int(10) == 0 ? 5000 : 50)
            bytes = Array(#"{"v":1,"#.utf8) + Array(repeating: Array(#""v":2,"#.utf8), count: copies).flatMap { $0 }
                + Array(bytes.drop(while: { $0 != UInt8(ascii: "\"") }))
        }
        return bytes
    }

    mutating func replaceToken(in bytes: [UInt8], where belongs: (UInt8) -> Bool, with choices: [String]) -> [UInt8] {
        let starts = bytes.indices.filter { belongs(bytes[$0]) && ($0 == 0 || !belongs(bytes[$0 - 1])) }
        guard !starts.isEmpty else { return bytes }
        let start = starts[int(starts.count)]
        let end = bytes[start...].firstIndex(where: { !belongs($0) }) ?? bytes.endIndex
        var result = bytes
        result.replaceSubrange(start..<end, with: Array(choices[int(choices.count)].utf8))
        return result
    }

    /// The range of a `YYYY-MM-DDTHH:MM:SS...` time inside a JSON string.
    func findTime(in bytes: [UInt8]) -> Range<Int>? {
        let digits = "0123456789".utf8
        for start in bytes.indices where start + 19 <= bytes.count && start > 0 && bytes[start - 1] == UInt8(ascii: "\"") {
            guard digits.contains(bytes[start]), bytes[start + 4] == UInt8(ascii: "-"),
                  bytes[start + 10] == UInt8(ascii: "T") else { continue }
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\"")) ?? bytes.endIndex
            return start..<end
        }
        return nil
    }

    mutating func mutateTopic(_ topic: String) -> String {
        var levels = topic.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        switch int(10) {
        case 0, 1, 2: return topic   // the fixture's own topic
        case 3, 4:   // another device on the same wildcard: a new template sensor (a bounded set, as on a site)
            levels[int(levels.count)] = "dev\(int(200))"
        case 5:   // a level that is long, empty, Unicode or with wildcard characters (the broker refuses those)
            let odd = [String(repeating: "x", count: 1 + int(3000)), "", "æøå-🌧", "+", "#", "a+b", "{1}", "$SYS", " "]
            levels[int(levels.count)] = odd[int(odd.count)]
        case 6:   // levels added or removed
            if int(2) == 0, levels.count > 1 { levels.removeLast() } else { levels.append("extra\(int(5))") }
        case 7:   // a topic under fuzz/#, any depth
            levels = ["fuzz"] + (0...int(6)).map { _ in "l\(int(50))" }
        case 8:   // a brand-new device each time: template sensors without bound
            levels[int(levels.count)] = "u\(random.next() % 1_000_000_000)"
        default:   // a byte flipped
            var bytes = Array(topic.utf8)
            if !bytes.isEmpty { bytes[int(bytes.count)] ^= UInt8(1 << int(8)) }
            return String(decoding: bytes, as: UTF8.self)
        }
        return levels.joined(separator: "/")
    }
}

func residentKilobytes(_ pid: pid_t) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return 0 }
    return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
}

/// Runs `klimavagt status` against the agent's socket; its exit status and output, or nil if it took over `seconds`.
func askStatus(agent: String, socket: String, seconds: Double) async throws -> (status: Int32, output: String)? {
    let child = try ChildProcess(agent, ["status", "--socket", socket])
    guard let status = await child.wait(seconds: seconds) else {
        child.signal(SIGKILL)
        child.wait()
        try? FileManager.default.removeItem(atPath: child.outputFile)
        return nil
    }
    defer { try? FileManager.default.removeItem(atPath: child.outputFile) }
    return (status, (try? String(contentsOfFile: child.outputFile, encoding: .utf8)) ?? "")
}

@main
enum BrokerFuzz {
    static func main() async throws {
        let options = Options()
        guard FileManager.default.isExecutableFile(atPath: options.agent) else {
            print("no agent at \(options.agent); build it first (swift build) or pass --agent")
            exit(2)
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-broker-fuzz-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var keep = false
        defer { if !keep { try? FileManager.default.removeItem(at: folder) } }

        let broker = try MosquittoBroker()
        let config = folder.appendingPathComponent("agent.yaml").path
        try (agentConfiguration + "mqtt: {host: 127.0.0.1, port: \(broker.port)}\n")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let socket = folder.appendingPathComponent("control.sock").path
        let state = folder.appendingPathComponent("state").path
        let log = folder.appendingPathComponent("agent.log").path
        var environment = ProcessInfo.processInfo.environment
        environment["KLIMAVAGT_DEVICES"] = options.devices
        let agent = try ChildProcess(options.agent, ["run", "--config", config, "--state-dir", state,
                                                     "--control-socket", socket, "--log-level", "error"],
                                     environment: environment, outputFile: log)
        var recent: [(topic: String, payload: [UInt8])] = []
        func fail(_ reason: String) -> Never {
            keep = true
            let hex = { (bytes: [UInt8]) in bytes.map { String(format: "%02x", $0) }.joined() }
            let lines = recent.map { "\(hex(Array($0.topic.utf8))) \(hex($0.payload))\n" }.joined()
            try? lines.write(to: folder.appendingPathComponent("last-messages.txt"), atomically: true, encoding: .utf8)
            print("FAILED: \(reason)")
            if let text = try? String(contentsOfFile: log, encoding: .utf8) {
                print("agent log (last lines):\n" + text.split(separator: "\n").suffix(30).joined(separator: "\n"))
            }
            print("kept \(folder.path)")
            if agent.isRunning { agent.signal(SIGKILL); agent.wait() }
            broker.stop()   // exit() runs no deinit
            try? FileManager.default.removeItem(at: broker.directory)
            exit(1)
        }
        // The agent is up once it answers on its control socket.
        let startDeadline = Date().addingTimeInterval(30)
        while (try? ControlClient.ask("ping", at: socket)) != "pong" {
            guard agent.isRunning else { fail("the agent exited at start, status \(agent.wait())") }
            guard Date() < startDeadline else { fail("the agent did not answer within 30 s of its start") }
            try await Task.sleep(for: .milliseconds(100))
        }
        let rssAtStart = residentKilobytes(agent.pid)

        let client = try MQTTClient(MQTTOptions(port: broker.port, clientID: "broker-fuzz"))
        client.start()
        try await client.connect()
        var mutator = Mutator(messages: fixtureMessages(devices: options.devices), random: SplitMix64(seed: options.seed))
        print("broker on 127.0.0.1:\(broker.port), agent pid \(agent.pid), \(mutator.messages.count) fixture messages, "
            + "\(options.count) to publish (seed \(options.seed))")
        var qos0 = 0, qos1 = 0, refused = 0, bytes = 0
        let start = Date()
        var stoppedEarly = false
        // Up to 64 publishes in flight: one at a time, each waits for the client's network thread.
        typealias Sent = (qos: MQTTQoS, bytes: Int, ok: Bool)
        func tally(_ sent: Sent) async throws {
            guard sent.ok else {
                refused += 1   // a topic the client or broker refuses (wildcards, empty, too long)
                if !client.connected { try await client.connect() }
                return
            }
            if sent.qos == .atLeastOnce { qos1 += 1 } else { qos0 += 1 }
            bytes += sent.bytes
        }
        try await withThrowingTaskGroup(of: Sent.self) { group in
            var inFlight = 0
            for index in 0..<options.count {
                let (topic, payload) = mutator.next()
                recent.append((topic, payload))
                if recent.count > 50 { recent.removeFirst() }
                let qos: MQTTQoS = index % 10 == 9 ? .atLeastOnce : .atMostOnce
                if inFlight >= 64, let sent = try await group.next() {
                    inFlight -= 1
                    try await tally(sent)
                }
                group.addTask { [topic, payload] in
                    do {
                        try await client.publish(topic, payload: payload, qos: qos)
                        return (qos, payload.count, true)
                    } catch {
                        return (qos, payload.count, false)
                    }
                }
                inFlight += 1
                if index % 5000 == 4999 {
                    guard agent.isRunning else {
                        fail("the agent exited after \(index + 1) messages, status \(agent.wait())")
                    }
                    print("\(index + 1) published in \(String(format: "%.1f", Date().timeIntervalSince(start))) s, "
                        + "agent RSS \(residentKilobytes(agent.pid) / 1024) MB")
                }
                if Date().timeIntervalSince(start) > options.timeLimit {
                    stoppedEarly = true
                    break
                }
            }
            while let sent = try await group.next() { try await tally(sent) }
        }
        // A last QoS 1 message with a known reading: once the agent has it, it has worked through the flood.
        let marker = "2024-07-02T18:00:00Z"
        // A configured sensor, so no bound on sensors made from templates can refuse it.
        try await client.publish("marker/level", payload: Array(#"{"v": 4242.5, "t": "\#(marker)"}"#.utf8), qos: .atLeastOnce)
        let elapsed = Date().timeIntervalSince(start)
        let drainDeadline = Date().addingTimeInterval(60)
        var drained = false
        while Date() < drainDeadline {
            guard agent.isRunning else { fail("the agent exited after the flood, status \(agent.wait())") }
            if let answer = try? ControlClient.ask("sensors", at: socket), answer.contains("4242.5") {
                drained = true
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        guard drained else { fail("the agent did not take the marker reading within 60 s of the flood") }
        guard let status = try await askStatus(agent: options.agent, socket: socket, seconds: 10) else {
            fail("klimavagt status did not answer within 10 s")
        }
        guard status.status == 0 else { fail("klimavagt status exited \(status.status): \(status.output)") }
        let sensorCount = (try? ControlClient.ask("sensors", at: socket)).map { $0.components(separatedBy: "\"id\"").count - 1 } ?? -1
        let rssAtEnd = residentKilobytes(agent.pid)
        client.close()
        agent.signal(SIGTERM)
        guard let exitStatus = await agent.wait(seconds: 30) else { fail("the agent did not stop within 30 s of SIGTERM") }
        print("""
            published \(qos0 + qos1) messages (\(qos0) at QoS 0, \(qos1) at QoS 1, \(bytes / 1024) KiB), \
            \(refused) refused by the client or broker, in \(String(format: "%.1f", elapsed)) s \
            (\(Int(Double(qos0 + qos1 + refused) / max(elapsed, 0.001)))/s)\(stoppedEarly ? ", STOPPED at the time limit" : "")
            agent: still running after the flood, took the marker reading, `klimavagt status` answered (exit 0), \
            \(sensorCount) sensors, RSS \(rssAtStart / 1024) MB at start and \(rssAtEnd / 1024) MB at the end, \
            exit status \(exitStatus) after SIGTERM
            """)
        if exitStatus != 0 { fail("the agent exited \(exitStatus) after SIGTERM") }
    }
}
