import Benchmark
import BenchmarkSupport
import Foundation

/// The agent's footprint with the demo configuration, its rain gauge at real-time speed so the agent sits idle
/// between readings: resident memory, wake-ups per second (context switches of all its threads), and the time from
/// start to READY=1 on a notification socket. Build the agent first: `swift build -c release` in the repository.
let benchmarks: @Sendable () -> Void = {
    let metrics: [BenchmarkMetric] = [
        .custom("idle resident memory (kB)", useScalingFactor: false),
        .custom("wake-ups per second when idle, x100", useScalingFactor: false),
        .custom("start to READY=1 (ms)", useScalingFactor: false),
    ]
    Benchmark("Footprint: the demo configuration, idle",
              configuration: .init(metrics: metrics, scalingFactor: .one, maxDuration: .seconds(120), maxIterations: 3)) { benchmark in
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let binary = ProcessInfo.processInfo.environment["KLIMAVAGT_BINARY"]
            ?? repository.appendingPathComponent(".build/release/klimavagt").path
        let broker = try await PrivateBroker()
        defer { broker.stop() }
        let demo = try String(contentsOf: repository.appendingPathComponent("Devices/demo/demo.yaml"), encoding: .utf8)
        let config = broker.folder.appendingPathComponent("demo.yaml").path
        try demo.replacingOccurrences(of: "port: 1883", with: "port: \(broker.port)")
            .replacingOccurrences(of: "speed: 360", with: "speed: 1")
            .replacingOccurrences(of: "file: skybrud-2011-07-02.csv",
                                  with: "file: \(repository.appendingPathComponent("Devices/demo/skybrud-2011-07-02.csv").path)")
            .write(toFile: config, atomically: true, encoding: .utf8)
        // The agent's context switches over its whole life (wait4), for a short and a long idle run: the difference
        // is what idling costs, without the start and the stop.
        var switches: [Int] = []
        var ready: Duration = .zero
        var resident = 0
        for idle in [5, 25] {
            let notify = try NotifySocket(path: broker.folder.appendingPathComponent("notify-\(idle).sock").path)
            let started = ContinuousClock.now
            let agent = try Subprocess(
                ["/usr/bin/env", "NOTIFY_SOCKET=\(notify.path)",
                 "KLIMAVAGT_DEVICES=\(repository.appendingPathComponent("Devices").path)",
                 binary, "run", "--config", config, "--state-dir", broker.folder.appendingPathComponent("state").path,
                 "--control-socket", broker.folder.appendingPathComponent("control.sock").path, "--log-level", "warning"],
                output: broker.folder.appendingPathComponent("agent.log").path)
            guard notify.waitForReady(seconds: 30) else {
                agent.signal(SIGKILL)
                agent.wait()
                return
            }
            ready = ContinuousClock.now - started
            try await Task.sleep(for: .seconds(idle))
            resident = ProcessStatus(pid: agent.pid).residentKilobytes
            agent.signal(SIGTERM)
            agent.wait()
            switches.append(agent.contextSwitches)
        }
        benchmark.measurement(metrics[0], resident)
        benchmark.measurement(metrics[1], max(0, switches[1] - switches[0]) * 100 / 20)
        benchmark.measurement(metrics[2], Int(ready.components.seconds * 1000 + ready.components.attoseconds / 1_000_000_000_000_000))
    }
}

/// VmRSS and the context switches of all threads of a process, from /proc.
struct ProcessStatus {
    var residentKilobytes = 0
    var contextSwitches = 0

    init(pid: pid_t) {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            residentKilobytes = Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        for task in tasks {
            let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") where line.hasPrefix("voluntary_ctxt_switches") || line.hasPrefix("nonvoluntary_ctxt_switches") {
                contextSwitches += Int(line.split(separator: "\t").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "0") ?? 0
            }
        }
    }
}

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
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(fd)
        unlink(path)
    }

    func waitForReady(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count > 0, String(decoding: buffer.prefix(count), as: UTF8.self).hasPrefix("READY=1") { return true }
        }
        return false
    }
}
