import Benchmark
import Foundation
import KlimavagtTestSupport

/// The agent's footprint with the demo configuration, its rain gauge at real-time speed so the agent sits idle
/// between readings: resident memory, wake-ups per second (context switches of all its threads), and the time from
/// start to READY=1 on a notification socket. Beside it the same figures for `footprint-floor`, a program with only
/// what the design card fixes (argument parser, logger, service group, a libmosquitto session), as a reference.
///
/// Build both first (`make bench` does): the agent as packaged, and the floor alike, with the Swift runtime linked in:
///   swift build -c release --static-swift-stdlib --product klimavagt --scratch-path .build-deb      (repository)
///   swift build -c release --static-swift-stdlib --product footprint-floor --scratch-path .build-floor (Benchmarks)
/// `KLIMAVAGT_BINARY` and `KLIMAVAGT_FLOOR_BINARY` point elsewhere.
let benchmarks: @Sendable () -> Void = {
    let metrics: [BenchmarkMetric] = [
        .custom("idle resident memory (kB)", useScalingFactor: false),
        .custom("wake-ups per second when idle, x100", useScalingFactor: false),
        .custom("start to READY=1 (ms)", useScalingFactor: false),
    ]
    let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let environment = ProcessInfo.processInfo.environment
    let agentBinary = environment["KLIMAVAGT_BINARY"]
        ?? repository.appendingPathComponent(".build-deb/release/klimavagt").path
    let floorBinary = environment["KLIMAVAGT_FLOOR_BINARY"]
        ?? repository.appendingPathComponent("Benchmarks/.build-floor/release/footprint-floor").path

    Benchmark("Footprint: the demo configuration, idle",
              configuration: .init(metrics: metrics, scalingFactor: .one, maxDuration: .seconds(120), maxIterations: 3)) { benchmark in
        guard FileManager.default.isExecutableFile(atPath: agentBinary) else {
            print("Footprint: no agent binary at \(agentBinary); build it first")
            return
        }
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let demo = try String(contentsOf: repository.appendingPathComponent("Devices/demo/demo.yaml"), encoding: .utf8)
        let config = broker.directory.appendingPathComponent("demo.yaml").path
        try demo.replacingOccurrences(of: "port: 1883", with: "port: \(broker.port)")
            .replacingOccurrences(of: "speed: 360", with: "speed: 1")
            .replacingOccurrences(of: "file: skybrud-2011-07-02.csv",
                                  with: "file: \(repository.appendingPathComponent("Devices/demo/skybrud-2011-07-02.csv").path)")
            .write(toFile: config, atomically: true, encoding: .utf8)
        var readiness: [Duration] = []
        let idle = try IdleMeasurement.run { seconds in
            let notify = try NotifySocket(path: broker.directory.appendingPathComponent("notify-\(seconds).sock").path)
            let started = ContinuousClock.now
            let agent = try ChildProcess(
                "/usr/bin/env", ["NOTIFY_SOCKET=\(notify.path)",
                 "KLIMAVAGT_DEVICES=\(repository.appendingPathComponent("Devices").path)",
                 agentBinary, "run", "--config", config, "--state-dir", broker.directory.appendingPathComponent("state").path,
                 "--control-socket", broker.directory.appendingPathComponent("control.sock").path, "--log-level", "warning"],
                environment: ChildProcess.environmentWithoutPreload, outputFile: broker.directory.appendingPathComponent("agent.log").path)
            guard notify.waitForReady(seconds: 30) else {
                agent.signal(SIGKILL)
                agent.wait()
                return nil
            }
            readiness.append(ContinuousClock.now - started)
            return agent
        }
        guard let idle, let ready = readiness.min() else { return }
        benchmark.measurement(metrics[0], idle.residentKilobytes)
        benchmark.measurement(metrics[1], idle.wakeUpsPerSecondTimes100)
        benchmark.measurement(metrics[2], Int(ready.components.seconds * 1000 + ready.components.attoseconds / 1_000_000_000_000_000))
    }

    Benchmark("Footprint: the design card's floor, idle",
              configuration: .init(metrics: Array(metrics.prefix(2)), scalingFactor: .one, maxDuration: .seconds(120),
                                   maxIterations: 3)) { benchmark in
        guard FileManager.default.isExecutableFile(atPath: floorBinary) else {
            print("Footprint: no floor binary at \(floorBinary); build it first")
            return
        }
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let idle = try IdleMeasurement.run { _ in
            try ChildProcess(floorBinary, ["--port", "\(broker.port)"], environment: ChildProcess.environmentWithoutPreload,
                             outputFile: broker.directory.appendingPathComponent("floor.log").path)
        }
        guard let idle else { return }
        benchmark.measurement(metrics[0], idle.residentKilobytes)
        benchmark.measurement(metrics[1], idle.wakeUpsPerSecondTimes100)
    }
}

/// Runs a program, lets it idle for 15 seconds (the agent gives back its start-up code after 10, and the code it
/// runs then faults back in), then counts the context switches of each of its threads over the next
/// 20 seconds (a thread that starts in between counts in full; one that ends in between is missed, and the agent's
/// threads do not end while it idles), reads its memory, and stops it with SIGTERM.
struct IdleMeasurement {
    var residentKilobytes = 0
    var wakeUpsPerSecondTimes100 = 0

    static func run(start: (Int) throws -> ChildProcess?) throws -> IdleMeasurement? {
        guard let program = try start(25) else { return nil }
        defer {
            program.signal(SIGTERM)
            program.wait()
        }
        Thread.sleep(forTimeInterval: 15)
        let before = threadSwitches(pid: program.pid)
        Thread.sleep(forTimeInterval: 20)
        let after = threadSwitches(pid: program.pid)
        let switches = after.reduce(0) { sum, thread in sum + thread.value - (before[thread.key] ?? 0) }
        return IdleMeasurement(residentKilobytes: program.statusKilobytes("VmRSS"),
                               wakeUpsPerSecondTimes100: switches * 100 / 20)
    }

    /// Voluntary plus involuntary context switches of each thread of a process, by thread id, from /proc.
    static func threadSwitches(pid: pid_t) -> [String: Int] {
        var switches: [String: Int] = [:]
        for task in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? [] {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8)) ?? ""
            for line in status.split(separator: "\n")
            where line.hasPrefix("voluntary_ctxt_switches") || line.hasPrefix("nonvoluntary_ctxt_switches") {
                switches[task, default: 0] += Int(line.split(separator: "\t").last ?? "0") ?? 0
            }
        }
        return switches
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
