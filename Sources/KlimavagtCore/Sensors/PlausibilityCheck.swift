/// Judges a sensor's readings against its `Plausibility`, one at a time in event-time order.
///
/// A reading out of range, a single-sample spike, or a reading on a flat line too long is marked `suspect`: it is
/// kept and shown, but level rules ignore it. A step that the next reading confirms is a real change; only the
/// first reading of it is suspect.
public struct PlausibilityCheck: Sendable {
    public enum Verdict: String, Sendable, Equatable {
        case ok
        case outOfRange = "out_of_range"
        case spike
        case flatline
    }

    public let limits: Plausibility
    private var lastBelieved: Double?
    private var unconfirmed: Double?
    private var flatValue: Double?
    private var flatSince: Timestamp?

    public init(_ limits: Plausibility) {
        self.limits = limits
    }

    /// Judges one reading and returns it, marked suspect where it fails, with the verdict.
    public mutating func judge(_ reading: Reading) -> (reading: Reading, verdict: Verdict) {
        var judged = reading
        let verdict = verdict(reading.value, at: reading.time)
        if verdict != .ok { judged.suspect = true }
        return (judged, verdict)
    }

    private mutating func verdict(_ value: Double, at time: Timestamp) -> Verdict {
        if value == flatValue, let since = flatSince {
            if let longest = limits.flatline, time - since >= longest { return .flatline }
        } else {
            flatValue = value
            flatSince = time
        }
        if let minimum = limits.minimum, value < minimum { return .outOfRange }
        if let maximum = limits.maximum, value > maximum { return .outOfRange }
        guard let step = limits.maximumStep, let believed = lastBelieved else {
            lastBelieved = value
            return .ok
        }
        if abs(value - believed) <= step {
            lastBelieved = value
            unconfirmed = nil
            return .ok
        }
        if let candidate = unconfirmed, abs(value - candidate) <= step {
            lastBelieved = value
            unconfirmed = nil
            return .ok
        }
        unconfirmed = value
        return .spike
    }
}
