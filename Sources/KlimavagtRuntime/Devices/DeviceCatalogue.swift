import Foundation
import KlimavagtCore

/// The device and board profiles found in a `Devices/` folder, by id.
public struct DeviceCatalogue: Sendable {
    public let directory: String
    public let profiles: [String: DeviceProfile]
    public let boards: [String: BoardProfile]

    /// Loads every `*.yaml` profile below `directory`, except the `demo/` folder of example sites.
    public init(directory: String) throws(ConfigurationError) {
        self.directory = directory
        var profiles: [String: DeviceProfile] = [:]
        var boards: [String: BoardProfile] = [:]
        let root = URL(fileURLWithPath: directory)
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else {
            throw ConfigurationError(file: directory, line: 1, column: 1, key: "devices_dir",
                                     message: "cannot read the device profile folder")
        }
        var files: [String] = []
        for case let url as URL in walker {
            let relative = url.path.dropFirst(root.path.count)
            if relative.hasPrefix("/demo/") || relative.contains("/fixtures/") { continue }
            if url.pathExtension == "yaml" { files.append(url.path) }
        }
        for file in files.sorted() {
            switch try Self.loadFile(file) {
            case .device(let profile): profiles[profile.id] = profile
            case .board(let board): boards[board.id] = board
            }
        }
        self.profiles = profiles
        self.boards = boards
    }

    /// The folder of device profiles: the given one, `$KLIMAVAGT_DEVICES`, the installed one, or `Devices/` above the
    /// running executable (a source checkout).
    public static func locate(configured: String?) -> String? {
        if let configured { return configured }
        if let fromEnvironment = ProcessInfo.processInfo.environment["KLIMAVAGT_DEVICES"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        let installed = "/usr/share/klimavagt/devices"
        if FileManager.default.fileExists(atPath: installed) { return installed }
        var folder = URL(fileURLWithPath: CommandLine.executablePath).deletingLastPathComponent()
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent("Devices")
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), isDirectory.boolValue {
                return candidate.path
            }
            folder.deleteLastPathComponent()
        }
        return nil
    }

    /// Reads one profile file: a device (`profile:`) or a board (`board:`).
    static func loadFile(_ file: String) throws(ConfigurationError) -> Entry {
        let root = try YAMLDocument.load(file)
        if case .mapping(let mapping) = root.node, mapping.keys.contains(where: { $0.string == "board" }) {
            return .board(try loadBoard(root))
        }
        return .device(try loadProfile(root))
    }

    enum Entry {
        case device(DeviceProfile)
        case board(BoardProfile)
    }

    static func loadProfile(_ root: YAMLReader) throws(ConfigurationError) -> DeviceProfile {
        let map = try root.mapping(allowed: [
            "profile", "kind", "name", "unit", "per_pulse", "imp_per_kwh", "pulse", "rate", "contact", "topic",
            "fields", "default_field", "time", "plausible", "source", "home_assistant",

        ])
        let kindReader = try map.required("kind")
        let kindText = try kindReader.string()
        guard let kind = DeviceProfile.Kind(rawValue: kindText) else {
            let known = DeviceProfile.Kind.allCases.map(\.rawValue).joined(separator: ", ")
            throw kindReader.error("unknown device kind '\(kindText)'; known: \(known)")
        }
        let allowedByKind: [DeviceProfile.Kind: Set<String>] = [
            .rainGauge: ["per_pulse", "pulse", "rate", "unit", "home_assistant"],
            .energyMeter: ["imp_per_kwh", "pulse", "rate", "unit", "home_assistant"],
            .floatSwitch: ["contact", "home_assistant"],
            .mqtt: ["topic", "fields", "default_field", "time"],
        ]
        let kindKeys: Set<String> = ["per_pulse", "imp_per_kwh", "pulse", "rate", "contact", "topic", "fields",
                                     "default_field", "time", "unit", "home_assistant"]
        for key in map.order where kindKeys.contains(key) && !allowedByKind[kind]!.contains(key) {
            throw try map.required(key).error("a \(kindText) profile has no \(key)")
        }
        var profile = DeviceProfile(
            id: try map.required("profile").string(), kind: kind, name: try map.required("name").string(),
            unit: "", source: try map.required("source").string(), plausible: try readPlausible(map["plausible"]))
        switch kind {
        case .rainGauge, .energyMeter:
            let perPulse: Double
            if kind == .rainGauge {
                let reader = try map.required("per_pulse")
                perPulse = try reader.perPulse()
                profile.unit = try map["unit"]?.string() ?? "mm"
            } else {
                let reader = try map.required("imp_per_kwh")
                perPulse = try reader.perPulseFromPulsesPerUnit()
                profile.unit = try map["unit"]?.string() ?? "kWh"
            }
            let pulse = try map.required("pulse").mapping(allowed: ["min_width", "max_width"])
            let minimum = try pulse.required("min_width").duration()
            let maximum = try pulse.required("max_width").duration()
            guard minimum < maximum else { throw try pulse.required("max_width").error("must be longer than min_width") }
            var rateUnit = kind == .rainGauge ? "mm/h" : "W"
            var rateFactor = kind == .rainGauge ? 1.0 : 1000.0
            var rateTimeout: Duration = kind == .rainGauge ? .seconds(30 * 60) : .seconds(5 * 60)
            if let rateReader = map["rate"] {
                let rate = try rateReader.mapping(allowed: ["unit", "factor", "timeout"])
                if let unit = rate["unit"] { rateUnit = try unit.string() }
                if let factor = rate["factor"] { rateFactor = try factor.double() }
                if let timeout = rate["timeout"] { rateTimeout = try timeout.duration() }
            }
            profile.pulse = .init(perPulse: perPulse, minimumWidth: minimum, maximumWidth: maximum, rateUnit: rateUnit,
                                  rateFactor: rateFactor, rateTimeout: rateTimeout)
            if let hints = map["home_assistant"] {
                let both = try hints.mapping(allowed: ["rate", "total"])
                profile.pulse!.homeAssistantRate = try both["rate"].map { (reader) throws(ConfigurationError) in
                    try HomeAssistantHints.read(reader, unit: rateUnit, binary: false)
                }
                profile.pulse!.homeAssistantTotal = try both["total"].map { (reader) throws(ConfigurationError) in
                    try HomeAssistantHints.read(reader, unit: profile.unit, binary: false)
                }
            }
        case .floatSwitch:
            profile.unit = "state"
            let contact = try map.required("contact").mapping(allowed: ["hold", "active_low", "bias"])
            profile.contact = .init(
                hold: try contact.required("hold").duration(), activeLow: try contact["active_low"]?.bool() ?? false,
                bias: try contact["bias"].map { (reader) throws(ConfigurationError) in try readBias(reader) },
                homeAssistant: try map["home_assistant"].map { (reader) throws(ConfigurationError) in
                    try HomeAssistantHints.read(reader, unit: "state", binary: true)
                })
        case .mqtt:
            var fields: [String: DeviceProfile.Payload.Field] = [:]
            let fieldsReader = try map.required("fields")
            guard case .mapping(let fieldNodes) = fieldsReader.node else {
                throw fieldsReader.error("expected a mapping of field names")
            }
            let names = Array(fieldNodes.keys.compactMap(\.string))
            let fieldMap = try fieldsReader.mapping(allowed: names)
            for name in names {
                let field = try fieldMap.required(name).mapping(allowed: [
                    "path", "unit", "scale", "offset", "distance", "total", "plausible", "home_assistant",
                ])
                let fieldUnit = try field.required("unit").string()
                let pathReader = try field.required("path")
                let path = try pathReader.string()
                guard JSONPath(path) != nil else { throw pathReader.error("not a JSON path: '\(path)'") }
                fields[name] = .init(
                    path: path, unit: fieldUnit, scale: try field["scale"]?.double() ?? 1,
                    offset: try field["offset"]?.double() ?? 0, isDistance: try field["distance"]?.bool() ?? false,
                    isTotal: try field["total"]?.bool() ?? false, plausible: try readPlausible(field["plausible"]),
                    homeAssistant: try field["home_assistant"].map { (reader) throws(ConfigurationError) in
                        try HomeAssistantHints.read(reader, unit: fieldUnit, binary: false)
                    })
            }
            guard let first = names.first else { throw fieldsReader.error("name at least one field") }
            var defaultField = first
            if let reader = map["default_field"] {
                defaultField = try reader.string()
                guard fields[defaultField] != nil else { throw reader.error("no field '\(defaultField)' in fields") }
            }
            var time: DeviceProfile.Payload.Time?
            if let timeReader = map["time"] {
                let timeMap = try timeReader.mapping(allowed: ["path", "format", "zone"])
                time = .init(path: try timeMap.required("path").string(), format: try readTimeFormat(timeMap.required("format")),
                             zone: try timeMap["zone"]?.string())
            }
            var topic: String?
            if let topicReader = map["topic"] {
                topic = try topicReader.string()
                guard TopicFilter(topic!) != nil else { throw topicReader.error("not an MQTT topic filter") }
            }
            profile.payload = .init(topic: topic, fields: fields, defaultField: defaultField, time: time)
            profile.unit = fields[defaultField]!.unit
        }
        return profile
    }

    static func readTimeFormat(_ reader: YAMLReader) throws(ConfigurationError) -> String {
        let text = try reader.string()
        guard ["rfc3339", "local", "unix_seconds", "unix_ms", "arrival"].contains(text) else {
            throw reader.error("expected rfc3339, local, unix_seconds, unix_ms or arrival, found '\(text)'")
        }
        return text
    }

    static func readBias(_ reader: YAMLReader) throws(ConfigurationError) -> String {
        let text = try reader.string()
        guard ["pull_up", "pull_down", "disabled"].contains(text) else {
            throw reader.error("expected pull_up, pull_down or disabled, found '\(text)'")
        }
        return text
    }

    static func readPlausible(_ reader: YAMLReader?) throws(ConfigurationError) -> Plausibility {
        guard let reader else { return Plausibility() }
        let map = try reader.mapping(allowed: ["min", "max", "max_step", "flatline"])
        var limits = Plausibility(
            minimum: try map["min"]?.double(), maximum: try map["max"]?.double(),
            maximumStep: try map["max_step"]?.double(), flatline: try map["flatline"]?.duration())
        if let minimum = limits.minimum, let maximum = limits.maximum, minimum >= maximum {
            throw try map.required("max").error("must be above min")
        }
        if let step = limits.maximumStep, step <= 0 { throw try map.required("max_step").error("must be above zero") }
        if limits.flatline == .zero { limits.flatline = nil }
        return limits
    }

    static func loadBoard(_ root: YAMLReader) throws(ConfigurationError) -> BoardProfile {
        let map = try root.mapping(allowed: ["board", "kind", "name", "model", "chip_label", "header", "gpio_max", "source"])
        let kind = try map.required("kind")
        guard try kind.string() == "board" else { throw kind.error("a board file has kind: board") }
        let headerReader = try map.required("header")
        guard case .mapping(let pins) = headerReader.node else { throw headerReader.error("expected pin: GPIO mapping") }
        var header: [Int: Int] = [:]
        for (key, value) in pins {
            guard let pin = key.int, let line = value.int else {
                throw headerReader.error("expected physical pin number: GPIO number", at: key)
            }
            header[pin] = line
        }
        return BoardProfile(
            id: try map.required("board").string(), name: try map.required("name").string(),
            model: try map.required("model").string(), chipLabel: try map.required("chip_label").string(),
            header: header, highestGPIO: try map.required("gpio_max").int(in: 0...1023),
            source: try map.required("source").string())
    }
}

extension CommandLine {
    /// The running executable's path, resolved through `/proc/self/exe` where it exists.
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]
    }
}
