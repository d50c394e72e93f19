import Foundation
import KlimavagtCore
import KlimavagtRuntime
import Testing

/// Each pulse and contact profile's edge traces in `Devices/*/fixtures/*.csv`, through the profile's own settings
/// and the same detector code the GPIO inputs run (the trace is the fake chip).
@Suite("Pulse and contact profile fixtures")
struct PulseFixtureTests {
    static let devices = repositoryRoot.appendingPathComponent("Devices").path

    struct Trace {
        var edges: [(time: Int64, active: Bool)]
        var expect: String
    }

    static func traces(in folder: String) -> [String] {
        let path = "\(devices)/\(folder)/fixtures"
        return ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
            .filter { $0.hasSuffix(".csv") }.sorted().map { "\(path)/\($0)" }
    }

    static func load(_ file: String) throws -> Trace {
        var edges: [(Int64, Bool)] = []
        var expect = ""
        for line in try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n") {
            if line.hasPrefix("# expect: ") { expect = String(line.dropFirst(10)) }
            guard !line.hasPrefix("#"), line != "time_us,level" else { continue }
            let fields = line.split(separator: ",")
            edges.append((Int64(fields[0])! * 1000, fields[1] == "1"))
        }
        return Trace(edges: edges, expect: expect)
    }

    static func profile(for file: String) throws -> DeviceProfile {
        let catalogue = try DeviceCatalogue(directory: devices)
        let name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        return try #require(catalogue.profiles[name], "no profile \(name) for fixture \(file)")
    }

    @Test("every pulse and contact profile has a trace", arguments: ["rain-gauges", "energy-meters", "float-switches"])
    func everyProfileHasATrace(folder: String) throws {
        let profiles = try FileManager.default.contentsOfDirectory(atPath: "\(Self.devices)/\(folder)")
            .filter { $0.hasSuffix(".yaml") }
        #expect(!profiles.isEmpty)
        for profile in profiles {
            let trace = "\(Self.devices)/\(folder)/fixtures/\(profile.dropLast(5)).csv"
            #expect(FileManager.default.fileExists(atPath: trace), "no trace for \(profile)")
        }
    }

    @Test("bounce, spikes and stuck contacts are rejected: exactly the expected pulses and amount",
          arguments: traces(in: "rain-gauges") + traces(in: "energy-meters"))
    func pulses(file: String) throws {
        let profile = try Self.profile(for: file)
        let pulse = try #require(profile.pulse)
        let trace = try Self.load(file)
        var detector = PulseDetector(minimumWidth: pulse.minimumWidth, maximumWidth: pulse.maximumWidth)
        var accepted: Int64 = 0
        for edge in trace.edges {
            if case .accepted = detector.edge(active: edge.active, at: edge.time) { accepted += 1 }
        }
        let spec = SensorSpec(id: "fixture", unit: profile.unit,
                              measure: .pulses(nanounitsPerPulse: Int64((pulse.perPulse * 1e9).rounded())))
        let amount = spec.amount(ofPulses: accepted)
        let shown = amount == amount.rounded() ? String(format: "%.1f", amount) : "\(amount)"
        #expect("\(accepted) pulses, \(shown) \(profile.unit)" == trace.expect)
    }

    @Test("float-switch chatter never changes the state; held states do, at their start",
          arguments: traces(in: "float-switches"))
    func contact(file: String) throws {
        let profile = try Self.profile(for: file)
        let contact = try #require(profile.contact)
        let trace = try Self.load(file)
        var debouncer = LevelDebouncer(hold: contact.hold)
        var changes: [String] = []
        func record(_ change: (state: Bool, since: Timestamp)?) {
            guard let change else { return }
            changes.append("\(change.state ? 1 : 0)@\(change.since.nanoseconds / 1000)")
        }
        for edge in trace.edges {
            let time = Timestamp(nanoseconds: edge.time)
            // What the input's timer does: confirm a pending state once its hold has passed before this edge.
            if let deadline = debouncer.nextDeadline, deadline <= time { record(debouncer.advance(to: deadline)) }
            debouncer.level(edge.active, at: time)
        }
        if let deadline = debouncer.nextDeadline { record(debouncer.advance(to: deadline)) }
        #expect(changes.joined(separator: " ") == trace.expect)
    }
}
