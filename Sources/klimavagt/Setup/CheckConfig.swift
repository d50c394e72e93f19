import ArgumentParser
import KlimavagtCore
import KlimavagtRuntime

extension Klimavagt {
    /// Checks a configuration without running anything.
    struct CheckConfig: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-config", abstract: "Check a configuration file and say what it sets up.")

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let configuration = try options.load()
            print("\(configuration.file): ok")
            print("site \(configuration.site), topics under \(configuration.prefix)/")
            print("broker \(configuration.mqtt.host):\(configuration.mqtt.port) (MQTT \(configuration.mqtt.protocolVersion.rawValue)\(configuration.mqtt.tls == nil ? "" : ", TLS"))")
            print("telemetry: each sensor's state at most every \(DurationText.format(configuration.telemetryInterval)), "
                + "up to \(configuration.telemetryQuota) messages held while the broker is away")
            for sensor in configuration.sensors {
                print("sensor \(sensor.id)\(sensor.device.map { " (\($0.id))" } ?? ""): \(Self.describe(sensor))")
            }
            let units = Dictionary(configuration.sensors.map { ($0.id, $0.spec.unit) }, uniquingKeysWith: { a, _ in a })
            for rule in configuration.rules {
                print("rule \(rule.id): \(Self.describe(rule, unit: units[rule.sensor] ?? ""))")
            }
        }

        static func number(_ value: Double) -> String {
            value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        }

        static func describe(_ sensor: Configuration.Sensor) -> String {
            var parts: [String] = []
            if case .pulses(let perPulse) = sensor.spec.measure {
                parts.append("\(number(Double(perPulse) / 1e9)) \(sensor.spec.unit) per pulse"
                    + (sensor.rate.map { ", rate in \($0.unit)" } ?? ""))
            } else {
                parts.append("readings in \(sensor.spec.unit)")
            }
            switch sensor.input {
            case .gpio(let gpio):
                switch gpio.mode {
                case .pulse(let minimum, let maximum):
                    parts.append("GPIO \(gpio.chip) line \(gpio.line), pulses \(DurationText.format(minimum)) to "
                        + DurationText.format(maximum))
                case .level(let hold):
                    parts.append("GPIO \(gpio.chip) line \(gpio.line), contact held \(DurationText.format(hold))")
                }
            case .mqtt(let mqtt):
                var text = sensor.isTemplate ? "one sensor per match of MQTT \(mqtt.topic)" : "MQTT \(mqtt.topic)"
                text += ", value \(mqtt.path)"
                if let datum = mqtt.datum { text += ", level = \(number(datum)) cm - distance" }
                if let path = mqtt.timePath {
                    text += ", time \(path) (\(mqtt.timeFormat)\(mqtt.timeFormat == "local" ? " \(mqtt.timeZone ?? "UTC")" : ""))"
                } else {
                    text += ", time of arrival"
                }
                parts.append(text)
            case .simulated(let simulated):
                parts.append("simulated from \(simulated.file) at \(number(simulated.speed))x")
            case nil:
                parts.append("no input (replay only)")
            }
            let limits = sensor.spec.plausible
            var plausible: [String] = []
            if let minimum = limits.minimum { plausible.append("min \(number(minimum))") }
            if let maximum = limits.maximum { plausible.append("max \(number(maximum))") }
            if let step = limits.maximumStep { plausible.append("max step \(number(step))") }
            if let flatline = limits.flatline { plausible.append("flat line \(DurationText.format(flatline))") }
            if !plausible.isEmpty { parts.append("plausible " + plausible.joined(separator: ", ")) }
            parts.append("stale " + (sensor.spec.staleAfter.map { "after \(DurationText.format($0))" } ?? "never"))
            return parts.joined(separator: "; ")
        }

        static func describe(_ rule: RuleSpec, unit: String) -> String {
            var text = "\(rule.kind.rawValue) on \(rule.sensor)"
            let kind = RuleKind.of(rule.kind)
            let ruleUnit = unit + kind.unitSuffix
            if kind.keys.contains(.window) { text += ", window \(DurationText.format(rule.window))" }
            let comparison = rule.below ? "<" : ">"
            let levels = rule.levels.ordered.map { "\($0.severity.rawValue) \(comparison) \(number($0.threshold)) \(ruleUnit)" }
            if !levels.isEmpty { text += ", " + levels.joined(separator: ", ") }
            if kind.keys.contains(.hysteresis) {
                text += ", hysteresis \(number(rule.hysteresis)), hold \(DurationText.format(rule.hold))"
            }
            if rule.pendingFor > .zero { text += ", for \(DurationText.format(rule.pendingFor))" }
            if let renotify = rule.renotify { text += ", renotify \(DurationText.format(renotify))" }
            return text
        }
    }
}
