/// A point in time as nanoseconds since the Unix epoch (UTC).
public struct Timestamp: Hashable, Comparable, Sendable, Codable {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    /// Encoded as its nanoseconds since the epoch.
    public init(from decoder: any Decoder) throws {
        nanoseconds = try decoder.singleValueContainer().decode(Int64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(nanoseconds)
    }

    /// `seconds` since the epoch plus `nanoseconds`, clamped to the range of `Int64` nanoseconds (about 1678 to
    /// 2262); values from outside are checked against `Limits` before they get here.
    public init(seconds: Int64, nanoseconds: Int64 = 0) {
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        self.nanoseconds = overflow ? (seconds < 0 ? .min : .max) : Self.saturating(scaled, plus: nanoseconds)
    }

    /// `a + b`, clamped to the range of `Int64`.
    static func saturating(_ a: Int64, plus b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b < 0 ? .min : .max) : sum
    }

    /// The nanoseconds past `seconds`, `0 ..< 1_000_000_000`.
    public var nanosecondsOfSecond: Int64 {
        let remainder = nanoseconds % 1_000_000_000
        return remainder < 0 ? remainder + 1_000_000_000 : remainder
    }

    /// Whole seconds since the epoch, rounded towards negative infinity.
    public var seconds: Int64 {
        let (quotient, remainder) = nanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
        return remainder < 0 ? quotient - 1 : quotient
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    // Time arithmetic saturates at the ends of `Int64` instead of trapping. Times and durations from outside lie in
    // `Limits`, where no sum or difference reaches those ends; the clamping keeps a mistake from stopping the agent.

    public static func + (lhs: Timestamp, rhs: Duration) -> Timestamp {
        Timestamp(nanoseconds: saturating(lhs.nanoseconds, plus: rhs.nanosecondsClamped))
    }

    public static func - (lhs: Timestamp, rhs: Duration) -> Timestamp {
        let nanos = rhs.nanosecondsClamped
        return Timestamp(nanoseconds: nanos == .min ? saturating(lhs.nanoseconds, plus: .max)
                                                     : saturating(lhs.nanoseconds, plus: -nanos))
    }

    public static func - (lhs: Timestamp, rhs: Timestamp) -> Duration {
        let (difference, overflow) = lhs.nanoseconds.subtractingReportingOverflow(rhs.nanoseconds)
        return .nanoseconds(overflow ? (lhs.nanoseconds < rhs.nanoseconds ? .min : .max) : difference)
    }
}

extension Duration {
    /// The duration in nanoseconds, clamped to the range of `Int64`.
    public var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return Timestamp.saturating(scaled, plus: attoseconds / 1_000_000_000)
    }

    /// Whole seconds in the duration, rounded towards zero.
    public var wholeSeconds: Int64 {
        components.seconds
    }
}
