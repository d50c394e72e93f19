/// A question the CLI asks the running agent on its control socket, one line of words:
/// `ping`, `status`, `sensors`, `alerts`, `history`, or `query SENSOR SINCE_SECONDS STEP_SECONDS`, separated by
/// any whitespace.
///
/// The line comes from outside the agent, so `parse` refuses rather than traps: numbers are whole decimal seconds
/// in `secondsRange`, a query has at most `maximumSteps` steps and a sensor id at most `maximumSensorBytes` bytes.
/// Within these bounds `sinceSeconds * 1_000_000_000` fits an `Int64` (about 3.2e17 of 9.2e18).
///
/// Threading: a value type without shared state; `parse` is a pure function.
public enum ControlRequest: Sendable, Equatable {
    case ping
    case status
    case sensors
    case alerts
    case history
    /// The readings of `sensor` in the last `sinceSeconds`, consolidated per `stepSeconds`.
    case query(sensor: String, sinceSeconds: Int64, stepSeconds: Int64)

    /// How far back a query may reach, and its step: 1 s to 10 years (of 365 days).
    public static let secondsRange: ClosedRange<Int64> = 1...315_360_000
    /// The most steps a query may ask for (`sinceSeconds / stepSeconds`).
    public static let maximumSteps: Int64 = 100_000
    /// The longest sensor id a query may name, in UTF-8 bytes.
    public static let maximumSensorBytes = 128

    /// Why a request line was refused, in words for the person at the CLI.
    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        public let message: String

        public init(_ message: String) {
            self.message = message
        }

        public var description: String { message }
    }

    /// The request a line asks, or why it is refused; leading and trailing blanks (and a line's end) are ignored.
    public static func parse(_ line: String) -> Result<ControlRequest, Refusal> {
        // Character.isWhitespace, not a list of scalars: "\r\n" is one Character, neither "\r" nor "\n".
        let words = line.split(whereSeparator: \.isWhitespace)
        guard let verb = words.first else { return .failure(unknown) }
        let simple: [Substring: ControlRequest] = [
            "ping": .ping, "status": .status, "sensors": .sensors, "alerts": .alerts, "history": .history,
        ]
        if let request = simple[verb] {
            guard words.count == 1 else { return .failure(Refusal("\(verb) takes no arguments")) }
            return .success(request)
        }
        guard verb == "query" else { return .failure(unknown) }
        guard words.count == 4 else { return .failure(Refusal(queryUsage)) }
        let sensor = words[1]
        guard sensor.utf8.count <= maximumSensorBytes else {
            return .failure(Refusal("query: a sensor id has at most \(maximumSensorBytes) bytes"))
        }
        let since: Int64
        let step: Int64
        switch (seconds(words[2], "SINCE_SECONDS"), seconds(words[3], "STEP_SECONDS")) {
        case (.failure(let refusal), _), (_, .failure(let refusal)): return .failure(refusal)
        case (.success(let first), .success(let second)): (since, step) = (first, second)
        }
        // since / step <= maximumSteps, without dividing: step <= 315_360_000, so the product cannot overflow, but
        // it is checked all the same.
        let (most, overflow) = step.multipliedReportingOverflow(by: maximumSteps)
        guard !overflow, since <= most else {
            return .failure(Refusal("query: SINCE_SECONDS / STEP_SECONDS gives more than \(maximumSteps) steps"))
        }
        return .success(.query(sensor: String(sensor), sinceSeconds: since, stepSeconds: step))
    }

    static let unknown = Refusal("unknown request; known: status, sensors, alerts, history, query, ping")
    static let queryUsage = "query SENSOR SINCE_SECONDS STEP_SECONDS"

    /// A whole number of seconds in `secondsRange`: ASCII digits only (no sign), so `-1`, `+1`, `1e3` and `0x10`
    /// are refused, and a number too large for an `Int64` is refused instead of wrapping or trapping.
    static func seconds(_ word: Substring, _ name: String) -> Result<Int64, Refusal> {
        let refusal = Refusal("query: \(name) must be a whole number of seconds from \(secondsRange.lowerBound) to "
            + "\(secondsRange.upperBound) (10 years)")
        guard !word.isEmpty, word.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return .failure(refusal) }
        var value: Int64 = 0
        for digit in word.utf8 {
            let (shifted, overMultiply) = value.multipliedReportingOverflow(by: 10)
            let (sum, overAdd) = shifted.addingReportingOverflow(Int64(digit - 0x30))
            // Past the range is refused at once, so a string of a million digits costs no more than eleven.
            guard !overMultiply, !overAdd, sum <= secondsRange.upperBound else { return .failure(refusal) }
            value = sum
        }
        guard secondsRange.contains(value) else { return .failure(refusal) }
        return .success(value)
    }
}
