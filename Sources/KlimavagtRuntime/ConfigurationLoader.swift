import Foundation
import KlimavagtCore
import KlimavagtMQTT

/// Reads and checks a configuration file; every mistake becomes a `ConfigurationError` at its place in the file.
public enum ConfigurationLoader {
    public static func load(_ file: String, devicesDirectory: String? = nil) throws(ConfigurationError) -> Configuration {
        let root = try YAMLDocument.load(file)
        let map = try root.mapping(allowed: ["site", "prefix", "mqtt", "devices_dir", "sensors", "rules"])
        let baseFolder = URL(fileURLWithPath: file).deletingLastPathComponent().path

        let siteReader = try map.required("site")
        let site = try siteReader.string()
        guard !site.isEmpty, site.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) else {
            throw siteReader.error("a site id uses lower-case letters, digits and '-' only, found '\(site)'")
        }
        let prefix = try map["prefix"]?.string() ?? "klimavagt/\(site)"

        var devicesFolder = devicesDirectory
        if let reader = map["devices_dir"] { devicesFolder = resolve(try reader.string(), against: baseFolder) }
        let catalogue: DeviceCatalogue? = try DeviceCatalogue.locate(configured: devicesFolder).map {
            (folder) throws(ConfigurationError) in try DeviceCatalogue(directory: folder)
        }

        let mqtt = try readMQTT(map["mqtt"], site: site, prefix: prefix, baseFolder: baseFolder)
        var sensors: [Configuration.Sensor] = []
        for reader in try map.required("sensors").sequence() {
            let sensor = try readSensor(reader, catalogue: catalogue, baseFolder: baseFolder)
            if sensors.contains(where: { $0.id == sensor.id }) {
                throw reader.error("sensor id '\(sensor.id)' is used twice")
            }
            sensors.append(sensor)
        }
        var rules: [RuleSpec] = []
        for reader in try map["rules"]?.sequence() ?? [] {
            let rule = try readRule(reader, sensors: sensors)
            if rules.contains(where: { $0.id == rule.id }) {
                throw reader.error("rule id '\(rule.id)' is used twice")
            }
            rules.append(rule)
        }
        let speeds = Set(sensors.compactMap { sensor -> Double? in
            if case .simulated(let input) = sensor.input { return input.speed }
            return nil
        })
        if speeds.count > 1 {
            throw try map.required("sensors").error("all simulated inputs must share one speed; found \(speeds.sorted())")
        }
        return Configuration(
            file: file, site: site, prefix: prefix, mqtt: mqtt, devicesDirectory: catalogue?.directory,
            sensors: sensors, rules: rules)
    }

    static func resolve(_ path: String, against folder: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: folder).appendingPathComponent(path).standardized.path
    }

    static func isIdentifier(_ text: String) -> Bool {
        !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    private static func readMQTT(_ reader: YAMLReader?, site: String, prefix: String, baseFolder: String)
        throws(ConfigurationError) -> MQTTOptions
    {
        var options = MQTTOptions(
            clientID: "klimavagt-\(site)",
            will: .init(topic: "\(prefix)/status", payload: Array("offline".utf8), qos: .atLeastOnce, retain: true))
        guard let reader else { return options }
        let map = try reader.mapping(allowed: [
            "host", "port", "client_id", "keepalive", "username", "password", "password_file", "protocol", "tls",
            "reconnect",
        ])
        if let host = map["host"] { options.host = try host.string() }
        if let port = map["port"] { options.port = try port.int(in: 1...65535) }
        if let id = map["client_id"] { options.clientID = try id.string() }
        if let keepalive = map["keepalive"] {
            options.keepalive = try keepalive.duration()
            guard options.keepalive >= .seconds(5), options.keepalive <= .seconds(65535) else {
                throw keepalive.error("must be between 5s and 65535s")
            }
        }
        if let username = map["username"] { options.username = try username.string() }
        if let password = map["password"], let file = map["password_file"] {
            _ = password
            throw file.error("give either password or password_file, not both")
        }
        if let password = map["password"] { options.password = try password.string() }
        if let fileReader = map["password_file"] {
            let path = resolve(try fileReader.string(), against: baseFolder)
            guard let secret = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw fileReader.error("cannot read the password file \(path)")
            }
            options.password = secret.trimmingCharacters(in: .newlines)
        }
        if let version = map["protocol"] {
            let text = try version.string()
            guard let parsed = MQTTOptions.ProtocolVersion(rawValue: text) else {
                throw version.error("expected \"3.1.1\" or \"5\", found '\(text)'")
            }
            options.protocolVersion = parsed
        }
        if let tlsReader = map["tls"] {
            let tls = try tlsReader.mapping(allowed: ["ca_file", "cert_file", "key_file", "verify"])
            var settings = MQTTOptions.TLS()
            if let ca = tls["ca_file"] { settings.caFile = resolve(try ca.string(), against: baseFolder) }
            if let cert = tls["cert_file"] { settings.certificateFile = resolve(try cert.string(), against: baseFolder) }
            if let key = tls["key_file"] { settings.keyFile = resolve(try key.string(), against: baseFolder) }
            if let verify = tls["verify"] { settings.verifyServer = try verify.bool() }
            if (settings.certificateFile == nil) != (settings.keyFile == nil) {
                throw tlsReader.error("cert_file and key_file go together")
            }
            options.tls = settings
        }
        if let reconnectReader = map["reconnect"] {
            let reconnect = try reconnectReader.mapping(allowed: ["initial", "max"])
            if let initial = reconnect["initial"] { options.reconnectInitial = try initial.duration() }
            if let maximum = reconnect["max"] { options.reconnectMaximum = try maximum.duration() }
            guard options.reconnectInitial > .zero, options.reconnectInitial <= options.reconnectMaximum else {
                throw reconnectReader.error("initial must be above zero and no longer than max")
            }
        }
        return options
    }

    private static func readSensor(_ reader: YAMLReader, catalogue: DeviceCatalogue?, baseFolder: String)
        throws(ConfigurationError) -> Configuration.Sensor
    {
        let map = try reader.mapping(allowed: ["id", "device", "unit", "per_pulse", "stale_after", "input"])
        let idReader = try map.required("id")
        let id = try idReader.string()
        guard isIdentifier(id) else { throw idReader.error("a sensor id uses letters, digits, '-' and '_' only") }
        var device: DeviceProfile?
        if let deviceReader = map["device"] {
            let name = try deviceReader.string()
            guard let catalogue else {
                throw deviceReader.error("no Devices/ folder found; set devices_dir or KLIMAVAGT_DEVICES")
            }
            guard let profile = catalogue.profiles[name] else {
                let known = catalogue.profiles.keys.sorted().joined(separator: ", ")
                throw deviceReader.error("unknown device profile '\(name)' in \(catalogue.directory); known: \(known)")
            }
            device = profile
        }
        var perPulse = device?.perPulse
        if let override = map["per_pulse"] {
            guard device != nil else { throw override.error("per_pulse overrides a pulse device's profile; name a device") }
            perPulse = try override.double()
            guard perPulse! > 0 else { throw override.error("must be above zero") }
        }
        let unit: String
        if let unitReader = map["unit"] { unit = try unitReader.string() } else if let device {
            unit = device.unit
        } else {
            throw reader.error("a sensor without a device names its unit (e.g. unit: cm)")
        }
        let measure: SensorSpec.Measure
        if let perPulse {
            measure = .pulses(nanounitsPerPulse: Int64((perPulse * 1e9).rounded()))
        } else {
            measure = .level
        }
        var staleAfter: Duration?? = nil
        if let staleReader = map["stale_after"] {
            if case .scalar(let scalar) = staleReader.node, scalar.string == "never" {
                staleAfter = .some(nil)
            } else {
                let duration = try staleReader.duration()
                guard duration >= .seconds(1) else { throw staleReader.error("must be at least 1s, or never") }
                staleAfter = .some(duration)
            }
        }
        var input: Configuration.Input?
        if let inputReader = map["input"] {
            input = try readInput(inputReader, device: device, baseFolder: baseFolder)
        }
        return Configuration.Sensor(
            id: id, device: device, spec: SensorSpec(id: id, unit: unit, measure: measure, staleAfter: staleAfter),
            input: input)
    }

    private static func readInput(_ reader: YAMLReader, device: DeviceProfile?, baseFolder: String)
        throws(ConfigurationError) -> Configuration.Input
    {
        let map = try reader.mapping(allowed: ["gpio", "simulated"])
        guard map.order.count == 1 else {
            throw reader.error("an input is exactly one of gpio or simulated")
        }
        if let gpioReader = map["gpio"] {
            guard let device else { throw gpioReader.error("a GPIO input needs a pulse device profile (device: ...)") }
            let gpio = try gpioReader.mapping(allowed: ["chip", "line", "bias", "active_low"])
            let lineReader = try gpio.required("line")
            let line: String
            if let number = lineReader.node.int, case .scalar = lineReader.node {
                guard number >= 0 else { throw lineReader.error("a line offset is 0 or more") }
                line = String(number)
            } else {
                line = try lineReader.string()
            }
            var bias: String?
            if let biasReader = gpio["bias"] {
                let text = try biasReader.string()
                guard ["pull_up", "pull_down", "disabled"].contains(text) else {
                    throw biasReader.error("expected pull_up, pull_down or disabled, found '\(text)'")
                }
                bias = text
            }
            return .gpio(Configuration.GPIOInput(
                chip: try gpio["chip"]?.string() ?? "gpiochip0", line: line, bias: bias,
                activeLow: try gpio["active_low"]?.bool() ?? false, minimumPulse: device.minimumPulse,
                maximumPulse: device.maximumPulse))
        }
        let simulatedReader = try map.required("simulated")
        let simulated = try simulatedReader.mapping(allowed: ["file", "speed"])
        let file = resolve(try simulated.required("file").string(), against: baseFolder)
        guard FileManager.default.isReadableFile(atPath: file) else {
            throw try simulated.required("file").error("cannot read the trace file \(file)")
        }
        var speed = 1.0
        if let speedReader = simulated["speed"] {
            speed = try speedReader.double()
            guard speed > 0, speed <= 1_000_000 else { throw speedReader.error("must be above 0 and at most 1000000") }
        }
        return .simulated(Configuration.SimulatedInput(file: file, speed: speed))
    }

    private static func readRule(_ reader: YAMLReader, sensors: [Configuration.Sensor])
        throws(ConfigurationError) -> RuleSpec
    {
        let map = try reader.mapping(allowed: [
            "id", "kind", "sensor", "window", "levels", "hysteresis", "hold", "direction", "for", "renotify",
        ])
        let idReader = try map.required("id")
        let id = try idReader.string()
        guard isIdentifier(id) else { throw idReader.error("a rule id uses letters, digits, '-' and '_' only") }
        let kindReader = try map.required("kind")
        let kindText = try kindReader.string()
        guard let kind = AlertKind(rawValue: kindText) else {
            let known = AlertKind.allCases.map(\.rawValue).joined(separator: ", ")
            throw kindReader.error("unknown rule kind '\(kindText)'; known: \(known)")
        }
        let sensorReader = try map.required("sensor")
        let sensorID = try sensorReader.string()
        guard let sensor = sensors.first(where: { $0.id == sensorID }) else {
            throw sensorReader.error("no sensor '\(sensorID)' is configured")
        }
        var spec: RuleSpec
        let isPulseSensor: Bool
        if case .pulses = sensor.spec.measure { isPulseSensor = true } else { isPulseSensor = false }
        switch kind {
        case .cloudburst, .heavyRain:
            spec = kind == .cloudburst ? .cloudburst(id: id, sensor: sensorID) : .heavyRain(id: id, sensor: sensorID)
            guard isPulseSensor else {
                throw sensorReader.error("a \(kindText) rule needs a pulse-counting sensor (a rain gauge)")
            }
            if let window = map["window"] {
                spec.window = try window.duration()
                guard spec.window >= .seconds(1) else { throw window.error("must be at least 1s") }
            }
        case .stormSurge, .threshold, .rateOfRise:
            guard !isPulseSensor else {
                throw sensorReader.error("a \(kindText) rule needs a sensor that reports levels, not a pulse counter")
            }
            guard map["levels"] != nil else {
                throw reader.error("a \(kindText) rule needs levels, e.g. levels: {warning: 125, severe: 150}")
            }
            spec = RuleSpec(id: id, kind: kind, sensor: sensorID, levels: SeverityLevels([:]))
            if kind == .rateOfRise {
                spec.window = .seconds(3600)
                if let window = map["window"] {
                    spec.window = try window.duration()
                    guard spec.window >= .seconds(60) else { throw window.error("must be at least 1m") }
                }
            }
            if let hysteresis = map["hysteresis"] {
                spec.hysteresis = try hysteresis.double()
                guard spec.hysteresis >= 0 else { throw hysteresis.error("must be 0 or more") }
            }
            if let hold = map["hold"] { spec.hold = try hold.duration() }
            if let direction = map["direction"] {
                let text = try direction.string()
                guard kind == .threshold else { throw direction.error("only a threshold rule has a direction") }
                guard text == "above" || text == "below" else {
                    throw direction.error("expected above or below, found '\(text)'")
                }
                spec.below = text == "below"
            }
        case .stale:
            guard sensor.spec.staleAfter != nil else {
                throw sensorReader.error("sensor '\(sensorID)' never goes stale; give it stale_after")
            }
            spec = RuleSpec(id: id, kind: .stale, sensor: sensorID, levels: SeverityLevels([:]))
        }
        if let window = map["window"], kind != .cloudburst, kind != .heavyRain, kind != .rateOfRise {
            throw window.error("only cloudburst, heavy_rain and rate_of_rise rules have a window")
        }
        for key in ["hysteresis", "hold"] where map[key] != nil && [.stormSurge, .threshold, .rateOfRise].contains(kind) == false {
            throw try map.required(key).error("only storm_surge, threshold and rate_of_rise rules have \(key)")
        }
        if kind == .stale, let levels = map["levels"] { throw levels.error("a stale rule has no levels") }
        if let pending = map["for"] {
            guard kind != .stale else { throw pending.error("a stale rule fires when the sensor goes stale; it has no for") }
            spec.pendingFor = try pending.duration()
        }
        if let renotify = map["renotify"] {
            guard kind != .stale else { throw renotify.error("a stale rule does not re-notify") }
            spec.renotify = try renotify.duration()
            guard spec.renotify! >= .seconds(1) else { throw renotify.error("must be at least 1s") }
        }
        if let levelsReader = map["levels"] {
            let levels = try levelsReader.mapping(allowed: Severity.allCases.map(\.rawValue))
            var thresholds: [Severity: Double] = [:]
            for severity in Severity.allCases {
                if let value = levels[severity.rawValue] { thresholds[severity] = try value.double() }
            }
            let ordered = Severity.allCases.compactMap { thresholds[$0] }
            guard !ordered.isEmpty else { throw levelsReader.error("name at least one of warning, severe, extreme") }
            let rising = spec.below ? zip(ordered, ordered.dropFirst()).allSatisfy({ $0 > $1 })
                : zip(ordered, ordered.dropFirst()).allSatisfy({ $0 < $1 })
            guard rising else {
                throw levelsReader.error(spec.below
                    ? "for direction: below, thresholds must fall from warning to severe to extreme"
                    : "thresholds must rise from warning to severe to extreme")
            }
            spec.levels = SeverityLevels(thresholds)
        }
        return spec
    }
}
