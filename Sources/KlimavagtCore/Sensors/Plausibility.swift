/// The limits within which a sensor's readings are believed: a range, a largest step, and a longest flat line.
public struct Plausibility: Sendable, Equatable {
    public var minimum: Double?
    public var maximum: Double?
    /// A reading further than this from the last believed one is a spike unless the next reading confirms it.
    public var maximumStep: Double?
    /// A value repeated exactly for this long means a stuck sensor.
    public var flatline: Duration?

    public init(minimum: Double? = nil, maximum: Double? = nil, maximumStep: Double? = nil, flatline: Duration? = nil) {
        self.minimum = minimum
        self.maximum = maximum
        self.maximumStep = maximumStep
        self.flatline = flatline
    }

    public var isEmpty: Bool { minimum == nil && maximum == nil && maximumStep == nil && flatline == nil }
}
