import KlimavagtCore

/// A device profile from `Devices/`: what a kind of sensor measures and how its pulses, contact or payloads look.
public struct DeviceProfile: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case rainGauge = "rain_gauge"
        case energyMeter = "energy_meter"
        case floatSwitch = "float_switch"
        case mqtt
    }

    public var id: String
    public var kind: Kind
    public var name: String
    /// The unit of the sensor's readings (a pulse device's total, a payload field's unit, `state` for a contact).
    public var unit: String
    public var source: String
    public var pulse: Pulse?
    public var contact: Contact?
    public var payload: Payload?
    public var plausible: Plausibility

    /// A pulse output: what a pulse is worth, how wide a real one is, and the rate derived from pulse intervals.
    public struct Pulse: Sendable, Equatable {
        /// What one pulse is worth in the profile's unit (0.2 mm; 0.001 kWh for 1000 imp/kWh).
        public var perPulse: Double
        public var minimumWidth: Duration
        public var maximumWidth: Duration
        /// The derived rate's unit (`mm/h`, `W`) and its factor over "unit per hour" (1000 for kWh → W).
        public var rateUnit: String
        public var rateFactor: Double
        /// With no pulse for this long the rate is zero.
        public var rateTimeout: Duration
        /// How the rate and the running total show in Home Assistant (`home_assistant: {rate: ..., total: ...}`).
        public var homeAssistantRate: HomeAssistantHints?
        public var homeAssistantTotal: HomeAssistantHints?
    }

    /// A switch contact read as a level: how long a state must hold, and how it is wired.
    public struct Contact: Sendable, Equatable {
        public var hold: Duration
        public var activeLow: Bool
        public var bias: String?
        /// How the contact shows in Home Assistant (a binary sensor's device class and name).
        public var homeAssistant: HomeAssistantHints?
    }

    /// A device that publishes JSON over MQTT.
    public struct Payload: Sendable, Equatable {
        /// The topic filter the device publishes on; `+` levels are the device's own name.
        public var topic: String?
        public var fields: [String: Field]
        public var defaultField: String
        public var time: Time?

        /// One value in the payload.
        public struct Field: Sendable, Equatable {
            public var path: String
            public var unit: String
            public var scale: Double
            public var offset: Double
            /// A distance down to the water: the reading is the sensor's datum minus it.
            public var isDistance: Bool
            /// A meter total that only grows (Home Assistant's `total_increasing`).
            public var isTotal: Bool
            public var plausible: Plausibility
            /// How the value shows in Home Assistant.
            public var homeAssistant: HomeAssistantHints?
        }

        /// Where the payload gives the event time, and how it writes it.
        public struct Time: Sendable, Equatable {
            public var path: String
            public var format: String
            /// For `local` times: the zone the device keeps (Tasmota's default rules are Central European).
            public var zone: String?
        }
    }
}
