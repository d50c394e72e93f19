/// The ranges every number from outside the agent must lie in: payloads and topics, configuration files, traces,
/// control requests, CLI options and state files. A value outside is refused with a reason, never trapped on.
///
/// The ranges are chosen so that arithmetic on values inside them cannot overflow `Int64` nanoseconds:
/// - a time lies in `earliestTime ..< latestTime` (1900 to 2100), about ±4.1 × 10¹⁸ ns around 1970, so the
///   difference of two times (≤ 6.4 × 10¹⁸ ns) and a time plus or minus `longestDuration` stay representable;
/// - a duration lies in `0 ... longestDuration` (3 660 days, ten years and then some), so a duration times
///   a small count (a `for` plus a window, twice a window) stays representable too;
/// - a reading's value has magnitude at most `largestValue` (10¹⁵), so its tenths, thousandths and millionths are
///   exact integers in an `Int64` and in a `Double`'s 53-bit mantissa at 10¹⁵ × 1;
/// - a pulse count in one reading lies in `0 ... largestPulseCount` (10⁹), and a sensor's `per_pulse` lies in
///   `smallestPerPulse ... largestPerPulse` (10⁻⁹ to 10⁶ of the unit); window sums and totals are added with checked
///   arithmetic and a reading that would overflow one is refused.
public enum Limits {
    /// 1900-01-01T00:00:00Z.
    public static let earliestTime = Timestamp(nanoseconds: -2_208_988_800 * 1_000_000_000)
    /// 2100-01-01T00:00:00Z, the first instant no longer accepted.
    public static let latestTime = Timestamp(nanoseconds: 4_102_444_800 * 1_000_000_000)
    /// The earliest and latest accepted years, as the README and refusals write them.
    public static let years = 1900...2099
    /// The longest duration a configuration, a CLI option or a control request may give: 3 660 days.
    public static let longestDuration = Duration.seconds(3_660 * 86_400)
    /// The largest magnitude of a reading's value, in its unit.
    public static let largestValue = 1e15
    /// The most pulses one reading may carry.
    public static let largestPulseCount: Int64 = 1_000_000_000
    /// The range of a pulse's worth, in the sensor's unit.
    public static let smallestPerPulse = 1e-9
    public static let largestPerPulse = 1e6

    /// Whether `time` lies in the accepted range.
    public static func contains(_ time: Timestamp) -> Bool {
        time >= earliestTime && time < latestTime
    }

    /// Whether `duration` is zero or positive and at most `longestDuration`.
    public static func contains(_ duration: Duration) -> Bool {
        duration >= .zero && duration <= longestDuration
    }

    /// Whether `value` is finite with magnitude at most `largestValue`.
    public static func contains(value: Double) -> Bool {
        value.isFinite && value.magnitude <= largestValue
    }

    /// `count` units of `unit` nanoseconds as a duration, or nil past `longestDuration` (or negative, or not finite).
    public static func duration(_ count: Double, unitNanoseconds unit: Int64) -> Duration? {
        guard count.isFinite, count >= 0 else { return nil }
        let nanoseconds = (count * Double(unit)).rounded()
        guard nanoseconds <= Double(longestDuration.nanosecondsClamped), let exact = Int64(exactly: nanoseconds)
        else { return nil }
        return .nanoseconds(exact)
    }

    /// The whole pulses a reading's value stands for, or nil if it is negative, not whole after rounding or more
    /// than `largestPulseCount`.
    public static func pulses(_ value: Double) -> Int64? {
        guard value.isFinite, value >= 0, value <= Double(largestPulseCount) else { return nil }
        return Int64(exactly: value.rounded())
    }

    /// The nanoseconds since 1970 of `count` units of `unit` nanoseconds (a Unix time in seconds or milliseconds),
    /// exact for whole counts, or nil outside the accepted times.
    public static func time(_ count: Double, unitNanoseconds unit: Int64) -> Timestamp? {
        guard count.isFinite else { return nil }
        let whole = count.rounded(.down)
        guard let wholeUnits = Int64(exactly: whole) else { return nil }
        let (scaled, overflow) = wholeUnits.multipliedReportingOverflow(by: unit)
        guard !overflow else { return nil }
        let fraction = Int64(((count - whole) * Double(unit)).rounded())
        let (sum, overflowAgain) = scaled.addingReportingOverflow(fraction)
        guard !overflowAgain else { return nil }
        let stamp = Timestamp(nanoseconds: sum)
        return contains(stamp) ? stamp : nil
    }
}
