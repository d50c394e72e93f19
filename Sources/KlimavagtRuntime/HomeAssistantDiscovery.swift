import KlimavagtCore

/// Home Assistant MQTT discovery: the retained config messages that make each sensor and alert rule appear in Home
/// Assistant, with device, unit, device class, state class and availability on `PREFIX/status`.
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

    /// The config messages for one sensor: its value, and for a counter or a meter total, the running total.
    public func configs(for sensor: Configuration.Sensor) -> [(topic: String, payload: String)] {
        let state = "\(prefix)/sensors/\(sensor.id)/state"
        var entities: [(topic: String, payload: String)] = []
        switch sensor.spec.measure {
        case .pulses:
            let rate = sensor.rate
            entities.append(entity(
                component: "sensor", objectID: sensor.id, name: sensor.id, stateTopic: state,
                template: "{{ value_json.value }}", unit: rate?.unit ?? "\(sensor.spec.unit)/h",
                deviceClass: rate?.unit == "W" ? "power" : "precipitation_intensity", stateClass: "measurement"))
            entities.append(entity(
                component: "sensor", objectID: "\(sensor.id)_total", name: "\(sensor.id) total", stateTopic: state,
                template: "{{ value_json.total }}", unit: sensor.spec.unit,
                deviceClass: sensor.spec.unit == "kWh" ? "energy" : "precipitation", stateClass: "total_increasing"))
        case .level:
            if sensor.spec.unit == "state" {
                entities.append(entity(
                    component: "binary_sensor", objectID: sensor.id, name: sensor.id, stateTopic: state,
                    template: "{{ 'ON' if value_json.value == 1 else 'OFF' }}", unit: nil, deviceClass: "moisture",
                    stateClass: nil))
            } else {
                entities.append(entity(
                    component: "sensor", objectID: sensor.id, name: sensor.id, stateTopic: state,
                    template: "{{ value_json.value }}", unit: sensor.spec.unit,
                    deviceClass: Self.deviceClass(unit: sensor.spec.unit, isTotal: sensor.isTotal),
                    stateClass: sensor.isTotal ? "total_increasing" : "measurement"))
            }
        }
        return entities
    }

    /// The config message for an alert rule: a problem sensor that is on while the alert fires, with the alert's
    /// fields as attributes.
    public func config(for rule: RuleSpec) -> (topic: String, payload: String) {
        entity(component: "binary_sensor", objectID: "alert_\(rule.id)", name: "\(rule.id) (\(rule.kind.rawValue))",
               stateTopic: "\(prefix)/alerts/\(rule.id)/state",
               template: "{{ 'ON' if value_json.state == 'firing' else 'OFF' }}", unit: nil, deviceClass: "problem",
               stateClass: nil, attributes: true)
    }

    static func deviceClass(unit: String, isTotal: Bool) -> String? {
        switch unit {
        case "cm", "mm", "m": "distance"
        case "W", "kW": "power"
        case "kWh", "Wh": "energy"
        case "V": "voltage"
        case "A": "current"
        case "°C": "temperature"
        case "%": "battery"
        default: nil
        }
    }

    private func entity(component: String, objectID: String, name: String, stateTopic: String, template: String,
                        unit: String?, deviceClass: String?, stateClass: String?, attributes: Bool = false)
        -> (topic: String, payload: String)
    {
        let node = "klimavagt_\(site)".replacingOccurrences(of: "-", with: "_")
        let object = objectID.replacingOccurrences(of: "-", with: "_")
        var json = JSONText()
        json.add("name", name)
        json.add("unique_id", "\(node)_\(object)")
        json.add("object_id", "\(node)_\(object)")
        json.add("state_topic", stateTopic)
        json.add("value_template", template)
        if let unit, !unit.isEmpty, unit != "state" { json.add("unit_of_measurement", unit) }
        if let deviceClass { json.add("device_class", deviceClass) }
        if let stateClass { json.add("state_class", stateClass) }
        if attributes { json.add("json_attributes_topic", stateTopic) }
        json.add("availability_topic", "\(prefix)/status")
        json.add("payload_available", "online")
        json.add("payload_not_available", "offline")
        json.addRaw("device", #"{"identifiers":[\#(JSONText.quote(node))],"name":\#(JSONText.quote("klimavagt \(site)")),"manufacturer":"klimavagt","model":"klimavagt agent","sw_version":\#(JSONText.quote(version))}"#)
        return ("\(discoveryPrefix)/\(component)/\(node)/\(object)/config", json.text)
    }
}
