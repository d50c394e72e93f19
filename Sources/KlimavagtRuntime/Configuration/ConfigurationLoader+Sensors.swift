import Foundation
import KlimavagtCore
import KlimavagtMQTT

/// The `sensors:` section and what a sensor takes from elsewhere: its device profile, its input (GPIO, MQTT,
/// simulated), its Home Assistant hints, and the board whose header its GPIO pins name.
extension ConfigurationLoader {
    static func readSensor(_ reader: YAMLReader, catalogue: DeviceCatalogue?, board: BoardSelection,
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
    static func readHomeAssistant(_ overrides: YAMLReader?, into sensor: inout Configuration.Sensor,
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

    static func readInput(_ reader: YAMLReader, device: DeviceProfile?, field: DeviceProfile.Payload.Field?,
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

    static func readGPIO(_ reader: YAMLReader, device: DeviceProfile?, board: BoardSelection)
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

    static func readMQTTInput(_ reader: YAMLReader, device: DeviceProfile?, field: DeviceProfile.Payload.Field?,
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

    static func readBoard(_ reader: YAMLReader?, catalogue: DeviceCatalogue?) throws(ConfigurationError)
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
}
