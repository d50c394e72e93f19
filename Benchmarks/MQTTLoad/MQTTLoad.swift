import Benchmark
import BenchmarkSupport
import Foundation
import KlimavagtCore
import KlimavagtMQTT

/// The agent's CPU per MQTT input message against mosquitto_sub's, in the same run: a load generator publishes
/// Tasmota SENSOR and TTN v3 uplink payloads through a private mosquitto, received by the release-built agent (50 plugs
/// and 20 water-level sensors, found through topic templates) and by `mosquitto_sub -q 1` writing to /dev/null.
/// One iteration is 100 000 messages. Build the agent first: `swift build -c release` in the repository.
let benchmarks: @Sendable () -> Void = {
    let metrics: [BenchmarkMetric] = [
        .custom("agent CPU per message (ns)"), .custom("mosquitto_sub CPU per message (ns)"),
        .custom("agent / mosquitto_sub (%)"), .custom("messages per second", polarity: .prefersLarger),
    ]
    Benchmark(
        "MQTT input load: Tasmota and TTN payloads through a real broker",
        configuration: .init(metrics: metrics, warmupIterations: 0, maxDuration: .seconds(300), maxIterations: 3),
        closure: { benchmark in
            guard let rig = LoadRig.current else { return }
            let result = try await rig.run(messages: 100_000)
            benchmark.measurement(metrics[0], result.agentNanosPerMessage)
            benchmark.measurement(metrics[1], result.subscriberNanosPerMessage)
            benchmark.measurement(metrics[2], result.agentNanosPerMessage * 100 / max(result.subscriberNanosPerMessage, 1))
            benchmark.measurement(metrics[3], result.messagesPerSecond)
        },
        setup: { LoadRig.current = try await LoadRig.start() },
        teardown: {
            LoadRig.current?.stop()
            LoadRig.current = nil
        })
}

/// A broker, the agent binary with a configuration of templates, and a publisher.
final class LoadRig: @unchecked Sendable {
    nonisolated(unsafe) static var current: LoadRig?

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let plugs = 50
    static let levelSensors = 20

    let broker: PrivateBroker
    let agent: Subprocess
    let publisher: MQTTClient
    let watcher: MQTTClient
    let agentLog: String
    var sent = 0

    init(broker: PrivateBroker, agent: Subprocess, publisher: MQTTClient, watcher: MQTTClient, agentLog: String) {
        self.broker = broker
        self.agent = agent
        self.publisher = publisher
        self.watcher = watcher
        self.agentLog = agentLog
    }

    static func start() async throws -> LoadRig {
        let binary = ProcessInfo.processInfo.environment["KLIMAVAGT_BINARY"]
            ?? repository.appendingPathComponent(".build/release/klimavagt").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey:
                "no agent at \(binary): run swift build -c release in the repository, or set KLIMAVAGT_BINARY"])
        }
        let broker = try await PrivateBroker(unlimitedQueues: true)
        let config = broker.folder.appendingPathComponent("load.yaml").path
        try """
            site: load
            devices_dir: \(repository.appendingPathComponent("Devices").path)
            mqtt: {host: 127.0.0.1, port: \(broker.port)}
            sensors:
              - id: "plug-{1}"
                device: tasmota-energy
                input: {mqtt: {}}
              - id: "level-{2}"
                device: milesight-em500-udl
                datum_cm: 250
                input: {mqtt: {}}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let watcher = try MQTTClient(MQTTOptions(port: broker.port, clientID: "load-watch"))
        try await watcher.connect()
        try await watcher.subscribe("klimavagt/load/status")
        let agentLog = broker.folder.appendingPathComponent("agent.log").path
        let agent = try Subprocess([
            binary, "run", "--config", config, "--state-dir", broker.folder.appendingPathComponent("state").path,
        ], output: agentLog)
        for await message in watcher.messages where message.text == "online" { break }
        try await Task.sleep(for: .milliseconds(500))   // the feed subscribes after the session is up
        let publisher = try MQTTClient(MQTTOptions(port: broker.port, clientID: "load-generator"))
        try await publisher.connect()
        return LoadRig(broker: broker, agent: agent, publisher: publisher, watcher: watcher, agentLog: agentLog)
    }

    struct Result {
        var agentNanosPerMessage: Int
        var subscriberNanosPerMessage: Int
        var messagesPerSecond: Int
    }

    /// The messages of one run: alternately a Tasmota plug's SENSOR message and a TTN uplink.
    static func payloads(_ count: Int) -> [(topic: String, payload: [UInt8])] {
        let now = Date()
        let local = DateFormatter()
        local.timeZone = TimeZone(identifier: "Europe/Copenhagen")
        local.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        let time = local.string(from: now)
        let receivedAt = Timestamp(nanoseconds: Int64(now.timeIntervalSince1970 * 1e9)).rfc3339
        return (0..<count).map { index in
            if index % 2 == 0 {
                let plug = index / 2 % plugs
                let payload = #"{"Time":"\#(time)","ENERGY":{"TotalStartTime":"2023-11-12T09:41:07","Total":\#(1000 + index / 1000),"Yesterday":12.345,"Today":3.21,"Period":12,"Power":\#(index % 3000),"ApparentPower":1502,"ReactivePower":389,"Factor":0.97,"Voltage":231,"Current":6.503}}"#
                return ("tele/plug\(plug)/SENSOR", Array(payload.utf8))
            }
            let device = index / 2 % levelSensors
            let payload = #"{"end_device_ids":{"device_id":"wl-\#(device)","application_ids":{"application_id":"koege"},"dev_eui":"24E124713C20\#(1000 + device)","dev_addr":"260B1A2F"},"correlation_ids":["as:up:01J1ZK8Q3V"],"received_at":"\#(receivedAt)","uplink_message":{"session_key_id":"AZBd9y==","f_port":85,"f_cnt":\#(index),"frm_payload":"AXVkA4LSBA==","decoded_payload":{"battery":98,"distance":\#(1000 + index % 40)},"rx_metadata":[{"gateway_ids":{"gateway_id":"koege-havn-gw"},"rssi":-97,"snr":7.5}],"settings":{"data_rate":{"lora":{"bandwidth":125000,"spreading_factor":9}},"frequency":"868100000"},"received_at":"\#(receivedAt)"}}"#
            return ("v3/koege@ttn/devices/wl-\(device)/up", Array(payload.utf8))
        }
    }

    func run(messages count: Int) async throws -> Result {
        let messages = Self.payloads(count)
        let subscriber = try Subprocess([
            "/usr/bin/mosquitto_sub", "-h", "127.0.0.1", "-p", String(broker.port), "-q", "1", "-t", "tele/+/SENSOR",
            "-t", "v3/+/devices/+/up", "-C", String(count), "-i", "load-sub-\(UUID().uuidString.prefix(6))",
        ], output: "/dev/null")
        try await Task.sleep(for: .milliseconds(300))
        let agentBefore = agent.cpuTime
        let started = ContinuousClock.now
        let publisher = self.publisher
        // Up to 64 publications in flight, each awaiting its PUBACK.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, message) in messages.enumerated() {
                if index >= 64 { try await group.next() }
                group.addTask { try await publisher.publish(message.topic, payload: message.payload, qos: .atLeastOnce) }
            }
            try await group.waitForAll()
        }
        sent += count
        let (_, subscriberCPU) = subscriber.wait()
        let elapsed = ContinuousClock.now - started
        // The agent is done when its CPU time stops moving (held-back sensor states go out within a second).
        var last = agent.cpuTime
        var still = 0
        try await Task.sleep(for: .milliseconds(1200))
        while still < 3 {
            try await Task.sleep(for: .milliseconds(200))
            let now = agent.cpuTime
            still = now == last ? still + 1 : 0
            last = now
        }
        let agentCPU = last - agentBefore
        func nanos(_ duration: Duration) -> Int64 {
            duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
        }
        let seconds = Double(nanos(elapsed)) / 1e9
        return Result(
            agentNanosPerMessage: Int(nanos(agentCPU) / Int64(count)),
            subscriberNanosPerMessage: Int(nanos(subscriberCPU) / Int64(count)),
            messagesPerSecond: Int(Double(count) / seconds))
    }

    func stop() {
        agent.signal(SIGTERM)
        agent.wait()
        let log = (try? String(contentsOfFile: agentLog, encoding: .utf8)) ?? ""
        let received = log.split(separator: "\n").compactMap { line -> Int? in
            guard let range = line.range(of: #": (\d+) payloads,"#, options: .regularExpression) else { return nil }
            return Int(line[range].dropFirst(2).prefix { $0.isNumber })
        }.reduce(0, +)
        // Whether the agent kept up: its own count of the payloads it read, against what was published.
        FileHandle.standardError.write(Data("MQTTLoad: the agent read \(received) of \(sent) payloads published\n".utf8))
        publisher.close()
        watcher.close()
        broker.stop()
    }
}
