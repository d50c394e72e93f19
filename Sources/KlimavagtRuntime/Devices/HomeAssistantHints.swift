/// How one value shows in Home Assistant: its device class, state class, display precision, whether it is a
/// diagnostic and its entity name. Device profiles declare them per field (`home_assistant:` in `Devices/`), a
/// sensor's configuration may override them, and the unit decides only where neither does.
///
/// Every combination is checked against the classes Home Assistant accepts (`HomeAssistantHints.accepted`), so that
/// nothing the agent announces is logged by Home Assistant as an impossible state class or unit.
public struct HomeAssistantHints: Sendable, Equatable {
    public var deviceClass: String?
    public var stateClass: String?
    public var precision: Int?
    public var diagnostic = false
    public var name: String?

    public init(deviceClass: String? = nil, stateClass: String? = nil, precision: Int? = nil, diagnostic: Bool = false,
                name: String? = nil)
    {
        self.deviceClass = deviceClass
        self.stateClass = stateClass
        self.precision = precision
        self.diagnostic = diagnostic
        self.name = name
    }

    /// Home Assistant's sensor device classes this agent's values can have, with the units and state classes Home
    /// Assistant accepts for each (its `DEVICE_CLASS_UNITS` and `DEVICE_CLASS_STATE_CLASSES`, for the classes used).
    static let accepted: [String: (units: Set<String>, stateClasses: Set<String>)] = [
        "distance": (["km", "m", "cm", "mm", "mi", "yd", "ft", "in"], ["measurement"]),
        "precipitation": (["cm", "in", "mm"], ["measurement", "total", "total_increasing"]),
        "precipitation_intensity": (["in/d", "in/h", "mm/d", "mm/h"], ["measurement"]),
        "power": (["mW", "W", "kW", "MW", "GW", "TW", "BTU/h"], ["measurement"]),
        "energy": (["J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal", "Mcal", "Gcal"],
                   ["total", "total_increasing"]),
        "voltage": (["V", "mV", "µV", "kV", "MV"], ["measurement"]),
        "current": (["A", "mA"], ["measurement"]),
        "temperature": (["°C", "°F", "K"], ["measurement"]),
        "battery": (["%"], ["measurement"]),
        "humidity": (["%"], ["measurement"]),
        "moisture": (["%"], ["measurement"]),
        "water": (["L", "gal", "m³", "ft³", "CCF", "MCF"], ["total", "total_increasing"]),
        "volume": (["L", "mL", "gal", "fl. oz.", "m³", "ft³", "CCF", "MCF"], ["total", "total_increasing"]),
        "volume_storage": (["L", "mL", "gal", "fl. oz.", "m³", "ft³", "CCF", "MCF"], ["measurement"]),
        "volume_flow_rate": (["m³/h", "m³/min", "m³/s", "ft³/min", "L/h", "L/min", "L/s", "gal/min", "mL/s"],
                             ["measurement"]),
        "pressure": (["Pa", "kPa", "hPa", "bar", "cbar", "mbar", "mmHg", "inHg", "psi"], ["measurement"]),
        "speed": (["ft/s", "in/d", "in/h", "in/s", "km/h", "kn", "m/s", "mph", "mm/d", "mm/s"], ["measurement"]),
        "signal_strength": (["dB", "dBm"], ["measurement"]),
    ]

    /// Binary sensor device classes a contact can have.
    static let binaryClasses: Set<String> = ["moisture", "problem", "opening", "running", "power", "safety", "plug"]

    static let stateClasses: Set<String> = ["measurement", "total", "total_increasing"]

    /// Why Home Assistant would refuse this combination for a sensor in `unit`, or nil if it accepts it.
    func refusal(unit: String, binary: Bool) -> String? {
        if binary {
            if let deviceClass, !Self.binaryClasses.contains(deviceClass) {
                return "'\(deviceClass)' is not a binary sensor device class here; one of "
                    + Self.binaryClasses.sorted().joined(separator: ", ")
            }
            return stateClass == nil ? nil : "a contact has no state class"
        }
        if let stateClass, !Self.stateClasses.contains(stateClass) {
            return "unknown state class '\(stateClass)'; one of measurement, total, total_increasing"
        }
        guard let deviceClass else { return nil }
        guard let accepted = Self.accepted[deviceClass] else {
            return "unknown device class '\(deviceClass)'; known here: " + Self.accepted.keys.sorted().joined(separator: ", ")
        }
        if !accepted.units.contains(unit) {
            return "Home Assistant's \(deviceClass) takes \(accepted.units.sorted().joined(separator: ", ")), not \(unit)"
        }
        if let stateClass, !accepted.stateClasses.contains(stateClass) {
            return "Home Assistant's \(deviceClass) takes state class "
                + accepted.stateClasses.sorted().joined(separator: " or ") + ", not \(stateClass)"
        }
        return nil
    }

    /// What the unit alone says, for a value without declared hints: a class only where the unit names one
    /// unambiguously and it takes this kind of value (a `%` could be a battery or a humidity: no class).
    static func fallback(unit: String, isTotal: Bool) -> HomeAssistantHints {
        let stateClass = isTotal ? "total_increasing" : "measurement"
        let candidates: [String]
        switch unit {
        case "cm", "mm", "m": candidates = isTotal ? [] : ["distance"]
        case "mm/h": candidates = ["precipitation_intensity"]
        case "W", "kW": candidates = ["power"]
        case "kWh", "Wh", "MWh": candidates = ["energy"]
        case "V": candidates = ["voltage"]
        case "A": candidates = ["current"]
        case "°C": candidates = ["temperature"]
        case "m³", "L": candidates = isTotal ? ["water"] : ["volume_storage"]
        case "m³/h", "L/min", "L/s": candidates = ["volume_flow_rate"]
        case "hPa", "bar", "kPa": candidates = ["pressure"]
        default: candidates = []
        }
        var hints = HomeAssistantHints(stateClass: stateClass, precision: defaultPrecision(unit: unit))
        if let deviceClass = candidates.first {
            let candidate = HomeAssistantHints(deviceClass: deviceClass, stateClass: stateClass)
            if candidate.refusal(unit: unit, binary: false) == nil { hints.deviceClass = deviceClass }
        }
        return hints
    }

    /// Decimals worth showing for a unit: a 0.2 mm tip needs one, a level in cm none, a kWh meter three.
    static func defaultPrecision(unit: String) -> Int? {
        switch unit {
        case "mm", "mm/h", "°C", "%", "kW", "m³/h": 1
        case "cm", "W", "V": 0
        case "m", "kWh", "m³", "A": 2
        default: nil
        }
    }

    /// These hints with `other`'s declared fields on top (a sensor's configuration over its profile's).
    func overridden(by other: HomeAssistantHints?) -> HomeAssistantHints {
        guard let other else { return self }
        var merged = self
        if let value = other.deviceClass { merged.deviceClass = value }
        if let value = other.stateClass { merged.stateClass = value }
        if let value = other.precision { merged.precision = value }
        if let value = other.name { merged.name = value }
        if other.diagnostic { merged.diagnostic = true }
        return merged
    }
}

extension HomeAssistantHints {
    /// Reads `home_assistant: {device_class, state_class, precision, diagnostic, name}` and checks it for a value in
    /// `unit` (a contact when `binary`); a combination Home Assistant refuses is an error at its line.
    static func read(_ reader: YAMLReader, unit: String, binary: Bool) throws(ConfigurationError) -> HomeAssistantHints {
        let map = try reader.mapping(allowed: ["device_class", "state_class", "precision", "diagnostic", "name"])
        var hints = HomeAssistantHints()
        hints.deviceClass = try map["device_class"]?.string()
        hints.stateClass = try map["state_class"]?.string()
        hints.precision = try map["precision"]?.int(in: 0...6)
        hints.diagnostic = try map["diagnostic"]?.bool() ?? false
        hints.name = try map["name"]?.string()
        if let why = hints.refusal(unit: unit, binary: binary) {
            throw (map["device_class"] ?? map["state_class"] ?? reader).error(why)
        }
        return hints
    }
}
