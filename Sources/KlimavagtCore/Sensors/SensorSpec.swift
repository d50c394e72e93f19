/// What the rules need to know of a sensor.
public struct SensorSpec: Sendable, Equatable {
    public enum Measure: Sendable, Equatable {
        /// Counts pulses; each pulse is worth `nanounitsPerPulse` billionths of the unit (0.2 mm is 200 000 000).
        case pulses(nanounitsPerPulse: Int64)
        /// Reports a level or reading directly in its unit.
        case level
    }

    public var id: String
    public var unit: String
    public var measure: Measure
    /// After how long without a reading the sensor is stale; `nil` means never.
    public var staleAfter: Duration?
    /// The limits its readings are believed within; readings outside are marked suspect.
    public var plausible: Plausibility = Plausibility()

    /// Creates a sensor; by default a level sensor is stale after 15 minutes and a pulse counter never is (a silent
    /// rain gauge means no rain).
    public init(id: String, unit: String, measure: Measure, staleAfter: Duration?? = nil) {
        self.id = id
        self.unit = unit
        self.measure = measure
        switch staleAfter {
        case .some(let configured): self.staleAfter = configured
        case .none:
            if case .level = measure { self.staleAfter = .seconds(15 * 60) } else { self.staleAfter = nil }
        }
    }

    /// The quantity that `pulses` pulses stand for, in the sensor's unit, exactly rounded.
    public func amount(ofPulses pulses: Int64) -> Double {
        guard case .pulses(let perPulse) = measure else { return Double(pulses) }
        let (product, overflow) = pulses.multipliedReportingOverflow(by: perPulse)
        if overflow { return Double(pulses) * Double(perPulse) / 1e9 }
        return Double(product) / 1e9
    }
}
