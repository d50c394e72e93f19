import KlimavagtCore
import KlimavagtMQTT

/// The agent's configuration as read from its YAML file, with defaults applied and device profiles resolved.
public struct Configuration: Sendable {
    public var file: String
    public var site: String
    public var prefix: String
    public var mqtt: MQTTOptions
    public var devicesDirectory: String?
    public var sensors: [Sensor]
    public var rules: [RuleSpec]

    /// A configured sensor and where its readings come from.
    public struct Sensor: Sendable {
        public var id: String
        public var device: DeviceProfile?
        public var spec: SensorSpec
        public var input: Input?
    }

    /// The source of a sensor's readings.
    public enum Input: Sendable, Equatable {
        case gpio(GPIOInput)
        case simulated(SimulatedInput)
    }

    /// A pulse input on a GPIO line.
    public struct GPIOInput: Sendable, Equatable {
        public var chip: String
        public var line: String
        public var bias: String?
        public var activeLow: Bool
        public var minimumPulse: Duration
        public var maximumPulse: Duration
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
