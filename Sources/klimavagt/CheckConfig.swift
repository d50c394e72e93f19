import ArgumentParser
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
            for sensor in configuration.sensors {
                let device = sensor.device.map { " (\($0.id))" } ?? ""
                let input: String
                switch sensor.input {
                case .gpio(let gpio):
                    switch gpio.mode {
                    case .pulse(let minimum, let maximum):
                        input = "GPIO \(gpio.chip) line \(gpio.line), pulses \(minimum)...\(maximum)"
                    case .level(let hold):
                        input = "GPIO \(gpio.chip) line \(gpio.line), contact held \(hold)"
                    }
                case .mqtt(let mqtt):
                    let datum = mqtt.datum.map { ", level = \($0) cm - distance" } ?? ""
                    input = "MQTT \(mqtt.topic), value \(mqtt.path)\(datum), time \(mqtt.timePath.map { "\($0) (\(mqtt.timeFormat))" } ?? "on arrival")"
                case .simulated(let simulated): input = "simulated from \(simulated.file) at \(simulated.speed)x"
                case nil: input = "no input (replay only)"
                }
                print("sensor \(sensor.id)\(device): \(input)")
            }
            for rule in configuration.rules {
                let levels = rule.levels.ordered.map { "\($0.severity.rawValue) >\($0.threshold)" }.joined(separator: ", ")
                print("rule \(rule.id): \(rule.kind.rawValue) on \(rule.sensor), window \(rule.window.components.seconds)s, \(levels)")
            }
        }
    }
}
