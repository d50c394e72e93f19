import Foundation
import KlimavagtCore
import KlimavagtMQTT
import KlimavagtTestSupport
import Testing

/// The agent binary's GPIO inputs against the real kernel's gpio-sim, inside the VM kit (`make test-gpiosim`, which
/// gives it a second simulated chip): bouncing rain-gauge tips and a float switch, through to a real broker.
@Suite("GPIOSim: the agent's GPIO inputs against the kernel", .serialized,
       .enabled(if: ProcessInfo.processInfo.environment["GPIOSIM_CHIP1"] != nil, "needs the gpio-sim VM with two chips"))
struct AgentGPIOSimTests {
    let environment = ProcessInfo.processInfo.environment

    func drive(_ line: Int, high: Bool) throws {
        try (high ? "pull-up" : "pull-down").write(
            toFile: "\(environment["GPIOSIM_SYSFS1"]!)/sim_gpio\(line)/pull", atomically: false, encoding: .utf8)
    }

    /// The pulses in the edges the agent logged for `sensor` (at trace level, as the kernel reported them), by the
    /// rain gauge profile's rule (`Devices/rain-gauges/rimco-0.2mm.yaml`: 10 ms to 1 s).
    ///
    /// Under the VM's emulation a bounce written from user space can last longer than 10 ms, and the simulator can
    /// merge two quick edges into one, so the count is judged against what the kernel reported, not what was meant.
    static func pulses(in output: String, sensor: String) -> (edges: Int, pulses: Int) {
        var detector = PulseDetector(minimumWidth: .milliseconds(10), maximumWidth: .seconds(1))
        var edges = 0
        var pulses = 0
        let marker = "GPIO input \(sensor): edge "
        for line in output.split(separator: "\n") {
            guard let range = line.range(of: marker) else { continue }
            let words = line[range.upperBound...].split(separator: " ")
            guard words.count >= 3, words[1] == "at", let time = Int64(words[2]) else { continue }
            edges += 1
            if case .accepted = detector.edge(active: words[0] == "rising", at: time) { pulses += 1 }
        }
        return (edges, pulses)
    }

    @Test("tips with contact bounce count as the kernel's edges say into the rain total; a float switch's held state is published")
    func rainGaugeAndFloatSwitch() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-gpiosim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let chip = environment["GPIOSIM_CHIP1"]!
        try drive(0, high: false)
        try drive(1, high: true)   // the float is down: a normally-open contact, pulled up, reads high
        try """
            site: gpiosim
            devices_dir: \(repositoryRoot.appendingPathComponent("Devices").path)
            mqtt: {host: 127.0.0.1, port: \(broker.port)}
            sensors:
              - id: rain-1
                device: rimco-0.2mm
                input: {gpio: {chip: \(chip), line: 0, bias: pull_down}}
              - id: sump-high
                device: float-switch-no
                input: {gpio: {chip: \(chip), line: 1, hold: 1s}}
            """.write(to: folder.appendingPathComponent("agent.yaml"), atomically: true, encoding: .utf8)
        let watcher = try MQTTClient(MQTTOptions(port: broker.port, clientID: "gpiosim-watch"))
        defer { watcher.close() }
        try await watcher.connect()
        try await watcher.subscribe("klimavagt/gpiosim/#")
        let messages = watcher.messages
        let agent = try Klimavagt.start(["run", "--config", folder.appendingPathComponent("agent.yaml").path,
                                          "--state-dir", folder.appendingPathComponent("state").path,
                                          "--log-level", "trace"])
        defer { agent.signal(SIGKILL); agent.wait() }
        do {
            try await within(60, "agent online") {
                for await message in messages where message.topic == "klimavagt/gpiosim/status" && message.text == "online" {
                    return
                }
            }
        } catch {
            Issue.record("\(error); agent output:\n\(agent.output)")
            return
        }
        try await Task.sleep(for: .seconds(2))   // the contact's first level has held

        // Five tips, each with closing and opening bounce, held 60 ms: five pulses, 1.0 mm, when the kernel sees the
        // edges as they were written.
        for _ in 0..<5 {
            for _ in 0..<3 { try drive(0, high: true); try drive(0, high: false) }
            try drive(0, high: true)
            try await Task.sleep(for: .milliseconds(60))
            try drive(0, high: false)
            for _ in 0..<2 { try drive(0, high: true); try drive(0, high: false) }
            try await Task.sleep(for: .milliseconds(300))
        }
        // The water lifts the float: the contact closes (low), chatters, then stays closed.
        for _ in 0..<4 {
            try drive(1, high: false)
            try await Task.sleep(for: .milliseconds(200))
            try drive(1, high: true)
            try await Task.sleep(for: .milliseconds(200))
        }
        try drive(1, high: false)

        let seen = SeenStates()
        let states: [String: String]
        do {
            states = try await within(60, "the rain total of the pulses the kernel reported, and the float switch up") {
                var latest: [String: [String: Any]] = [:]
                for await message in messages where message.topic.contains("/sensors/") {
                    guard let state = try? JSONSerialization.jsonObject(with: Data(message.payload)) as? [String: Any],
                          let sensor = state["sensor"] as? String
                    else { continue }
                    latest[sensor] = state
                    seen.record(message.text)
                    let expected = Self.pulses(in: agent.output, sensor: "rain-1").pulses
                    if expected > 0, let total = latest["rain-1"]?["total"] as? Double,
                       abs(total - Double(expected) * 0.2) < 1e-9, latest["sump-high"]?["value"] as? Double == 1
                    {
                        return latest.mapValues { "\($0)" }
                    }
                }
                return [:]
            }
        } catch {
            Issue.record("\(error); states seen:\n\(seen.text)\nagent output:\n\(agent.output)")
            return
        }
        #expect(states.count == 2)
        agent.signal(SIGTERM)
        #expect(await agent.wait(seconds: 20) == 0)
        let (edges, pulses) = Self.pulses(in: agent.output, sensor: "rain-1")
        // Twelve edges written per tip, 60 in all; the simulator may merge quick ones, never add any.
        #expect(edges >= 10 && edges <= 60, "\(edges) edges")
        let counters = try String(contentsOfFile: folder.appendingPathComponent("state/counters.state").path, encoding: .utf8)
        #expect(counters.contains(#""rain-1":\#(pulses)"#), "\(counters)")
        try? FileManager.default.removeItem(at: folder)
    }

    @Test("gpio monitor shows each edge, each pulse's width and the debouncer's verdict")
    func monitor() async throws {
        let chip = environment["GPIOSIM_CHIP1"]!
        try drive(2, high: false)
        let monitor = try ChildProcess(Klimavagt.binary, [
            "gpio", "monitor", "2", "--chip", chip, "--bias", "pull_down",
        ])
        defer { monitor.signal(SIGKILL); monitor.wait(); try? FileManager.default.removeItem(atPath: monitor.outputFile) }
        for _ in 0..<200 where !monitor.output.contains("watching") { try await Task.sleep(for: .milliseconds(50)) }
        try drive(2, high: true)
        try drive(2, high: false)   // a bounce, meant far shorter than 10 ms
        try await Task.sleep(for: .milliseconds(200))
        try drive(2, high: true)
        try await Task.sleep(for: .milliseconds(80))
        try drive(2, high: false)   // a tip
        for _ in 0..<600 where !monitor.output.contains(": accepted") { try await Task.sleep(for: .milliseconds(50)) }
        try await Task.sleep(for: .milliseconds(200))
        monitor.signal(SIGTERM)
        _ = await monitor.wait(seconds: 20)
        let lines = monitor.output.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("watching \(chip) line 2 (now 0)") == true, "\(monitor.output)")
        let edges = lines.dropFirst().filter { $0.hasPrefix("rising") || $0.hasPrefix("falling") }
        // The simulator may merge the two quick edges, or stretch them under emulation: each verdict is judged by the
        // width the monitor printed, which is the kernel's.
        #expect(edges.count >= 2 && edges.count <= 4, "\(monitor.output)")
        #expect(edges.last?.hasPrefix("falling") == true && edges.last?.hasSuffix(": accepted") == true, "\(monitor.output)")
        for line in edges where line.contains("  pulse ") {
            let width = Double(line.components(separatedBy: "  pulse ")[1].split(separator: " ")[0]) ?? -1
            let verdict = width < 10 ? "rejected, too short (bounce)" : width > 1000 ? "rejected, too long (stuck)" : "accepted"
            #expect(line.hasSuffix(": \(verdict)"), "\(line)")
        }
    }
}

/// The sensor states a test has seen, for its failure message.
final class SeenStates: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    func record(_ line: String) {
        lock.withLock { lines.append(line) }
    }

    var text: String { lock.withLock { lines.joined(separator: "\n") } }
}
