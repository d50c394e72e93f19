import KlimavagtCore
import KlimavagtGPIO
import KlimavagtMQTT

/// The agent's configuration as read from its YAML file, with defaults applied and device profiles resolved.
public struct Configuration: Sendable {
    public var file: String
    public var site: String
    public var prefix: String
    /// The contract's topics under `prefix`.
    public var topics: ContractTopics { ContractTopics(prefix: prefix) }
    public var mqtt: MQTTOptions
    public var devicesDirectory: String?
    public var sensors: [Sensor]
    public var rules: [RuleSpec]
    /// A sensor's state is published at most this often.
    public var telemetryInterval: Duration = .seconds(1)
    /// How many telemetry messages wait while the broker is away; beyond, the oldest are dropped. Alert events are
    /// never dropped.
    public var telemetryQuota: Int = 1000
    /// Home Assistant MQTT discovery: on by default, under this prefix.
    public var homeAssistantDiscovery = true
    public var homeAssistantPrefix = "homeassistant"
    /// The loopback port of the Prometheus endpoint; nil (the default) serves no metrics.
    public var metricsPort: Int?
    /// At most this many sensors in all, configured ones and those made from templates; past it, a new topic's
    /// payloads are refused (`sensor_limit`). Sized for a Raspberry Pi: each sensor costs its store (raw_bytes and
    /// roll-ups) and its rule state.
    public var maximumSensors: Int = 256
    /// At most this many sensors made from one template (`plug-{1}`).
    public var maximumSensorsPerTemplate: Int = 128
    /// Memory for each sensor's compressed raw samples.
    public var storeRawBytes: Int = 64 * 1024
    /// How often new samples are written to the store's journal: what a crash can lose at most.
    public var storeFlushInterval: Duration = .seconds(1)

    /// A configured sensor and where its readings come from.
    public struct Sensor: Sendable {
        public var id: String
        public var device: DeviceProfile?
        public var spec: SensorSpec
        public var input: Input?
        /// For a pulse sensor: the rate derived from pulse intervals (mm/h, W).
        public var rate: Rate?
        /// Whether the readings are a meter's running total (`total_increasing` in Home Assistant).
        public var isTotal: Bool = false
        /// How the sensor's value (a pulse sensor's rate) shows in Home Assistant: from its profile, its
        /// configuration's `home_assistant:`, else its unit; checked against what Home Assistant accepts.
        public var homeAssistant = HomeAssistantHints()
        /// A pulse sensor's running total in Home Assistant.
        public var homeAssistantTotal: HomeAssistantHints?
        /// For an MQTT sensor whose id holds `{1}`, `{2}`...: each is filled by a wildcard level of the topic.
        public var isTemplate: Bool { id.contains("{") }
    }

    /// The rate a pulse sensor derives from the interval between pulses.
    public struct Rate: Sendable, Equatable {
        public var unit: String
        /// Rate = pulses per hour × what a pulse is worth × factor.
        public var factor: Double
        public var timeout: Duration
    }

    /// The source of a sensor's readings.
    public enum Input: Sendable, Equatable {
        case gpio(GPIOInput)
        case mqtt(MQTTInput)
        case simulated(SimulatedInput)
    }

    /// A pulse or contact input on a GPIO line.
    public struct GPIOInput: Sendable, Equatable {
        public var chip: String
        public var line: String
        public var bias: String?
        public var activeLow: Bool
        public var mode: Mode

        /// Opens the line for `sensor`; a missing chip, a busy line or a permission problem fails here with a message
        /// that says why.
        public func open(for sensor: String) throws(GPIOError) -> GPIOLineMonitor {
            let chip = try GPIOChip(self.chip)
            defer { chip.close() }
            return try chip.monitor(
                line: line, bias: bias.flatMap(GPIOBias.init(rawValue:)), activeLow: activeLow,
                consumer: "klimavagt:\(sensor)")
        }

        public enum Mode: Sendable, Equatable {
            /// Counts pulses whose width lies within the bounds.
            case pulse(minimum: Duration, maximum: Duration)
            /// Reports the contact's state (1 active, 0 not) once it has held for `hold`.
            case level(hold: Duration)
        }
    }

    /// Readings taken from JSON payloads on an MQTT topic.
    public struct MQTTInput: Sendable, Equatable {
        public var topic: String
        public var path: String
        public var scale: Double
        public var offset: Double
        /// cm DVR90 of a down-looking sensor's face; the reading is datum − distance.
        public var datum: Double?
        /// `rfc3339`, `local`, `unix_seconds`, `unix_ms`, or `arrival` (no time in the payload).
        public var timeFormat: String
        public var timePath: String?
        public var timeZone: String?
        public var maximumBytes: Int
        /// A payload time further than this from the arrival time is refused (a device whose clock was never set);
        /// nil accepts any time.
        public var maximumClockSkew: Duration?
    }

    /// A gauge that replays a trace file (`time,sensor,value`) at `speed` times real time.
    public struct SimulatedInput: Sendable, Equatable {
        public var file: String
        public var speed: Double
    }

    /// The simulated inputs' common speed, if the agent runs on simulation time.
    public var simulationSpeed: Double? {
        sensors.compactMap { sensor -> Double? in
            if case .simulated(let input) = sensor.input { return input.speed }
            return nil
        }.first
    }
}
