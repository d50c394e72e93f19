/// Lets one message per key through per interval and counts the ones it held back, so a flood of bad payloads
/// gives one log line a minute per sensor.
public struct LogThrottle: Sendable {
    public let interval: Duration
    private var lastLogged: [String: Timestamp] = [:]
    private var suppressed: [String: Int] = [:]

    public init(interval: Duration = .seconds(60)) {
        self.interval = interval
    }

    /// Whether to log now for `key`; when it is, also how many messages were held back since the last one.
    public mutating func admit(_ key: String, at time: Timestamp) -> (admitted: Bool, suppressed: Int) {
        if let last = lastLogged[key], time - last < interval {
            suppressed[key, default: 0] += 1
            return (false, 0)
        }
        lastLogged[key] = time
        let held = suppressed.removeValue(forKey: key) ?? 0
        return (true, held)
    }
}
