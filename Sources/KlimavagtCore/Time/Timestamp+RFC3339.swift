extension Timestamp {
    /// The time as RFC 3339 in UTC, with milliseconds only when they are not zero (`2011-07-02T17:45:00Z`).
    public var rfc3339: String {
        let secs = seconds
        let nanos = nanosecondsOfSecond
        var days = secs / 86_400
        var rem = secs - days * 86_400
        if rem < 0 { rem += 86_400; days -= 1 }
        let (year, month, day) = Self.civil(fromDays: days)
        let hour = rem / 3600, minute = (rem % 3600) / 60, second = rem % 60
        if (0...9999).contains(year) {
            // The common case written as bytes: interpolation went through a dynamic cast per piece, and every
            // state and event carries a time (a fifth of the instructions of publishing a sensor's state).
            return String(unsafeUninitializedCapacity: 30) { buffer in
                var count = 0
                func put(_ value: Int64, _ width: Int) {
                    var divisor: Int64 = 1
                    for _ in 1..<width { divisor *= 10 }
                    while divisor > 0 {
                        buffer[count] = UInt8(truncatingIfNeeded: 48 + value / divisor % 10)
                        count += 1
                        divisor /= 10
                    }
                }
                func put(_ byte: Character) {
                    buffer[count] = byte.asciiValue!
                    count += 1
                }
                put(year, 4); put("-"); put(month, 2); put("-"); put(day, 2); put("T")
                put(hour, 2); put(":"); put(minute, 2); put(":"); put(second, 2)
                if nanos != 0 {
                    put(".")
                    if nanos % 1_000_000 == 0 { put(nanos / 1_000_000, 3) } else { put(nanos, 9) }
                }
                put("Z")
                return count
            }
        }
        var text = "\(Self.pad(year, 4))-\(Self.pad(month, 2))-\(Self.pad(day, 2))T"
        text += "\(Self.pad(hour, 2)):\(Self.pad(minute, 2)):\(Self.pad(second, 2))"
        if nanos != 0 {
            if nanos % 1_000_000 == 0 {
                text += "." + Self.pad(nanos / 1_000_000, 3)
            } else {
                text += "." + Self.pad(nanos, 9)
            }
        }
        return text + "Z"
    }

    /// Parses an RFC 3339 date-time (`Z` or a numeric offset, optional fraction up to nanoseconds); nil unless it is
    /// well formed and within `Limits` (1900 to 2099).
    public init?(rfc3339 text: some StringProtocol) {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20 else { return nil }
        func number(_ from: Int, _ count: Int) -> Int64? {
            guard from + count <= bytes.count else { return nil }
            var value: Int64 = 0
            for byte in bytes[from..<(from + count)] {
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int64(byte - 48)
            }
            return value
        }
        guard let year = number(0, 4), bytes[4] == 45, let month = number(5, 2), bytes[7] == 45,
              let day = number(8, 2), bytes[10] == 84 || bytes[10] == 116 || bytes[10] == 32,
              let hour = number(11, 2), bytes[13] == 58, let minute = number(14, 2), bytes[16] == 58,
              let second = number(17, 2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= Self.daysIn(month: month, year: year),
              hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var fraction: Int64 = 0
        if index < bytes.count, bytes[index] == 46 {
            index += 1
            var digits = 0
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                if digits < 9 { fraction = fraction * 10 + Int64(bytes[index] - 48); digits += 1 }
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<9 { fraction *= 10 }
        }
        guard index < bytes.count else { return nil }
        var offsetSeconds: Int64 = 0
        switch bytes[index] {
        case 90, 122:
            index += 1
        case 43, 45:
            guard let offHour = number(index + 1, 2), bytes.count > index + 3, bytes[index + 3] == 58,
                  let offMinute = number(index + 4, 2)
            else { return nil }
            offsetSeconds = (offHour * 3600 + offMinute * 60) * (bytes[index] == 43 ? 1 : -1)
            index += 6
        default:
            return nil
        }
        guard index == bytes.count else { return nil }
        // Four digits of year keep the seconds far inside Int64; the nanoseconds are checked against `Limits`.
        let days = Self.days(fromCivil: year, month, day)
        let secs = days * 86_400 + hour * 3600 + minute * 60 + min(second, 59) - offsetSeconds
        let (scaled, overflow) = secs.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return nil }
        let stamp = Timestamp(nanoseconds: scaled + fraction)
        guard Limits.contains(stamp) else { return nil }
        self = stamp
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    // Howard Hinnant's days-from-civil algorithm (proleptic Gregorian calendar).
    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
