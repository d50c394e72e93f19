import Benchmark
import Foundation
import KlimavagtTestSupport
import KlimavagtMQTT

/// The CPU each consumer of the same MQTT load spends per message, side by side in one run: the agent (as packaged,
/// the Swift runtime linked in), `mosquitto_sub` writing to /dev/null, a home-made Python paho-mqtt script
/// (`peer.py`: json.loads, three fields, a 30-minute rolling rain sum per topic, a threshold), and collectd 5.12
/// (Debian's collectd-core, unpacked by `collectd-root`: its mqtt plugin subscribing, its csv plugin writing).
///
/// collectd reads no JSON, only its own one-value messages, so the load generator publishes, after each JSON message,
/// one collectd message with the same Level value at the same QoS (`collectd/load/mqtt-<k>/gauge-level`, payload
/// `N:<cm>`): the paced cases pace both streams alike. collectd subscribes to `collectd/#` alone, the others to
/// `site/sensors/+/SENSOR` alone. `KLIMAVAGT_COLLECTD_ROOT` names the unpacked collectd (default: the newest under
/// /var/cache/klimavagt/collectd); without one the line says so and the others are measured as ever.
///
/// The workload is the users': Tasmota `SENSOR` payloads (JSON with ENERGY, Rain and Level members) on 50 topics
/// `site/sensors/<k>/SENSOR` through a private mosquitto; the agent reads `plug-{1}` from the `tasmota-energy`
/// profile and `level-{1}` from `Level.cm` on the same topics (100 sensors), with a threshold rule, arrival time, the
/// store and sensor states on. Four cases: QoS 0 and QoS 1, a flood (200 000 messages as fast as the publisher goes)
/// and paced (20 000 at 2 000 a second), each with as many collectd messages beside. Each consumer is started afresh
/// for each run and its CPU time is taken at its exit (its start included); each case reports the median of its runs.
/// Build the agent first (`make bench`):
///   swift build -c release --static-swift-stdlib --product klimavagt --scratch-path .build-deb   (repository)
/// `KLIMAVAGT_BINARY` points elsewhere; `KLIMAVAGT_LOAD_RUNS` sets the runs per case (default 5).
let benchmarks: @Sendable () -> Void = {
    let cases: [LoadCase] = [
        LoadCase(qos: .atMostOnce, messages: 200_000, rate: nil),
        LoadCase(qos: .atMostOnce, messages: 20_000, rate: 2_000),
        LoadCase(qos: .atLeastOnce, messages: 200_000, rate: nil),
        LoadCase(qos: .atLeastOnce, messages: 20_000, rate: 2_000),
    ]
    for load in cases {
        let metrics: [BenchmarkMetric] = [
            .custom("agent CPU per message (ns)"), .custom("mosquitto_sub CPU per message (ns)"),
            .custom("python peer CPU per message (ns)"), .custom("agent / mosquitto_sub (%)"),
            .custom("agent / python peer (%)"), .custom("agent max RSS (kB)", useScalingFactor: false),
            .custom("collectd CPU per message (ns)"), .custom("agent / collectd (%)"),
        ]
        Benchmark(
            "MQTT load: \(load.name)",
            configuration: .init(metrics: metrics, warmupIterations: 0, scalingFactor: .one, maxDuration: .seconds(900),
                                 maxIterations: 1)
        ) { benchmark in
            let runs = Int(ProcessInfo.processInfo.environment["KLIMAVAGT_LOAD_RUNS"] ?? "") ?? 5
            var results: [LoadResult] = []
            for _ in 0..<runs { results.append(try await LoadRig.run(load)) }
            func median(_ values: [Int]) -> Int { values.sorted()[values.count / 2] }
            let agent = median(results.map(\.agentNanos))
            let subscriber = median(results.map(\.subscriberNanos))
            let peer = median(results.map(\.peerNanos))
            benchmark.measurement(metrics[0], agent)
            benchmark.measurement(metrics[1], subscriber)
            benchmark.measurement(metrics[2], peer)
            benchmark.measurement(metrics[3], agent * 100 / max(subscriber, 1))
            benchmark.measurement(metrics[4], agent * 100 / max(peer, 1))
            benchmark.measurement(metrics[5], median(results.map(\.agentMaxRSS)))
            var line = String(format: "MQTTLoad %@: per message agent %.2f µs, mosquitto_sub %.2f µs, python %.2f µs",
                              load.name, Double(agent) / 1000, Double(subscriber) / 1000, Double(peer) / 1000)
            let measured = results.compactMap(\.collectd)
            let collectd = measured.count == results.count ? median(measured.map(\.nanos)) : nil
            if let collectd {
                benchmark.measurement(metrics[6], collectd)
                benchmark.measurement(metrics[7], agent * 100 / max(collectd, 1))
                line += String(format: ", collectd %.2f µs", Double(collectd) / 1000)
            }
            line += String(format: "; agent/mosquitto_sub %.2f×, agent/python %.2f×",
                           Double(agent) / Double(max(subscriber, 1)), Double(agent) / Double(max(peer, 1)))
            if let collectd {
                line += String(format: ", agent/collectd %.2f×", Double(agent) / Double(max(collectd, 1)))
            }
            line += String(format: "; agent max RSS %.1f MB", Double(median(results.map(\.agentMaxRSS))) / 1024)
            if collectd != nil {
                line += String(format: ", collectd max RSS %.1f MB", Double(median(measured.map(\.maxRSS))) / 1024)
            }
            let readings = results.map { String($0.agentReadings) }.joined(separator: "/")
            line += "; agent read \(readings) of \(2 * load.messages) readings"
            if collectd != nil {
                let written = measured.map { String($0.written) }.joined(separator: "/")
                line += "; collectd wrote \(written) of \(load.messages) values"
            } else {
                line += "; collectd: \(results.lazy.compactMap(\.collectdMissing).first ?? "not measured")"
            }
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }
    // Instructions per message, counted by callgrind (repeatable whatever else the machine does): the agent as
    // packaged, its debug information stripped (valgrind cannot read Swift 6.3's), under the load's configuration,
    // 10 000 QoS 0 messages at 400 a second, less the same run with none.
    Benchmark(
        "MQTT instructions: callgrind's count per message, QoS 0, 10 000 at 400/s",
        configuration: .init(metrics: [.custom("instructions per message", useScalingFactor: false)],
                             warmupIterations: 0, scalingFactor: .one, maxDuration: .seconds(900), maxIterations: 1)
    ) { benchmark in
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/valgrind") else {
            print("MQTT instructions: no valgrind (apt-get install valgrind)")
            return
        }
        let idle = try await LoadRig.instructions(messages: 0)
        let loaded = try await LoadRig.instructions(messages: 10_000)
        let each = max(0, loaded - idle) / 10_000
        benchmark.measurement(.custom("instructions per message", useScalingFactor: false), Int(each))
        FileHandle.standardError.write(Data(
            "MQTTInstructions: \(each) instructions a message (\(loaded) with 10 000 messages, \(idle) with none)\n".utf8))
    }
    // Resident memory against sensors: 10, 100 and 1 000 sensors (5, 50 and 500 topics, a plug and a level on each),
    // each taking 3 000 readings; the plugs' readings carry Tasmota times 5 minutes apart (Tasmota's default
    // TelePeriod: ten days of data), and once a minute apart, which fills their one-minute rollups to their cap.
    Benchmark(
        "MQTT memory: resident memory for 10, 100 and 1 000 sensors of 3 000 readings each",
        configuration: .init(metrics: [.custom("resident kB, 1 000 sensors", useScalingFactor: false)],
                             warmupIterations: 0, scalingFactor: .one, maxDuration: .seconds(900), maxIterations: 1)
    ) { benchmark in
        var lines: [String] = []
        var largest = 0
        var previous: (sensors: Int, kilobytes: Int)?
        for topics in [5, 50, 500] {
            let kilobytes = try await LoadRig.memory(topics: topics, readingsEach: 3_000, spacing: 300)
            var line = "MQTTMemory: \(2 * topics) sensors, readings 5 minutes apart: "
                + "\(String(format: "%.1f", Double(kilobytes) / 1024)) MB resident"
            if let previous {
                let each = Double(kilobytes - previous.kilobytes) / Double(2 * topics - previous.sensors)
                line += String(format: ", %.1f kB for each sensor more", each)
            }
            lines.append(line)
            previous = (2 * topics, kilobytes)
            largest = kilobytes
        }
        // The rollups at their caps: readings a minute apart fill the day of one-minute steps.
        let full = try await LoadRig.memory(topics: 50, readingsEach: 3_000, spacing: 60)
        lines.append("MQTTMemory: 100 sensors, readings 1 minute apart (a full day of one-minute rollups): "
            + "\(String(format: "%.1f", Double(full) / 1024)) MB resident")
        benchmark.measurement(.custom("resident kB, 1 000 sensors", useScalingFactor: false), largest)
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}

struct LoadCase: Sendable {
    let qos: MQTTQoS
    let messages: Int
    /// Messages a second, or nil for as fast as the publisher goes.
    let rate: Int?

    var name: String {
        "QoS \(qos == .atMostOnce ? 0 : 1), " + (rate.map { "\(messages) at \($0)/s" } ?? "flood of \(messages)")
    }
}

struct LoadResult {
    var agentNanos: Int
    var subscriberNanos: Int
    var peerNanos: Int
    var agentMaxRSS: Int
    var agentReadings: Int
    /// collectd's figures, or nil when there is no collectd (`collectdMissing` says why).
    var collectd: CollectdResult?
    var collectdMissing: String?
}

struct CollectdResult {
    /// CPU time per message it was sent.
    var nanos: Int
    var maxRSS: Int
    /// Values its csv plugin wrote.
    var written: Int
}

/// collectd 5.12 as Debian ships it (collectd-core), unpacked by `collectd-root` into
/// /var/cache/klimavagt/collectd/VERSION, never installed; run in the foreground with a configuration of its own.
struct Collectd {
    let root: String
    let directory: URL
    let process: ChildProcess

    static let cache = "/var/cache/klimavagt/collectd"

    /// The unpacked collectd: `KLIMAVAGT_COLLECTD_ROOT`, or the newest under the cache; or why there is none.
    static func find() -> Result<String, CollectdMissing> {
        let files = FileManager.default
        if let root = ProcessInfo.processInfo.environment["KLIMAVAGT_COLLECTD_ROOT"], !root.isEmpty {
            guard files.isExecutableFile(atPath: root + "/usr/sbin/collectd") else {
                return .failure(CollectdMissing("none at KLIMAVAGT_COLLECTD_ROOT=\(root)"))
            }
            return .success(root)
        }
        let versions = ((try? files.contentsOfDirectory(atPath: cache)) ?? [])
            .filter { !$0.hasSuffix(".partial") && files.isExecutableFile(atPath: "\(cache)/\($0)/usr/sbin/collectd") }
            .sorted { $0.compare($1, options: .numeric) == .orderedAscending }
        guard let newest = versions.last else {
            return .failure(CollectdMissing(
                "missing, not measured (none under \(cache): run Benchmarks/MQTTLoad/collectd-root)"))
        }
        return .success("\(cache)/\(newest)")
    }

    /// Starts collectd in `directory` (its configuration, log and CSV files), subscribed to `collectd/#` on the broker
    /// at `qos`; it writes each value it receives with the csv plugin under `directory/csv/HOST/PLUGIN/TYPE-DATE`.
    init(root: String, directory: URL, port: Int, qos: Int) throws {
        self.root = root
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("collectd.conf").path
        // One write thread: with collectd's default five, two values of one series can overtake each other on the
        // way to the writers, and its value cache then drops the later one ("uc_update: Value too old").
        try """
            Hostname "klimavagt-load"
            FQDNLookup false
            BaseDir "\(directory.path)"
            PIDFile "\(directory.path)/collectd.pid"
            PluginDir "\(root)/usr/lib/collectd"
            TypesDB "\(root)/usr/share/collectd/types.db"
            Interval 10
            WriteThreads 1
            LoadPlugin logfile
            <Plugin logfile>
              LogLevel info
              File STDOUT
              Timestamp true
            </Plugin>
            LoadPlugin mqtt
            <Plugin mqtt>
              <Subscribe "load">
                Host "127.0.0.1"
                Port \(port)
                ClientId "collectd-load-\(UUID().uuidString.prefix(6))"
                QoS \(qos)
                Topic "collectd/#"
                CleanSession true
              </Subscribe>
            </Plugin>
            LoadPlugin csv
            <Plugin csv>
              DataDir "\(directory.path)/csv"
              StoreRates false
            </Plugin>

            """.write(toFile: config, atomically: true, encoding: .utf8)
        var environment = ChildProcess.environmentWithoutPreload
        // Libraries `collectd-root` unpacked beside it because this machine lacks them (none on a machine with
        // make bench's packages).
        let libraries = ["lib", "usr/lib"].flatMap { folder in
            ((try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(folder)")) ?? [])
                .filter { $0.hasSuffix("-linux-gnu") }.map { "\(root)/\(folder)/\($0)" }
        }
        if !libraries.isEmpty {
            environment["LD_LIBRARY_PATH"] = (libraries + [environment["LD_LIBRARY_PATH"]].compactMap { $0 })
                .joined(separator: ":")
        }
        process = try ChildProcess("\(root)/usr/sbin/collectd", ["-f", "-C", config], environment: environment,
                                   outputFile: directory.appendingPathComponent("collectd.log").path)
    }

    /// The values the csv plugin wrote under `plugin` (`mqtt` for the load, `probe` for the readiness probe): the
    /// lines of its files less each file's header.
    func written(plugin: String = "mqtt") -> Int {
        let host = directory.appendingPathComponent("csv/load")
        let files = FileManager.default
        var count = 0
        for series in (try? files.contentsOfDirectory(atPath: host.path)) ?? []
        where series == plugin || series.hasPrefix(plugin + "-") {
            let folder = host.appendingPathComponent(series)
            for file in (try? files.contentsOfDirectory(atPath: folder.path)) ?? [] {
                guard let data = try? Data(contentsOf: folder.appendingPathComponent(file)) else { continue }
                let lines = data.reduce(0) { $1 == 10 ? $0 + 1 : $0 }
                count += max(0, lines - 1)
            }
        }
        return count
    }

    /// Returns once collectd takes values: it has written a probe value (`collectd/load/probe/gauge-ready`, published
    /// every 100 ms until one is written, as the subscription is not visible otherwise); throws after 30 s.
    func untilSubscribed(_ publisher: MQTTClient) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while written(plugin: "probe") == 0 {
            guard process.isRunning else { throw BrokerError("collectd exited: \(process.output)") }
            guard ContinuousClock.now < deadline else {
                throw BrokerError("collectd wrote no probe value in 30 s: \(process.output)")
            }
            try await publisher.publish("collectd/load/probe/gauge-ready", payload: Array("N:1".utf8), qos: .atMostOnce)
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Returns once collectd is done with the load: its csv files hold all `sent` values, or its CPU time has not
    /// moved for a second (at QoS 0 it may have lost some), or 120 s have passed.
    func untilDone(sent: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(120)
        var last = process.cpuTime
        var still = 0
        while written() < sent && still < 4 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(250))
            let now = process.cpuTime
            still = now == last ? still + 1 : 0
            last = now
        }
    }

    /// Stops collectd (SIGTERM, SIGKILL after 10 s) and returns its figures for `sent` messages: CPU time from its
    /// usage at exit (its start included), its peak resident memory read just before.
    func stop(sent: Int) async -> CollectdResult {
        let maxRSS = process.statusKilobytes("VmHWM")
        process.signal(SIGTERM)
        if await process.wait(seconds: 10) == nil {
            process.signal(SIGKILL)
            process.wait()
        }
        let cpu = process.cpuUsed ?? .zero
        let nanos = Int(cpu.components.seconds) * 1_000_000_000 + Int(cpu.components.attoseconds / 1_000_000_000)
        return CollectdResult(nanos: nanos / max(sent, 1), maxRSS: maxRSS, written: written())
    }
}

struct CollectdMissing: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

enum LoadRig {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let topics = 50

    /// The payload of message `index`: a Tasmota SENSOR message with its local Time, ENERGY, Rain and Level.
    static func payload(_ index: Int, time: String) -> [UInt8] {
        let level = 100 + index % 30   // under the rule's threshold: the load is readings, not an alert storm
        return Array(#"{"Time":"\#(time)","ENERGY":{"TotalStartTime":"2023-11-12T09:41:07","Total":\#(1000 + index / 1000).\#(index % 1000),"Yesterday":1.234,"Today":0.512,"Period":12,"Power":\#(index % 3000),"ApparentPower":1502,"ReactivePower":389,"Factor":0.97,"Voltage":231,"Current":6.503},"Rain":{"Tips":\#(index % 3)},"Level":{"cm":\#(level).\#(index % 10)}}"#.utf8)
    }

    /// The collectd message of message `index`: its Level value (`payload`'s Level.cm) as collectd's plain-text
    /// protocol has it, `TIME:VALUE` with N for the time of arrival.
    static func collectdPayload(_ index: Int) -> [UInt8] {
        Array("N:\(100 + index % 30).\(index % 10)".utf8)
    }

    /// The agent's resident memory once `topics` topics have each delivered `readingsEach` messages.
    static func memory(topics: Int, readingsEach: Int, spacing: Int) async throws -> Int {
        let binary = ProcessInfo.processInfo.environment["KLIMAVAGT_BINARY"]
            ?? repository.appendingPathComponent(".build-deb/release/klimavagt").path
        let broker = try MosquittoBroker(unlimitedQueues: true)
        defer { broker.stop() }
        let config = broker.directory.appendingPathComponent("memory.yaml").path
        try """
            site: load
            devices_dir: \(repository.appendingPathComponent("Devices").path)
            mqtt: {host: 127.0.0.1, port: \(broker.port)}
            limits: {sensors: 2000, sensors_per_template: 1000}
            sensors:
              - id: "plug-{1}"
                device: tasmota-energy
                input: {mqtt: {topic: "site/sensors/+/SENSOR", max_clock_skew: never}}
              - id: "level-{1}"
                unit: cm
                input: {mqtt: {topic: "site/sensors/+/SENSOR", path: Level.cm}}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let watcher = try MQTTClient(MQTTOptions(port: broker.port, clientID: "memory-watch"))
        defer { watcher.close() }
        try await watcher.connect()
        try await watcher.subscribe("klimavagt/load/status")
        let started = ContinuousClock.now
        let agent = try ChildProcess(binary, [
            "run", "--config", config, "--state-dir", broker.directory.appendingPathComponent("state").path,
        ], environment: ChildProcess.environmentWithoutPreload, outputFile: broker.directory.appendingPathComponent("agent.log").path)
        for await message in watcher.messages where message.text == "online" { break }
        try await Task.sleep(for: .milliseconds(700))
        let publisher = try MQTTClient(MQTTOptions(port: broker.port, clientID: "memory-generator"))
        defer { publisher.close() }
        try await publisher.connect()
        let local = DateFormatter()
        local.timeZone = TimeZone(identifier: "Europe/Copenhagen")
        local.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        let start = Date().addingTimeInterval(-Double(readingsEach * spacing))
        try await withThrowingTaskGroup(of: Void.self) { group in
            var sent = 0
            for round in 0..<readingsEach {
                let time = local.string(from: start.addingTimeInterval(Double(round * spacing)))
                for topic in 0..<topics {
                    // Up to 64 publications in flight, each awaiting its PUBACK.
                    if sent >= 64 { try await group.next() }
                    sent += 1
                    let message = payload(round * topics + topic, time: time)
                    group.addTask {
                        try await publisher.publish("site/sensors/\(topic)/SENSOR", payload: message, qos: .atLeastOnce)
                    }
                }
            }
            try await group.waitForAll()
        }
        try await untilIdle(agent)
        // Resident memory as the agent lives it for months: after it has given back the code only its start used
        // (10 s after the start, `StartupCodeRelease`).
        let settled = started + .seconds(12)
        if ContinuousClock.now < settled { try await Task.sleep(until: settled) }
        let resident = agent.statusKilobytes("VmRSS")
        agent.signal(SIGTERM)
        agent.wait()
        return resident
    }

    /// Returns once the agent is done: its CPU time has stopped moving (held-back sensor states go out within a
    /// second, so it waits that long first).
    static func untilIdle(_ agent: ChildProcess) async throws {
        var last = agent.cpuTime
        var still = 0
        try await Task.sleep(for: .milliseconds(1200))
        while still < 3 {
            try await Task.sleep(for: .milliseconds(200))
            let now = agent.cpuTime
            still = now == last ? still + 1 : 0
            last = now
        }
    }

    /// The instructions callgrind counts for the agent's whole life: start, `messages` QoS 0 messages at 400 a second
    /// on the load's 50 topics, idle, SIGTERM.
    static func instructions(messages: Int) async throws -> Int64 {
        let binary = ProcessInfo.processInfo.environment["KLIMAVAGT_BINARY"]
            ?? repository.appendingPathComponent(".build-deb/release/klimavagt").path
        let broker = try MosquittoBroker(unlimitedQueues: true)
        defer { broker.stop() }
        let stripped = broker.directory.appendingPathComponent("klimavagt-stripped").path
        try KlimavagtTestSupport.run("/usr/bin/strip", ["--strip-debug", "-o", stripped, binary])
        let config = broker.directory.appendingPathComponent("load.yaml").path
        try """
            site: load
            devices_dir: \(repository.appendingPathComponent("Devices").path)
            mqtt: {host: 127.0.0.1, port: \(broker.port)}
            sensors:
              - id: "plug-{1}"
                device: tasmota-energy
                input: {mqtt: {topic: "site/sensors/+/SENSOR"}}
              - id: "level-{1}"
                unit: cm
                input: {mqtt: {topic: "site/sensors/+/SENSOR", path: Level.cm}}
            rules:
              - {id: high-water, kind: threshold, sensor: level-7, levels: {warning: 135}}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let watcher = try MQTTClient(MQTTOptions(port: broker.port, clientID: "instructions-watch"))
        defer { watcher.close() }
        try await watcher.connect()
        try await watcher.subscribe("klimavagt/load/status")
        let counts = broker.directory.appendingPathComponent("callgrind.out").path
        let agent = try ChildProcess("/usr/bin/valgrind", [
            "--tool=callgrind", "--callgrind-out-file=\(counts)", stripped,
            "run", "--config", config, "--state-dir", broker.directory.appendingPathComponent("state").path,
        ], environment: ChildProcess.environmentWithoutPreload,
           outputFile: broker.directory.appendingPathComponent("agent.log").path)
        try await within(300, "the agent under callgrind online") {
            for await message in watcher.messages where message.text == "online" { return }
        }
        let publisher = try MQTTClient(MQTTOptions(port: broker.port, clientID: "instructions-generator"))
        defer { publisher.close() }
        try await publisher.connect()
        let local = DateFormatter()
        local.timeZone = TimeZone(identifier: "Europe/Copenhagen")
        local.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        let started = ContinuousClock.now
        for index in 0..<messages {
            let due = started + .microseconds(Int64(index) * 2_500)
            if due > ContinuousClock.now { try await Task.sleep(until: due) }
            try await publisher.publish("site/sensors/\(index % topics)/SENSOR",
                                        payload: payload(index, time: local.string(from: Date())), qos: .atMostOnce)
        }
        try await untilIdle(agent)
        agent.signal(SIGTERM)
        agent.wait()
        // callgrind's file ends with `summary: N` (older versions: `totals: N`), the instructions of the whole run.
        let text = try String(contentsOfFile: counts, encoding: .utf8)
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("summary:") || $0.hasPrefix("totals:") }),
              let total = Int64(line.split(separator: " ").last ?? "")
        else { throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: counts]) }
        return total
    }

    static func run(_ load: LoadCase) async throws -> LoadResult {
        let binary = ProcessInfo.processInfo.environment["KLIMAVAGT_BINARY"]
            ?? repository.appendingPathComponent(".build-deb/release/klimavagt").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey:
                "no agent at \(binary): run make bench, or set KLIMAVAGT_BINARY"])
        }
        let broker = try MosquittoBroker(unlimitedQueues: true)
        defer { broker.stop() }
        let config = broker.directory.appendingPathComponent("load.yaml").path
        try """
            site: load
            devices_dir: \(repository.appendingPathComponent("Devices").path)
            mqtt: {host: 127.0.0.1, port: \(broker.port)}
            sensors:
              - id: "plug-{1}"
                device: tasmota-energy
                input: {mqtt: {topic: "site/sensors/+/SENSOR"}}
              - id: "level-{1}"
                unit: cm
                input: {mqtt: {topic: "site/sensors/+/SENSOR", path: Level.cm}}
            rules:
              - {id: high-water, kind: threshold, sensor: level-7, levels: {warning: 135}}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let qos = load.qos == .atMostOnce ? "0" : "1"
        let watcher = try MQTTClient(MQTTOptions(port: broker.port, clientID: "load-watch"))
        defer { watcher.close() }
        try await watcher.connect()
        try await watcher.subscribe("klimavagt/load/status")
        let agentLog = broker.directory.appendingPathComponent("agent.log").path
        let agent = try ChildProcess(binary, [
            "run", "--config", config, "--state-dir", broker.directory.appendingPathComponent("state").path,
        ], environment: ChildProcess.environmentWithoutPreload, outputFile: agentLog)
        for await message in watcher.messages where message.text == "online" { break }
        let subscriber = try ChildProcess("/usr/bin/mosquitto_sub", [
            "-h", "127.0.0.1", "-p", String(broker.port), "-q", qos, "-t", "site/sensors/+/SENSOR",
            "-C", String(load.messages), "-W", "300", "-i", "load-sub-\(UUID().uuidString.prefix(6))",
        ], environment: ChildProcess.environmentWithoutPreload, outputFile: "/dev/null")
        let peerLog = broker.directory.appendingPathComponent("peer.log").path
        let peer = try ChildProcess("/usr/bin/python3", [
            repository.appendingPathComponent("Benchmarks/MQTTLoad/peer.py").path,
            String(broker.port), qos, String(load.messages), "site/sensors/+/SENSOR",
        ], environment: ChildProcess.environmentWithoutPreload, outputFile: peerLog)
        var collectd: Collectd?
        var collectdMissing: String?
        switch Collectd.find() {
        case .success(let root):
            collectd = try Collectd(root: root, directory: broker.directory.appendingPathComponent("collectd"),
                                    port: broker.port, qos: load.qos == .atMostOnce ? 0 : 1)
        case .failure(let missing):
            collectdMissing = missing.reason
        }
        defer {
            if let collectd, collectd.process.isRunning {
                collectd.process.signal(SIGKILL)
                collectd.process.wait()
            }
        }
        let publisher = try MQTTClient(MQTTOptions(port: broker.port, clientID: "load-generator"))
        defer { publisher.close() }
        try await publisher.connect()

        // Every consumer subscribed: the agent's feed after its session is up, the peer when it prints so, collectd
        // once it has written a probe value.
        try await collectd?.untilSubscribed(publisher)
        for _ in 0..<100 {
            if (try? String(contentsOfFile: peerLog, encoding: .utf8))?.contains("subscribed") == true { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await Task.sleep(for: .milliseconds(700))
        let local = DateFormatter()
        local.timeZone = TimeZone(identifier: "Europe/Copenhagen")
        local.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        let started = ContinuousClock.now
        var second = -1
        var time = ""
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<load.messages {
                if let rate = load.rate {
                    let due = started + .microseconds(Int64(index) * 1_000_000 / Int64(rate))
                    if due > ContinuousClock.now { try await Task.sleep(until: due) }
                }
                let elapsed = Int((ContinuousClock.now - started).components.seconds)
                if elapsed != second {
                    second = elapsed
                    time = local.string(from: Date())
                }
                let topic = "site/sensors/\(index % topics)/SENSOR"
                let payload = payload(index, time: time)
                // collectd's message of the same reading, right after it.
                let collectdTopic = "collectd/load/mqtt-\(index % topics)/gauge-level"
                let collectdPayload = collectdPayload(index)
                if load.qos == .atMostOnce {
                    try await publisher.publish(topic, payload: payload, qos: .atMostOnce)
                    try await publisher.publish(collectdTopic, payload: collectdPayload, qos: .atMostOnce)
                } else {
                    // Up to 64 messages of each stream in flight (128 publications), each awaiting its PUBACK.
                    if index >= 64 {
                        try await group.next()
                        try await group.next()
                    }
                    group.addTask { try await publisher.publish(topic, payload: payload, qos: .atLeastOnce) }
                    group.addTask {
                        try await publisher.publish(collectdTopic, payload: collectdPayload, qos: .atLeastOnce)
                    }
                }
            }
            try await group.waitForAll()
        }
        // At QoS 0 a consumer that fell behind may have lost messages: the end marker lets the peer stop.
        try await publisher.publish("bench/end", payload: Array("end".utf8), qos: .atLeastOnce)
        subscriber.wait()
        peer.wait()
        let subscriberCPU = subscriber.cpuUsed ?? .zero
        let peerCPU = peer.cpuUsed ?? .zero
        try await untilIdle(agent)
        let maxRSS = agent.statusKilobytes("VmHWM")
        agent.signal(SIGTERM)
        agent.wait()
        let agentCPU = agent.cpuUsed ?? .zero
        // collectd after the agent: the agent is not left idling (and counting) while collectd catches up.
        var collectdResult: CollectdResult?
        if let collectd {
            try await collectd.untilDone(sent: load.messages)
            collectdResult = await collectd.stop(sent: load.messages)
        }
        let log = (try? String(contentsOfFile: agentLog, encoding: .utf8)) ?? ""
        let readings = log.split(separator: "\n").compactMap { line -> Int? in
            guard let range = line.range(of: #": (\d+) payloads,"#, options: .regularExpression) else { return nil }
            return Int(line[range].dropFirst(2).prefix { $0.isNumber })
        }.reduce(0, +)
        func nanos(_ duration: Duration) -> Int {
            Int(duration.components.seconds) * 1_000_000_000 + Int(duration.components.attoseconds / 1_000_000_000)
        }
        return LoadResult(agentNanos: nanos(agentCPU) / load.messages, subscriberNanos: nanos(subscriberCPU) / load.messages,
                          peerNanos: nanos(peerCPU) / load.messages, agentMaxRSS: maxRSS, agentReadings: readings,
                          collectd: collectdResult, collectdMissing: collectdMissing)
    }
}
