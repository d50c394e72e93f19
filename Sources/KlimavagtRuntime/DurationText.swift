/// Parses durations as configuration files write them (`500ms`, `90s`, `30m`, `6h`, `1d`).
public enum DurationText {
    public static func parse(_ text: String) -> Duration? {
        let units: [(String, Int64)] = [("ms", 1_000_000), ("s", 1_000_000_000), ("m", 60_000_000_000),
                                        ("h", 3_600_000_000_000), ("d", 86_400_000_000_000)]
        for (suffix, nanos) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            if suffix == "s", number.hasSuffix("m") { continue }
            guard let value = Double(number), value.isFinite, value >= 0 else { return nil }
            return .nanoseconds(Int64((value * Double(nanos)).rounded()))
        }
        return nil
    }

    /// The duration in the largest unit that writes it whole (`1d`, `90s`, `250ms`).
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let nanos = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        for (suffix, size) in [("d", Int64(86_400_000_000_000)), ("h", 3_600_000_000_000), ("m", 60_000_000_000),
                               ("s", 1_000_000_000), ("ms", 1_000_000)] where nanos != 0 && nanos % size == 0 {
            return "\(nanos / size)\(suffix)"
        }
        return nanos == 0 ? "0s" : "\(nanos)ns"
    }
}
