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
    static func instantiateTemplate(for rule: YAMLReader, in sensors: inout [Configuration.Sensor])
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

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }
}
