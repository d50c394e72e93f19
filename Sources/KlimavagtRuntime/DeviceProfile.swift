import KlimavagtCore

/// A device profile from `Devices/`: what a kind of sensor measures and how its pulses look.
public struct DeviceProfile: Sendable, Equatable {
    public enum Kind: String, Sendable { case rainGauge = "rain_gauge" }

    public var id: String
    public var kind: Kind
    public var name: String
    public var unit: String
    /// For a pulse device, what one pulse is worth in `unit`, as written in the profile (e.g. `0.2`).
    public var perPulse: Double
    public var minimumPulse: Duration
    public var maximumPulse: Duration
    public var source: String
}
