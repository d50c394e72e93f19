import Foundation
import KlimavagtCore
import KlimavagtMQTT

/// Reads and checks a configuration file; every mistake becomes a `ConfigurationError` at its place in the file.
public enum ConfigurationLoader {
    public static func load(_ file: String, devicesDirectory: String? = nil) throws(ConfigurationError) -> Configuration {
        let root = try YAMLDocument.load(file)
        let map = try root.mapping(allowed: [
            "site", "prefix", "board", "mqtt", "telemetry", "store", "home_assistant", "metrics", "devices_dir", "sensors",
            "rules", "limits",
        ])
        let baseFolder = URL(fileURLWithPath: file).deletingLastPathComponent().path

        let siteReader = try map.required("site")
        let site = try siteReader.string()
        guard !site.isEmpty, site.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) else {
            throw siteReader.error("a site id uses lower-case letters, digits and '-' only, found '\(PayloadRejection.excerpt(site))'")
        }
        guard site.utf8.count <= maximumIDBytes else {
            throw siteReader.error("a site id has at most \(maximumIDBytes) characters, found \(site.utf8.count)")
        }
        let prefix = try map["prefix"].map { reader throws(ConfigurationError) in try topicPrefix(reader) }
            ?? "klimavagt/\(site)"

        var devicesFolder = devicesDirectory
        if let reader = map["devices_dir"] { devicesFolder = resolve(try reader.string(), against: baseFolder) }
        let catalogue: DeviceCatalogue? = try DeviceCatalogue.locate(configured: devicesFolder).map {
            (folder) throws(ConfigurationError) in try DeviceCatalogue(directory: folder)
        }

        let mqtt = try readMQTT(map["mqtt"], site: site, prefix: prefix, baseFolder: baseFolder)
        let board = try readBoard(map["board"], catalogue: catalogue)
        var sensors: [Configuration.Sensor] = []
        for reader in try map.required("sensors").sequence() {
            let sensor = try readSensor(reader, catalogue: catalogue, board: board, baseFolder: baseFolder)
            if sensors.contains(where: { $0.id == sensor.id }) {
                throw reader.error("sensor id '\(sensor.id)' is used twice")
            }
            sensors.append(sensor)
        }
        var rules: [RuleSpec] = []
        for reader in try map["rules"]?.sequence() ?? [] {
            try instantiateTemplate(for: reader, in: &sensors)
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
        var configuration = Configuration(
            file: file, site: site, prefix: prefix, mqtt: mqtt, devicesDirectory: catalogue?.directory,
            sensors: sensors, rules: rules)
        if let telemetryReader = map["telemetry"] {
            let telemetry = try telemetryReader.mapping(allowed: ["interval", "quota"])
            if let interval = telemetry["interval"] {
                configuration.telemetryInterval = try interval.duration()
                guard configuration.telemetryInterval >= .milliseconds(100) else {
                    throw interval.error("must be at least 100ms")
                }
            }
            if let quota = telemetry["quota"] { configuration.telemetryQuota = try quota.int(in: 10...1_000_000) }
        }
        if let homeAssistant = map["home_assistant"] {
            let settings = try homeAssistant.mapping(allowed: ["discovery", "prefix"])
            if let discovery = settings["discovery"] { configuration.homeAssistantDiscovery = try discovery.bool() }
            if let prefix = settings["prefix"] { configuration.homeAssistantPrefix = try topicPrefix(prefix) }
        }
        if let metricsReader = map["metrics"] {
            let metrics = try metricsReader.mapping(allowed: ["port"])
            configuration.metricsPort = try metrics.required("port").int(in: 1...65535)
        }
        if let storeReader = map["store"] {
            let store = try storeReader.mapping(allowed: ["raw_bytes", "flush_interval"])
            if let bytes = store["raw_bytes"] { configuration.storeRawBytes = try bytes.int(in: 4096...(64 << 20)) }
            if let interval = store["flush_interval"] {
                configuration.storeFlushInterval = try interval.duration()
                guard configuration.storeFlushInterval >= .milliseconds(100),
                      configuration.storeFlushInterval <= .seconds(3600)
                else { throw interval.error("must be between 100ms and 1h") }
            }
        }
        if let limitsReader = map["limits"] {
            let limits = try limitsReader.mapping(allowed: ["sensors", "sensors_per_template"])
            if let total = limits["sensors"] { configuration.maximumSensors = try total.int(in: 1...100_000) }
            if let each = limits["sensors_per_template"] {
                configuration.maximumSensorsPerTemplate = try each.int(in: 1...100_000)
            }
        }
        if configuration.sensors.count > configuration.maximumSensors {
            throw try map.required("sensors").error(
                "\(configuration.sensors.count) sensors are configured, more than limits.sensors (\(configuration.maximumSensors))")
        }
        // What creating the broker client refuses, refused here too, so check-config and a reload see it.
        do {
            try MQTTClient.check(configuration.mqtt)
        } catch {
            throw (map["mqtt"] ?? map["site"] ?? root).error("the MQTT client does not take these settings: \(error)")
        }
        return configuration
    }

    /// The longest sensor, rule or site id, in bytes: ids become topic levels and metric labels.
    static let maximumIDBytes = 64

    /// A topic prefix for what the agent publishes: no wildcards, no control characters, no `$` first (the broker's
    /// own topics), no empty level at either end, at most 512 bytes.
    static func topicPrefix(_ reader: YAMLReader) throws(ConfigurationError) -> String {
        let text = try reader.string()
        if let problem = topicProblem(text, filter: false) { throw reader.error("not a topic prefix: \(problem)") }
        guard !text.hasSuffix("/"), !text.hasPrefix("$") else {
            throw reader.error("a topic prefix neither starts with '$' nor ends with '/', found '\(PayloadRejection.excerpt(text))'")
        }
        return text
    }

    /// What makes `text` unusable as a topic (or, with `filter`, as a topic filter), if anything.
    static func topicProblem(_ text: String, filter: Bool) -> String? {
        if text.isEmpty { return "it is empty" }
        if text.utf8.count > 512 { return "it has \(text.utf8.count) bytes, more than 512" }
        if text.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) {
            return "it holds a control character"
        }
        if !filter, text.contains("+") || text.contains("#") { return "it holds a wildcard ('+' or '#')" }
        return nil
    }

    /// Adds the concrete sensor a rule names when a template sensor (`power-{1}`) stands for it.
    private static func instantiateTemplate(for rule: YAMLReader, in sensors: inout [Configuration.Sensor])
        throws(ConfigurationError)
    {
        guard case .mapping(let mapping) = rule.node,
              let name = mapping.first(where: { $0.key.string == "sensor" })?.value.string,
              !sensors.contains(where: { $0.id == name })
        else { return }
        for template in sensors where template.isTemplate {
            guard case .mqtt(var input) = template.input, let filter = TopicFilter(input.topic),
                  let levels = SensorTemplate(template.id)?.match(name), let topic = filter.filling(levels)
            else { continue }
            var sensor = template
            sensor.id = name
            sensor.spec.id = name
            input.topic = topic
            sensor.input = .mqtt(input)
            sensors.append(sensor)
            return
        }
    }

    static func resolve(_ path: String, against folder: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: folder).appendingPathComponent(path).standardized.path
    }

    /// Whether `text` is a sensor or rule id: letters, digits, `-` and `_`, at most `maximumIDBytes`.
    static func isIdentifier(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= maximumIDBytes
            && text.utf8.allSatisfy { $0 < 0x80 && (isAlphanumeric($0) || $0 == 0x2D || $0 == 0x5F) }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }

    private static func readMQTT(_ reader: YAMLReader?, site: String, prefix: String, baseFolder: String)
        throws(ConfigurationError) -> MQTTOptions
    {
        var options = MQTTOptions(
            clientID: "klimavagt-\(site)",
            will: .init(topic: ContractTopics(prefix: prefix).status, payload: Array("offline".utf8), qos: .atLeastOnce, retain: true))
        guard let reader else { return options }
        let map = try reader.mapping(allowed: [
            "host", "port", "client_id", "keepalive", "username", "password", "password_file", "protocol", "tls",
            "reconnect",
        ])
        if let host = map["host"] {
            options.host = try host.string()
            guard !options.host.isEmpty, options.host.utf8.count <= 253,
                  !options.host.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F })
            else { throw host.error("a host name or address of 1 to 253 characters without spaces") }
        }
        if let port = map["port"] { options.port = try port.int(in: 1...65535) }
        if let id = map["client_id"] {
            options.clientID = try id.string()
            guard !options.clientID.isEmpty, options.clientID.utf8.count <= 256,
                  topicProblem(options.clientID, filter: true) == nil
            else { throw id.error("a client id has 1 to 256 bytes and no control characters") }
        }
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
            var written = try fileReader.string()
            // systemd's LoadCredential= puts the secret in $CREDENTIALS_DIRECTORY.
            if written.contains("${CREDENTIALS_DIRECTORY}") {
                guard let credentials = ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"] else {
                    throw fileReader.error("CREDENTIALS_DIRECTORY is not set: start the agent with systemd's LoadCredential=, or name the file itself")
                }
                written = written.replacingOccurrences(of: "${CREDENTIALS_DIRECTORY}", with: credentials)
            }
            let path = resolve(written, against: baseFolder)
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

    private static func readSensor(_ reader: YAMLReader, catalogue: DeviceCatalogue?, board: BoardSelection,
                                   baseFolder: String) throws(ConfigurationError) -> Configuration.Sensor
    {
        let map = try reader.mapping(allowed: [
            "id", "device", "unit", "per_pulse", "imp_per_kwh", "field", "datum_cm", "plausible", "stale_after", "input",
            "home_assistant",
        ])
        let idReader = try map.required("id")
        let id = try idReader.string()
        guard isIdentifier(id.replacingOccurrences(of: "{", with: "").replacingOccurrences(of: "}", with: "")) else {
            throw idReader.error("a sensor id uses letters, digits, '-' and '_' only ({1} for a topic's wildcard level), at most \(maximumIDBytes) bytes")
        }
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
        var pulse = device?.pulse
        if let override = map["per_pulse"] {
            guard device?.kind == .rainGauge else { throw override.error("per_pulse overrides a rain gauge's profile") }
            pulse!.perPulse = try override.perPulse()
        }
        if let override = map["imp_per_kwh"] {
            guard device?.kind == .energyMeter else { throw override.error("imp_per_kwh overrides an energy meter's profile") }
            pulse!.perPulse = try override.perPulseFromPulsesPerUnit()
        }
        var field: DeviceProfile.Payload.Field?
        if let payload = device?.payload {
            field = payload.fields[payload.defaultField]
            if let fieldReader = map["field"] {
                let name = try fieldReader.string()
                guard let chosen = payload.fields[name] else {
                    throw fieldReader.error("profile \(device!.id) has no field '\(name)'; it has "
                        + payload.fields.keys.sorted().joined(separator: ", "))
                }
                field = chosen
            }
        } else if let fieldReader = map["field"] {
            throw fieldReader.error("only an MQTT device profile has fields")
        }
        var datum: Double?
        if let datumReader = map["datum_cm"] {
            guard field?.isDistance == true else {
                throw datumReader.error("datum_cm belongs to a distance sensor (such as milesight-em500-udl)")
            }
            datum = try datumReader.double()
        } else if field?.isDistance == true {
            throw reader.error("a distance sensor needs datum_cm: the height of its face in cm DVR90")
        }
        let unit: String
        if let unitReader = map["unit"] { unit = try unitReader.string() } else if let device {
            unit = field?.unit ?? device.unit
        } else {
            throw reader.error("a sensor without a device names its unit (e.g. unit: cm)")
        }
        let measure: SensorSpec.Measure
        if let pulse {
            measure = .pulses(nanounitsPerPulse: Int64((pulse.perPulse * 1e9).rounded()))
        } else {
            measure = .level
        }
        // A float switch reports only when it changes, so by default it never goes stale.
        var staleAfter: Duration?? = device?.kind == .floatSwitch ? .some(nil) : nil
        if let staleReader = map["stale_after"] {
            if case .scalar(let scalar) = staleReader.node, scalar.string == "never" {
                staleAfter = .some(nil)
            } else {
                let duration = try staleReader.duration()
                guard duration >= .seconds(1) else { throw staleReader.error("must be at least 1s, or never") }
                staleAfter = .some(duration)
            }
        }
        var plausible = field?.plausible ?? device?.plausible ?? Plausibility()
        if let plausibleReader = map["plausible"] {
            plausible = try DeviceCatalogue.readPlausible(plausibleReader)
        }
        var input: Configuration.Input?
        if let inputReader = map["input"] {
            input = try readInput(inputReader, device: device, field: field, datum: datum, board: board,
                                  baseFolder: baseFolder)
        }
        if id.contains("{") {
            guard case .mqtt(let mqtt) = input, let filter = TopicFilter(mqtt.topic), filter.isPattern else {
                throw idReader.error("{1}, {2}... in an id name a wildcard level of the sensor's MQTT topic")
            }
            let wildcards = filter.levels.filter { $0 == "+" || $0 == "#" }.count
            for number in 1...9 where id.contains("{\(number)}") && number > wildcards {
                throw idReader.error("the topic \(mqtt.topic) has \(wildcards) wildcard level(s); there is no {\(number)}")
            }
        }
        var spec = SensorSpec(id: id, unit: unit, measure: measure, staleAfter: staleAfter)
        spec.plausible = plausible
        var sensor = Configuration.Sensor(
            id: id, device: device, spec: spec,
            input: input, rate: pulse.map { .init(unit: $0.rateUnit, factor: $0.rateFactor, timeout: $0.rateTimeout) },
            isTotal: field?.isTotal ?? false)
        try readHomeAssistant(map["home_assistant"], into: &sensor, pulse: pulse, field: field, at: reader)
        return sensor
    }

    /// A sensor's Home Assistant classes: the unit's fallback, under the profile's declared hints, under the
    /// configuration's (`home_assistant: {device_class, ...}`; for a pulse sensor `{rate: {...}, total: {...}}`).
    private static func readHomeAssistant(_ overrides: YAMLReader?, into sensor: inout Configuration.Sensor,
                                          pulse: DeviceProfile.Pulse?, field: DeviceProfile.Payload.Field?,
                                          at reader: YAMLReader) throws(ConfigurationError)
    {
        let unit = sensor.spec.unit
        if let pulse {
            var rate: HomeAssistantHints?
            var total: HomeAssistantHints?
            if let overrides {
                let both = try overrides.mapping(allowed: ["rate", "total"])
                rate = try both["rate"].map { (r) throws(ConfigurationError) in
                    try HomeAssistantHints.read(r, unit: pulse.rateUnit, binary: false)
                }
                total = try both["total"].map { (r) throws(ConfigurationError) in
                    try HomeAssistantHints.read(r, unit: unit, binary: false)
                }
            }
            sensor.homeAssistant = HomeAssistantHints.fallback(unit: pulse.rateUnit, isTotal: false)
                .overridden(by: pulse.homeAssistantRate).overridden(by: rate)
            let finalTotal = HomeAssistantHints.fallback(unit: unit, isTotal: true)
                .overridden(by: pulse.homeAssistantTotal).overridden(by: total)
            sensor.homeAssistantTotal = finalTotal
            if let why = sensor.homeAssistant.refusal(unit: pulse.rateUnit, binary: false)
                ?? finalTotal.refusal(unit: unit, binary: false)
            {
                throw (overrides ?? reader).error("home_assistant: \(why)")
            }
            return
        }
        let binary = unit == "state"
        let configured = try overrides.map { (r) throws(ConfigurationError) in
            try HomeAssistantHints.read(r, unit: unit, binary: binary)
        }
        if binary {
            sensor.homeAssistant = HomeAssistantHints(deviceClass: "moisture")
                .overridden(by: sensor.device?.contact?.homeAssistant).overridden(by: configured)
        } else {
            // A profile's hints belong to the profile's unit; a sensor that changed the unit keeps only the precision.
            var declared = field?.homeAssistant
            if let field, field.unit != unit { declared = declared.map { HomeAssistantHints(precision: $0.precision) } }
            sensor.homeAssistant = HomeAssistantHints.fallback(unit: unit, isTotal: sensor.isTotal)
                .overridden(by: declared).overridden(by: configured)
        }
        if let why = sensor.homeAssistant.refusal(unit: unit, binary: binary) {
            throw (overrides ?? reader).error("home_assistant: \(why)")
        }
    }

    private static func readInput(_ reader: YAMLReader, device: DeviceProfile?, field: DeviceProfile.Payload.Field?,
                                  datum: Double?, board: BoardSelection, baseFolder: String)
        throws(ConfigurationError) -> Configuration.Input
    {
        let map = try reader.mapping(allowed: ["gpio", "mqtt", "simulated"])
        guard map.order.count == 1 else {
            throw reader.error("an input is exactly one of gpio, mqtt or simulated")
        }
        if let gpioReader = map["gpio"] {
            return .gpio(try readGPIO(gpioReader, device: device, board: board))
        }
        if let mqttReader = map["mqtt"] {
            return .mqtt(try readMQTTInput(mqttReader, device: device, field: field, datum: datum))
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

    private static func readGPIO(_ reader: YAMLReader, device: DeviceProfile?, board: BoardSelection)
        throws(ConfigurationError) -> Configuration.GPIOInput
    {
        guard let device, device.pulse != nil || device.contact != nil else {
            throw reader.error("a GPIO input needs a pulse or contact device profile (device: ...)")
        }
        let gpio = try reader.mapping(allowed: ["chip", "line", "pin", "bias", "active_low", "hold"])
        var chip = try gpio["chip"]?.string() ?? "gpiochip0"
        let line: String
        if let pinReader = gpio["pin"] {
            guard gpio["line"] == nil, gpio["chip"] == nil else {
                throw pinReader.error("give either pin (with board) or chip and line, not both")
            }
            let pin = try pinReader.string()
            let profile: BoardProfile
            switch board {
            case .profile(let chosen): profile = chosen
            case .unknown(let why): throw pinReader.error("pin: needs a board; \(why)")
            }
            guard let number = profile.line(forPin: pin) else {
                throw pinReader.error("\(profile.name) has no pin '\(pin)'; use GPIO0-GPIO\(profile.highestGPIO) or a "
                    + "header pin number (\(profile.header.keys.sorted().map(String.init).joined(separator: ", ")))")
            }
            chip = profile.chipLabel
            line = String(number)
        } else {
            let lineReader = try gpio.required("line")
            if let number = lineReader.node.int, case .scalar = lineReader.node {
                guard number >= 0 else { throw lineReader.error("a line offset is 0 or more") }
                line = String(number)
            } else {
                line = try lineReader.string()
            }
        }
        var bias = device.contact?.bias
        if let biasReader = gpio["bias"] { bias = try DeviceCatalogue.readBias(biasReader) }
        let mode: Configuration.GPIOInput.Mode
        if let pulse = device.pulse {
            if let hold = gpio["hold"] { throw hold.error("hold belongs to a contact (float switch) input") }
            mode = .pulse(minimum: pulse.minimumWidth, maximum: pulse.maximumWidth)
        } else {
            var hold = device.contact!.hold
            if let holdReader = gpio["hold"] { hold = try holdReader.duration() }
            mode = .level(hold: hold)
        }
        return Configuration.GPIOInput(
            chip: chip, line: line, bias: bias,
            activeLow: try gpio["active_low"]?.bool() ?? device.contact?.activeLow ?? false, mode: mode)
    }

    private static func readMQTTInput(_ reader: YAMLReader, device: DeviceProfile?, field: DeviceProfile.Payload.Field?,
                                      datum: Double?) throws(ConfigurationError) -> Configuration.MQTTInput
    {
        if let device, device.payload == nil {
            throw reader.error("an MQTT input needs an MQTT device profile; \(device.id) is a \(device.kind.rawValue)")
        }
        let map = try reader.mapping(allowed: [
            "topic", "path", "scale", "offset", "time_path", "time_format", "time_zone", "max_bytes", "max_clock_skew",
        ])
        let payload = device?.payload
        var topic = payload?.topic
        if let topicReader = map["topic"] { topic = try topicReader.string() }
        guard let topic else { throw reader.error("missing required key 'topic' (the profile names none)") }
        if let problem = topicProblem(topic, filter: true) {
            throw (map["topic"] ?? reader).error("not an MQTT topic filter: \(problem)")
        }
        guard TopicFilter(topic) != nil else {
            throw (map["topic"] ?? reader).error("not an MQTT topic filter: '\(topic)' ('#' only last, '+' alone in its level)")
        }
        var path = field?.path ?? "value"
        if let pathReader = map["path"] {
            path = try pathReader.string()
            guard JSONPath(path) != nil else { throw pathReader.error("not a JSON path: '\(path)'") }
        }
        var timeFormat = payload?.time?.format ?? "arrival"
        var timePath = payload?.time?.path
        var zone = payload?.time?.zone
        if let formatReader = map["time_format"] { timeFormat = try DeviceCatalogue.readTimeFormat(formatReader) }
        if let pathReader = map["time_path"] {
            timePath = try pathReader.string()
            guard JSONPath(timePath!) != nil else { throw pathReader.error("not a JSON path: '\(timePath!)'") }
        }
        if timeFormat != "arrival", timePath == nil {
            throw reader.error("time_format \(timeFormat) needs time_path")
        }
        if let zoneReader = map["time_zone"] {
            zone = try zoneReader.string()
            guard TimeZone(identifier: zone!) != nil else { throw zoneReader.error("unknown time zone '\(zone!)'") }
        }
        var maximumBytes = 64 * 1024
        if let limit = map["max_bytes"] { maximumBytes = try limit.int(in: 16...(16 * 1024 * 1024)) }
        var skew: Duration? = .seconds(24 * 3600)
        if let skewReader = map["max_clock_skew"] {
            if case .scalar(let scalar) = skewReader.node, scalar.string == "never" {
                skew = nil
            } else {
                skew = try skewReader.duration()
            }
        }
        return Configuration.MQTTInput(
            topic: topic, path: path, scale: try map["scale"]?.double() ?? field?.scale ?? 1,
            offset: try map["offset"]?.double() ?? field?.offset ?? 0, datum: datum, timeFormat: timeFormat,
            timePath: timeFormat == "arrival" ? nil : timePath, timeZone: zone, maximumBytes: maximumBytes,
            maximumClockSkew: skew)
    }

    /// The board whose header `pin:` refers to.
    enum BoardSelection {
        case profile(BoardProfile)
        case unknown(String)
    }

    private static func readBoard(_ reader: YAMLReader?, catalogue: DeviceCatalogue?) throws(ConfigurationError)
        -> BoardSelection
    {
        let boards = catalogue?.boards ?? [:]
        let name = try reader?.string() ?? "auto"
        if name != "auto" {
            guard let board = boards[name] else {
                throw reader!.error("unknown board '\(name)'; known: \(boards.keys.sorted().joined(separator: ", ")), auto")
            }
            return .profile(board)
        }
        // /sys/firmware/devicetree first: under the unit's ProcSubset=pid, /proc/device-tree is hidden.
        guard let model = ["/sys/firmware/devicetree/base/model", "/proc/device-tree/model"].lazy
            .compactMap({ try? String(contentsOfFile: $0, encoding: .utf8) }).first
        else {
            return .unknown("this machine has no device-tree model (/sys/firmware/devicetree/base/model); set board: (e.g. raspberry-pi-4)")
        }
        let trimmed = model.trimmingCharacters(in: CharacterSet(charactersIn: "\0\n "))
        guard let board = boards.values.sorted(by: { $0.model.count > $1.model.count })
            .first(where: { trimmed.hasPrefix($0.model) })
        else {
            return .unknown("no board profile matches '\(trimmed)'; set board:")
        }
        return .profile(board)
    }

    private static func readRule(_ reader: YAMLReader, sensors: [Configuration.Sensor])
        throws(ConfigurationError) -> RuleSpec
    {
        let map = try reader.mapping(allowed: ["id", "kind", "sensor"] + RuleKind.Key.allCases.map(\.rawValue))
        let idReader = try map.required("id")
        let id = try idReader.string()
        guard isIdentifier(id) else {
            throw idReader.error("a rule id uses letters, digits, '-' and '_' only, at most \(maximumIDBytes) bytes")
        }
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
        let rule = RuleKind.of(kind)
        let isPulseSensor: Bool
        if case .pulses = sensor.spec.measure { isPulseSensor = true } else { isPulseSensor = false }
        switch rule.needs {
        case .pulses:
            guard isPulseSensor else {
                throw sensorReader.error("a \(kindText) rule needs a pulse-counting sensor (a rain gauge)")
            }
        case .levels:
            guard !isPulseSensor else {
                throw sensorReader.error("a \(kindText) rule needs a sensor that reports levels, not a pulse counter")
            }
        case .staleness:
            guard sensor.spec.staleAfter != nil else {
                throw sensorReader.error("sensor '\(sensorID)' never goes stale; give it stale_after")
            }
        }
        // The keys this kind does not take, each refused where it is written.
        for key in RuleKind.Key.allCases where !rule.keys.contains(key) {
            guard let found = map[key.rawValue] else { continue }
            throw found.error("a \(kindText) rule has no \(key.rawValue): only \(RuleKind.names(taking: key)) rules have one")
        }
        if rule.requiresLevels, map["levels"] == nil {
            throw reader.error("a \(kindText) rule needs levels, e.g. levels: {warning: 125, severe: 150}")
        }
        var spec = RuleSpec(id: id, kind: kind, sensor: sensorID, window: rule.defaultWindow, levels: rule.defaultLevels)
        if let window = map["window"] {
            spec.window = try window.duration()
            guard spec.window >= rule.shortestWindow else {
                throw window.error("must be at least \(DurationText.format(rule.shortestWindow))")
            }
        }
        if let hysteresis = map["hysteresis"] {
            spec.hysteresis = try hysteresis.double()
            guard spec.hysteresis >= 0 else { throw hysteresis.error("must be 0 or more") }
        }
        if let hold = map["hold"] { spec.hold = try hold.duration() }
        if let direction = map["direction"] {
            let text = try direction.string()
            guard text == "above" || text == "below" else {
                throw direction.error("expected above or below, found '\(text)'")
            }
            spec.below = text == "below"
        }
        if let pending = map["for"] {
            spec.pendingFor = try pending.duration()
        }
        if let renotify = map["renotify"] {
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
