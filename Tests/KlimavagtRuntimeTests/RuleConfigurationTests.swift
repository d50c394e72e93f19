import Foundation
@testable import KlimavagtRuntime
import KlimavagtCore
import Testing

/// Each rule kind's keys, sensor and defaults as `RuleKind.all` gives them, read in process through the loader: every
/// refusal names `FILE:LINE:COLUMN`, the key and why.
@Suite("Rule configuration")
struct RuleConfigurationTests {
    /// A rain gauge, a level that goes stale and one that never does; then one rule, `lines` (at the rule's indent)
    /// on lines 16 onwards.
    static func configuration(kind: String, sensor: String, _ lines: [String] = []) -> String {
        """
        site: test
        sensors:
          - id: rain-1
            device: rimco-0.2mm
          - id: level-1
            unit: cm
            stale_after: 15m
            input: {mqtt: {topic: site/level}}
          - id: level-2
            unit: cm
            stale_after: never
            input: {mqtt: {topic: site/level2}}
        rules:
          - id: r
            kind: \(kind)
            sensor: \(sensor)

        """ + lines.map { "    \($0)\n" }.joined()
    }

    /// Loads `text` from `agent.yaml` in a temporary folder that is removed afterwards.
    static func load(_ text: String) throws(ConfigurationError) -> Configuration {
        let folder = NSTemporaryDirectory() + "klimavagt-rules-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/agent.yaml"
        FileManager.default.createFile(atPath: file, contents: Data(text.utf8))
        return try ConfigurationLoader.load(file, devicesDirectory: repositoryRoot.appendingPathComponent("Devices").path)
    }

    /// The error's text after the file name: `LINE:COLUMN: key: message`.
    static func refusal(_ text: String) -> String? {
        do {
            _ = try load(text)
            return nil
        } catch {
            #expect(error.file.hasSuffix("/agent.yaml"))
            return "\(error.line):\(error.column): \(error.key): \(error.message)"
        }
    }

    @Test("every alert kind has one row, and its type makes a rule of it",
          arguments: AlertKind.allCases)
    func everyKindHasARow(kind: AlertKind) throws {
        #expect(RuleKind.all.filter { $0.kind == kind }.count == 1)
        let row = RuleKind.of(kind)
        let sensor: SensorSpec = switch row.needs {
        case .pulses: SensorSpec(id: "s", unit: "mm", measure: .pulses(nanounitsPerPulse: 200_000_000))
        case .levels, .staleness: SensorSpec(id: "s", unit: "cm", measure: .level, staleAfter: .seconds(60))
        }
        let rule = try row.type.init(spec: RuleSpec(id: "r", kind: kind, sensor: "s", window: row.defaultWindow,
                                                    levels: SeverityLevels([.warning: 1])), sensor: sensor)
        #expect(rule.spec.kind == kind)
        #expect(rule.lifecycle.state == .inactive)
    }

    @Test("a kind's defaults come from its row: DMI's skybrud and kraftig regn, an hour's rate of rise")
    func defaults() throws {
        let cloudburst = try Self.load(Self.configuration(kind: "cloudburst", sensor: "rain-1")).rules[0]
        #expect(cloudburst.window == .seconds(1800))
        #expect(cloudburst.levels == SeverityLevels([.warning: 15, .severe: 30, .extreme: 45]))
        let heavy = try Self.load(Self.configuration(kind: "heavy_rain", sensor: "rain-1")).rules[0]
        #expect(heavy.window == .seconds(6 * 3600))
        #expect(heavy.levels == SeverityLevels([.warning: 24]))
        let rise = try Self.load(Self.configuration(kind: "rate_of_rise", sensor: "level-1",
                                                    ["levels: {warning: 20}"])).rules[0]
        #expect(rise.window == .seconds(3600))
        let below = try Self.load(Self.configuration(kind: "threshold", sensor: "level-1",
                                                     ["levels: {warning: 5, severe: 2}", "direction: below"])).rules[0]
        #expect(below.below)
    }

    @Test("a key the kind does not take is refused where it is written, naming the kinds that take it",
          arguments: [
            ("stale", "level-1", ["for: 5m"],
             "17:10: rules[0].for: a stale rule has no for: only cloudburst, heavy_rain, storm_surge, threshold and rate_of_rise rules have one"),
            ("stale", "level-1", ["renotify: 1h"],
             "17:15: rules[0].renotify: a stale rule has no renotify: only cloudburst, heavy_rain, storm_surge, threshold and rate_of_rise rules have one"),
            ("stale", "level-1", ["levels: {warning: 1}"],
             "17:13: rules[0].levels: a stale rule has no levels: only cloudburst, heavy_rain, storm_surge, threshold and rate_of_rise rules have one"),
            ("storm_surge", "level-1", ["levels: {warning: 1}", "window: 1h"],
             "18:13: rules[0].window: a storm_surge rule has no window: only cloudburst, heavy_rain and rate_of_rise rules have one"),
            ("cloudburst", "rain-1", ["hold: 10m"],
             "17:11: rules[0].hold: a cloudburst rule has no hold: only storm_surge, threshold and rate_of_rise rules have one"),
            ("rate_of_rise", "level-1", ["levels: {warning: 1}", "direction: below"],
             "18:16: rules[0].direction: a rate_of_rise rule has no direction: only threshold rules have one"),
          ])
    func keyNotTaken(kind: String, sensor: String, lines: [String], expected: String) {
        #expect(Self.refusal(Self.configuration(kind: kind, sensor: sensor, lines)) == expected)
    }

    @Test("a rule on the wrong kind of sensor, without levels, or with too short a window is refused",
          arguments: [
            ("cloudburst", "level-1", [String](),
             "16:13: rules[0].sensor: a cloudburst rule needs a pulse-counting sensor (a rain gauge)"),
            ("threshold", "rain-1", ["levels: {warning: 1}"],
             "16:13: rules[0].sensor: a threshold rule needs a sensor that reports levels, not a pulse counter"),
            ("stale", "level-2", [],
             "16:13: rules[0].sensor: sensor 'level-2' never goes stale; give it stale_after"),
            ("storm_surge", "level-1", [],
             "14:5: rules[0]: a storm_surge rule needs levels, e.g. levels: {warning: 125, severe: 150}"),
            ("rate_of_rise", "level-1", ["levels: {warning: 1}", "window: 30s"],
             "18:13: rules[0].window: must be at least 1m"),
            ("heavy_rain", "rain-1", ["window: 500ms"], "17:13: rules[0].window: must be at least 1s"),
            ("tsunami", "rain-1", [],
             "15:11: rules[0].kind: unknown rule kind 'tsunami'; known: cloudburst, heavy_rain, storm_surge, rate_of_rise, threshold, stale"),
          ])
    func refused(kind: String, sensor: String, lines: [String], expected: String) {
        #expect(Self.refusal(Self.configuration(kind: kind, sensor: sensor, lines)) == expected)
    }
}
