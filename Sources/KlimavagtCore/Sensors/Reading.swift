/// One observation of a sensor at the time it was made.
public struct Reading: Sendable, Equatable {
    public var sensor: String
    public var time: Timestamp
    /// The value in the sensor's unit; for a pulse-counting sensor, the number of pulses.
    public var value: Double
    /// Marked by a plausibility check (a single-sample spike); level rules ignore it.
    public var suspect: Bool

    public init(sensor: String, time: Timestamp, value: Double, suspect: Bool = false) {
        self.sensor = sensor
        self.time = time
        self.value = value
        self.suspect = suspect
    }
}
