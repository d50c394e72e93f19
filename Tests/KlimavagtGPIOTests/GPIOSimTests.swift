import Foundation
import KlimavagtCore
import KlimavagtGPIO
import Testing

/// The libgpiod layer against the real kernel's gpio-sim chip; runs inside the VM kit (`make test-gpiosim`).
@Suite("GPIOSim: libgpiod against the kernel's gpio-sim", .serialized,
       .enabled(if: ProcessInfo.processInfo.environment["GPIOSIM_CHIPS"] != nil, "needs the gpio-sim VM"))
struct GPIOSimTests {
    let environment = ProcessInfo.processInfo.environment
    var chipPath: String { environment["GPIOSIM_CHIP0"]! }
    var chipName: String { environment["GPIOSIM_CHIPS"]!.split(separator: " ").first.map(String.init)! }
    var sysfs: String { environment["GPIOSIM_SYSFS0"]! }

    /// Drives a line from outside the chip, as a reed switch or S0 output would.
    func drive(_ line: Int, high: Bool) throws {
        try (high ? "pull-up" : "pull-down").write(toFile: "\(sysfs)/sim_gpio\(line)/pull", atomically: false, encoding: .utf8)
    }

    func simValue(_ line: Int) throws -> String {
        try String(contentsOfFile: "\(sysfs)/sim_gpio\(line)/value", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func monotonicNow() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }

    func nextEdges(_ monitor: GPIOLineMonitor, count: Int, seconds: Double = 20) async throws -> [GPIOEdge] {
        let edges = monitor.edges
        let task = Task {
            var collected: [GPIOEdge] = []
            for await edge in edges {
                collected.append(edge)
                if collected.count == count { break }
            }
            return collected
        }
        let timer = Task {
            try await Task.sleep(for: .seconds(seconds))
            task.cancel()
        }
        let result = await task.value
        timer.cancel()
        return result
    }

    @Test("the package is built against the libgpiod API the platform has (1.6 on Debian 12, 2.x on Debian 13)")
    func libraryAPI() throws {
        let expected = try #require(environment["KLIMAVAGT_EXPECT_GPIOD_API"].flatMap { Int($0) },
                                    "make test-gpiosim names the API it expects")
        #expect(GPIOChip.libraryAPI == expected)
    }

    @Test("chips are listed with their lines, and a chip opens by path, name or label")
    func listAndOpen() throws {
        let chips = GPIOChip.list()
        let sim = try #require(chips.first { $0.label == "klimavagt-sim0" })
        #expect(sim.name == chipName)
        #expect(sim.lines.count == Int(environment["GPIOSIM_LINES"] ?? "8"))
        #expect(sim.lines.allSatisfy { !$0.used && $0.direction == .input })
        for descriptor in [chipPath, chipName, "klimavagt-sim0"] {
            let chip = try GPIOChip(descriptor)
            #expect(chip.name == chipName)
            #expect(chip.label == "klimavagt-sim0")
            chip.close()
            chip.close()
        }
    }

    @Test("edges arrive with kernel timestamps, in order, without polling")
    func edgesWithTimestamps() async throws {
        let chip = try GPIOChip(chipPath)
        defer { chip.close() }
        try drive(1, high: false)
        let monitor = try chip.monitor(line: "1", bias: .pullDown)
        defer { monitor.close() }
        let before = monotonicNow()
        try drive(1, high: true)
        try await Task.sleep(for: .milliseconds(50))
        try drive(1, high: false)
        let edges = try await nextEdges(monitor, count: 2)
        let after = monotonicNow()
        #expect(edges.map(\.kind) == [.rising, .falling])
        #expect(edges.count == 2)
        if edges.count == 2 {
            #expect(edges[0].timestampNanoseconds >= before && edges[1].timestampNanoseconds <= after)
            let width = edges[1].timestampNanoseconds - edges[0].timestampNanoseconds
            #expect(width >= 50_000_000, "the kernel timestamps are \(width) ns apart, less than the 50 ms slept")
        }
        let info = try chip.info()
        #expect(info.lines[1].used)
        #expect(info.lines[1].consumer == "klimavagt")
    }

    @Test("bias pulls the line up or down")
    func bias() throws {
        let chip = try GPIOChip(chipPath)
        defer { chip.close() }
        let up = try chip.monitor(line: "2", bias: .pullUp)
        #expect(try up.value() == 1)
        #expect(try simValue(2) == "1")
        #expect(try chip.info().lines[2].bias == .pullUp)
        up.close()
        up.close()
        let down = try chip.monitor(line: "2", bias: .pullDown)
        defer { down.close() }
        #expect(try down.value() == 0)
        #expect(try simValue(2) == "0")
    }

    @Test("active-low inverts values and edges")
    func activeLow() async throws {
        let chip = try GPIOChip(chipPath)
        defer { chip.close() }
        let monitor = try chip.monitor(line: "3", bias: .pullUp, activeLow: true)
        defer { monitor.close() }
        #expect(try monitor.value() == 0)
        #expect(try chip.info().lines[3].activeLow)
        try drive(3, high: false)
        let edges = try await nextEdges(monitor, count: 1)
        #expect(edges.map(\.kind) == [.rising])
        #expect(try monitor.value() == 1)
    }

    @Test("a busy line names its consumer; a missing line or chip lists what exists")
    func errors() throws {
        let chip = try GPIOChip(chipPath)
        defer { chip.close() }
        let holder = try chip.monitor(line: "4", consumer: "pumpestation")
        defer { holder.close() }
        #expect(throws: GPIOError.lineBusy(line: "4", chip: chipName, consumer: "pumpestation")) {
            try chip.monitor(line: "4")
        }
        let busy = (try? chip.monitor(line: "4")).map { _ in "" } ?? GPIOError.lineBusy(line: "4", chip: chipName, consumer: "pumpestation").description
        #expect(busy.contains("pumpestation"))
        #expect(throws: GPIOError.noSuchLine("99", chip: chipName, available: "lines 0 to 7")) {
            try chip.monitor(line: "99")
        }
        #expect(throws: GPIOError.self) { try chip.monitor(line: "GPIO17") }
        do {
            _ = try GPIOChip("no-such-chip")
            Issue.record("opening a missing chip succeeded")
        } catch {
            guard case .noSuchChip(let name, let available) = error else {
                Issue.record("expected noSuchChip, got \(error)")
                return
            }
            #expect(name == "no-such-chip")
            #expect(available.contains("\(chipName) [klimavagt-sim0]"))
            #expect(error.description.contains("klimavagt-sim0"))
        }
    }

    @Test("pulses driven through the kernel are counted by their width")
    func pulsesThroughKernel() async throws {
        let chip = try GPIOChip(chipPath)
        defer { chip.close() }
        try drive(5, high: false)
        let monitor = try chip.monitor(line: "5", bias: .pullDown)
        defer { monitor.close() }
        for _ in 0..<5 {
            try drive(5, high: true)
            try await Task.sleep(for: .milliseconds(40))
            try drive(5, high: false)
            try await Task.sleep(for: .milliseconds(40))
        }
        let edges = try await nextEdges(monitor, count: 10)
        var detector = PulseDetector(minimumWidth: .milliseconds(10), maximumWidth: .seconds(5))
        let accepted = edges.filter {
            if case .accepted = detector.edge(active: $0.kind == .rising, at: $0.timestampNanoseconds) { return true }
            return false
        }
        #expect(edges.count == 10)
        #expect(accepted.count == 5)
    }

    /// The edges of a profile's fixture trace in `Devices/`, as (microseconds, level).
    func fixtureEdges(_ relativePath: String) throws -> [(time: Int64, active: Bool)] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("Devices/\(relativePath)"), encoding: .utf8)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") && $0 != "time_us,level" }.map { line in
            let fields = line.split(separator: ",")
            return (Int64(fields[0])!, fields[1] == "1")
        }
    }

    /// Drives a trace's edges onto a line: gaps under 2 ms as fast as sysfs allows (contact bounce), longer ones
    /// slept, gaps over `longestGap` shortened to it (the time between tips does not change what counts).
    func replay(_ edges: [(time: Int64, active: Bool)], on line: Int, longestGap: Int64 = 200_000) async throws {
        var previous = edges.first?.time ?? 0
        for edge in edges {
            let gap = min(edge.time - previous, edge.active ? longestGap : Int64.max)
            if gap >= 2000 { try await Task.sleep(for: .microseconds(gap)) }
            try drive(line, high: edge.active)
            previous = edge.time
        }
    }

    @Test("a rain gauge's bouncing trace and an S0 meter's pulses, driven through the kernel, count exactly",
          arguments: [("rain-gauges/fixtures/rimco-0.2mm.csv", 15, 10_000, 1_000_000),
                      ("energy-meters/fixtures/kamstrup-s0-1000.csv", 40, 20_000, 120_000)])
    func fixtureTraceThroughKernel(trace: String, edgeCount: Int, minimumMicros: Int64, maximumMicros: Int64)
        async throws
    {
        let all = try fixtureEdges(trace)
        // The first pulses of the trace, ending on an inactive edge.
        var edges = Array(all.prefix(edgeCount * 4))
        while edges.last?.active == true { edges.removeLast() }
        var expected = PulseDetector(minimumWidth: .microseconds(minimumMicros), maximumWidth: .microseconds(maximumMicros))
        let expectedPulses = edges.filter {
            if case .accepted = expected.edge(active: $0.active, at: $0.time * 1000) { return true }
            return false
        }.count
        let chip = try GPIOChip(chipPath)
        defer { chip.close() }
        try drive(6, high: false)
        let monitor = try chip.monitor(line: "6", bias: .pullDown)
        defer { monitor.close() }
        try await replay(edges, on: 6)
        // Bounces faster than the kernel's edge handling can merge (as on real hardware); what is left must count the same.
        let seen = try await nextEdges(monitor, count: edges.count, seconds: 5)
        var detector = PulseDetector(minimumWidth: .microseconds(minimumMicros), maximumWidth: .microseconds(maximumMicros))
        let counted = seen.filter {
            if case .accepted = detector.edge(active: $0.kind == .rising, at: $0.timestampNanoseconds) { return true }
            return false
        }.count
        // Judged by what the kernel reported: a bounce written from user space under emulation can outlast the
        // minimum width, and the simulator can merge quick edges, so the intended count is only a bound on load.
        var oracle = 0
        var since: Int64?
        for edge in seen {
            if let start = since {
                let width = edge.timestampNanoseconds - start
                if width >= minimumMicros * 1000 && width <= maximumMicros * 1000 { oracle += 1 }
            }
            since = edge.kind == .rising ? edge.timestampNanoseconds : nil
        }
        #expect(seen.count <= edges.count && seen.count >= expectedPulses, "the kernel reported \(seen.count) of \(edges.count) edges")
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.timestampNanoseconds <= $1.timestampNanoseconds })
        #expect(counted == oracle, "\(counted) pulses counted, \(oracle) in the kernel's edges")
        #expect(counted > 0 && expectedPulses > 5)
    }

    @Test("a float switch's chatter through the kernel gives only the held states")
    func floatSwitchThroughKernel() async throws {
        let edges = try fixtureEdges("float-switches/fixtures/float-switch-no.csv")
        let chip = try GPIOChip(chipPath)
        defer { chip.close() }
        try drive(7, high: false)
        let monitor = try chip.monitor(line: "7", bias: .pullDown)
        defer { monitor.close() }
        var debouncer = LevelDebouncer(hold: .seconds(2))
        debouncer.level(try monitor.value() == 1, at: Timestamp(nanoseconds: monotonicNow()))
        // Long holds shortened to 3 s: still longer than the 2 s hold, and the chatter keeps its own timing.
        var previous = edges.first!.time
        for edge in edges.dropFirst() {
            try await Task.sleep(for: .microseconds(min(edge.time - previous, 3_000_000)))
            try drive(7, high: edge.active)
            previous = edge.time
        }
        try await Task.sleep(for: .seconds(3))
        let seen = try await nextEdges(monitor, count: edges.count - 1, seconds: 10)
        var states: [Int] = []
        for edge in seen {
            let time = Timestamp(nanoseconds: edge.timestampNanoseconds)
            if let deadline = debouncer.nextDeadline, deadline <= time, let change = debouncer.advance(to: deadline) {
                states.append(change.state ? 1 : 0)
            }
            debouncer.level(edge.kind == .rising, at: time)
        }
        if let deadline = debouncer.nextDeadline, let change = debouncer.advance(to: deadline) {
            states.append(change.state ? 1 : 0)
        }
        #expect(states == [0, 1, 0])
    }

    @Test("a monitor keeps its line, value and edges after the chip it came from is closed")
    func monitorOutlivesChip() async throws {
        let chip = try GPIOChip(chipPath)
        try drive(0, high: false)
        let monitor = try chip.monitor(line: "0", bias: .pullDown)
        defer { monitor.close() }
        chip.close()
        #expect(try monitor.value() == 0)
        try drive(0, high: true)
        let edges = try await nextEdges(monitor, count: 1, seconds: 10)
        #expect(edges.map(\.kind) == [.rising])
        #expect(try monitor.value() == 1)
        try drive(0, high: false)
    }
}
