import KlimavagtCore

/// Home Assistant MQTT discovery, device-based (Home Assistant 2024.12 and later): one retained message per Home
/// Assistant device at `DISCOVERY/device/ID/config`, holding the device, the `origin` and its entities (`cmps`).
///
/// - The agent is one device (`klimavagt SITE`): an alert binary sensor per rule (device class `problem`) and its
///   diagnostics — broker connection, alert events waiting in the outbox, refused payloads, last start — from
///   `PREFIX/status` and `PREFIX/health`.
/// - Each sensor is a device of its own, `via_device` the agent: its value (a pulse sensor's rate and running total),
///   with the device class, state class and display precision its profile declares (`HomeAssistantHints`), and
///   its quality as attributes.
/// - Availability is `PREFIX/status` for every entity but the broker connection. An alert whose rule is `nodata`
///   is also unavailable: Home Assistant must never show "no problem" because a sensor stopped talking, and
///   "problem" would claim a reading that does not exist. A level sensor's value expires after its `stale_after`.
/// - `default_entity_id` fixes each entity id (`sensor.klimavagt_SITE_ID`) where Home Assistant would build it from
///   the name; `object_id` is deprecated.
public struct HomeAssistantDiscovery: Sendable {
    public let prefix: String
    public let discoveryPrefix: String
    public let site: String
    public let version: String

    public init(prefix: String, discoveryPrefix: String, site: String, version: String) {
        self.prefix = prefix
        self.discoveryPrefix = discoveryPrefix
        self.site = site
        self.version = version
    }

    /// The agent's own topics that the entities read.
    private var topics: ContractTopics { ContractTopics(prefix: prefix) }

    /// The agent's device identifier, and the prefix of every unique id.
    var node: String { "klimavagt_\(site)".replacingOccurrences(of: "-", with: "_") }

    static let supportURL = "https://github.com/klimavagt/klimavagt"

    /// One entity of a device message.
    struct Component {
        var platform: String
        var key: String
        var fields = JSONText()
        var hasAvailability = false

        init(platform: String, key: String, name: String?, node: String) {
            self.platform = platform
            self.key = key
            let object = "\(node)_\(key)"
            fields.add("platform", platform)
            fields.add("unique_id", object)
            fields.add("default_entity_id", "\(platform).\(object)")
            if let name { fields.add("name", name) } else { fields.addRaw("name", "null") }
        }

        mutating func apply(_ hints: HomeAssistantHints, unit: String?) {
            if let unit, !unit.isEmpty, unit != "state" { fields.add("unit_of_measurement", unit) }
            if let deviceClass = hints.deviceClass { fields.add("device_class", deviceClass) }
            if let stateClass = hints.stateClass { fields.add("state_class", stateClass) }
            if let precision = hints.precision { fields.add("suggested_display_precision", Int64(precision)) }
            if hints.diagnostic { fields.add("entity_category", "diagnostic") }
        }
    }

    /// The device message for one sensor.
    public func configs(for sensor: Configuration.Sensor) -> [(topic: String, payload: String)] {
        let state = topics.sensorState(sensor.id)
        let key = sensor.id.replacingOccurrences(of: "-", with: "_")
        let attributes = "{{ {'quality': value_json.quality, 'reason': value_json.get('reason'), 'time': value_json.time} | tojson }}"
        /// One entity reading the sensor's state topic: its value through `template`, its classes from `hints`.
        func entity(_ platform: String, key: String, name: String?, template: String, hints: HomeAssistantHints,
                    unit: String?, attributes: String) -> Component
        {
            var component = Component(platform: platform, key: key, name: name, node: node)
            component.fields.add("state_topic", state)
            component.fields.add("value_template", template)
            component.apply(hints, unit: unit)
            component.fields.add("json_attributes_topic", state)
            component.fields.add("json_attributes_template", attributes)
            return component
        }
        var components: [Component] = []
        switch sensor.spec.measure {
        case .pulses:
            let hints = sensor.homeAssistant
            components.append(entity(
                "sensor", key: key, name: hints.name ?? Self.readableName(hints.deviceClass) ?? "Rate",
                template: "{{ value_json.value }}", hints: hints, unit: sensor.rate?.unit ?? "\(sensor.spec.unit)/h",
                attributes: attributes))
            let totalHints = sensor.homeAssistantTotal ?? HomeAssistantHints.fallback(unit: sensor.spec.unit, isTotal: true)
            components.append(entity(
                "sensor", key: "\(key)_total",
                name: totalHints.name ?? Self.readableName(totalHints.deviceClass).map { "\($0) total" } ?? "Total",
                template: "{{ value_json.total }}", hints: totalHints, unit: sensor.spec.unit,
                attributes: "{{ {'boot_id': value_json.boot_id} | tojson }}"))
        case .level where sensor.spec.unit == "state":
            components.append(entity(
                "binary_sensor", key: key, name: sensor.homeAssistant.name,
                template: "{{ 'ON' if value_json.value == 1 else 'OFF' }}", hints: sensor.homeAssistant, unit: nil,
                attributes: attributes))
        case .level:
            var value = entity("sensor", key: key, name: sensor.homeAssistant.name, template: "{{ value_json.value }}",
                               hints: sensor.homeAssistant, unit: sensor.spec.unit, attributes: attributes)
            if let stale = sensor.spec.staleAfter {
                value.fields.add("expire_after", max(1, stale.components.seconds))
            }
            components.append(value)
        }
        var device = JSONText()
        device.addRaw("identifiers", "[\(JSONText.quote("\(node)_\(key)"))]")
        device.add("name", sensor.id)
        if let profile = sensor.device {
            device.add("model", profile.name)
            device.add("model_id", profile.id)
        } else {
            device.add("model", "sensor (\(sensor.spec.unit))")
        }
        device.add("via_device", node)
        return [message(id: "\(node)_\(key)", device: device.text, components: components)]
    }

    /// The agent's device message: one alert binary sensor per rule and the agent's diagnostics.
    public func agentConfig(rules: [RuleSpec]) -> (topic: String, payload: String) {
        var components: [Component] = []
        for rule in rules {
            let key = "alert_\(rule.id.replacingOccurrences(of: "-", with: "_"))"
            let state = topics.alertState(rule.id)
            var alert = Component(platform: "binary_sensor", key: key,
                                  name: "\(Self.readableKind(rule.kind)) \(rule.id)", node: node)
            alert.fields.add("state_topic", state)
            alert.fields.add("value_template", "{{ 'ON' if value_json.state == 'firing' else 'OFF' }}")
            alert.fields.add("device_class", "problem")
            alert.fields.add("json_attributes_topic", state)
            // Home Assistant drops an attribute called `state`: it goes out as `alert_state`.
            alert.fields.add("json_attributes_template", "{{ {'alert_state': value_json.state, 'severity': value_json.get('severity'), "
                + "'seq': value_json.get('seq'), 'value': value_json.get('value'), 'unit': value_json.get('unit'), "
                + "'threshold': value_json.get('threshold'), 'since': value_json.get('since'), "
                + "'message': value_json.get('message'), 'sensor': value_json.get('sensor'), 'id': value_json.get('id')} | tojson }}")
            let nodata = #"{"topic":\#(JSONText.quote(state)),"value_template":"{{ 'offline' if value_json.state == 'nodata' else 'online' }}","payload_available":"online","payload_not_available":"offline"}"#
            alert.fields.addRaw("availability", "[\(statusAvailability),\(nodata)]")
            alert.fields.add("availability_mode", "all")
            alert.hasAvailability = true
            components.append(alert)
        }
        var broker = Component(platform: "binary_sensor", key: "broker_connection", name: "Broker connection", node: node)
        broker.fields.add("state_topic", topics.status)
        broker.fields.add("payload_on", "online")
        broker.fields.add("payload_off", "offline")
        broker.fields.add("device_class", "connectivity")
        broker.fields.add("entity_category", "diagnostic")
        // No availability of its own: offline shows as disconnected, not as unavailable.
        components.append(broker)
        let health = topics.health
        for (key, name, template, hints) in [
            ("alerts_waiting", "Alert events waiting", "{{ value_json.alerts_waiting }}",
             HomeAssistantHints(stateClass: "measurement", precision: 0, diagnostic: true)),
            ("payloads_refused", "Refused payloads", "{{ value_json.payloads_refused }}",
             HomeAssistantHints(stateClass: "total_increasing", precision: 0, diagnostic: true)),
            ("last_start", "Last start", "{{ value_json.started_at }}",
             HomeAssistantHints(deviceClass: "timestamp", diagnostic: true)),
        ] {
            var entity = Component(platform: "sensor", key: key, name: name, node: node)
            entity.fields.add("state_topic", health)
            entity.fields.add("value_template", template)
            entity.apply(hints, unit: nil)
            components.append(entity)
        }
        var device = JSONText()
        device.addRaw("identifiers", "[\(JSONText.quote(node))]")
        device.add("name", "klimavagt \(site)")
        device.add("manufacturer", "klimavagt")
        device.add("model", "klimavagt agent")
        device.add("sw_version", version)
        return message(id: node, device: device.text, components: components)
    }

    /// The per-entity topics of the discovery before device-based discovery (one config per entity): cleared at
    /// start so that an upgraded agent leaves no duplicate entities behind.
    public func legacyTopics(sensors: [Configuration.Sensor], rules: [RuleSpec]) -> [String] {
        var topics: [String] = []
        for sensor in sensors where !sensor.isTemplate {
            let object = sensor.id.replacingOccurrences(of: "-", with: "_")
            switch sensor.spec.measure {
            case .pulses:
                topics.append("\(discoveryPrefix)/sensor/\(node)/\(object)/config")
                topics.append("\(discoveryPrefix)/sensor/\(node)/\(object)_total/config")
            case .level:
                let component = sensor.spec.unit == "state" ? "binary_sensor" : "sensor"
                topics.append("\(discoveryPrefix)/\(component)/\(node)/\(object)/config")
            }
        }
        for rule in rules {
            let object = "alert_\(rule.id)".replacingOccurrences(of: "-", with: "_")
            topics.append("\(discoveryPrefix)/binary_sensor/\(node)/\(object)/config")
        }
        return topics
    }

    private var statusAvailability: String {
        #"{"topic":\#(JSONText.quote(topics.status)),"payload_available":"online","payload_not_available":"offline"}"#
    }

    /// Every entity is available while the agent is online, unless it says otherwise (an alert also needs its
    /// rule not to be `nodata`; the broker connection is always shown).
    private func message(id: String, device: String, components: [Component]) -> (topic: String, payload: String) {
        var json = JSONText()
        json.addRaw("device", device)
        json.addRaw("origin", #"{"name":"klimavagt","sw_version":\#(JSONText.quote(version)),"support_url":\#(JSONText.quote(Self.supportURL))}"#)
        let entries = components.map { component -> String in
            var fields = component.fields
            if !component.hasAvailability && component.key != "broker_connection" {
                fields.addRaw("availability", "[\(statusAvailability)]")
            }
            return "\(JSONText.quote(component.key)):\(fields.text)"
        }
        json.addRaw("components", "{\(entries.joined(separator: ","))}")
        return ("\(discoveryPrefix)/device/\(id)/config", json.text)
    }

    static func readableName(_ deviceClass: String?) -> String? {
        switch deviceClass {
        case "precipitation_intensity": "Rain intensity"
        case "precipitation": "Rain"
        case "power": "Power"
        case "energy": "Energy"
        case "distance": "Level"
        case "water", "volume": "Water"
        default: nil
        }
    }

    static func readableKind(_ kind: AlertKind) -> String {
        RuleKind.of(kind).readable
    }
}
