import KlimavagtCore

/// Parses durations as configuration files write them (`500ms`, `90s`, `30m`, `6h`, `1d`).
public enum DurationText {
    /// Why a text is not a duration.
    public enum Failure: Error, Equatable {
        /// Not a number followed by one of the units.
        case malformed
        /// A number and a unit, but past `Limits.longestDuration` (3660d).
        case tooLong
    }

    /// The duration `text` writes, or nil if it is malformed or longer than `Limits.longestDuration`.
    public static func parse(_ text: String) -> Duration? {
        try? check(text).get()
    }

    /// The duration `text` writes, or why it is none.
    public static func check(_ text: String) -> Result<Duration, Failure> {
        let units: [(String, Int64)] = [("ms", 1_000_000), ("s", 1_000_000_000), ("m", 60_000_000_000),
                                        ("h", 3_600_000_000_000), ("d", 86_400_000_000_000)]
        for (suffix, nanos) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            if suffix == "s", number.hasSuffix("m") { continue }
            guard !number.isEmpty, number.utf8.count <= 64, let value = Double(number), value.isFinite, value >= 0
            else { return .failure(.malformed) }
            guard let duration = Limits.duration(value, unitNanoseconds: nanos) else { return .failure(.tooLong) }
            return .success(duration)
        }
        return .failure(.malformed)
    }

    /// The duration in the largest unit that writes it whole (`1d`, `90s`, `250ms`).
    public static func format(_ duration: Duration) -> String {
        let nanos = duration.nanosecondsClamped
        for (suffix, size) in [("d", Int64(86_400_000_000_000)), ("h", 3_600_000_000_000), ("m", 60_000_000_000),
                               ("s", 1_000_000_000), ("ms", 1_000_000)] where nanos != 0 && nanos % size == 0 {
            return "\(nanos / size)\(suffix)"
        }
        return nanos == 0 ? "0s" : "\(nanos)ns"
    }
}
