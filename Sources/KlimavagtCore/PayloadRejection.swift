/// Why a sensor payload gave no reading; each reason is counted per sensor.
public enum PayloadRejection: Error, Sendable, Equatable, CustomStringConvertible {
    case tooLarge(bytes: Int, limit: Int)
    case notJSON(String)
    case missingField(path: String)
    case wrongType(path: String, found: String)
    case notANumber(path: String)
    case badTime(path: String, text: String)
    /// Older than the sensor's latest reading; readings are kept in event-time order.
    case outOfOrder(time: Timestamp, latest: Timestamp)

    /// The counter's name, as metrics and the CLI show it.
    public var reason: String {
        switch self {
        case .tooLarge: "too_large"
        case .notJSON: "not_json"
        case .missingField: "missing_field"
        case .wrongType: "wrong_type"
        case .notANumber: "not_a_number"
        case .badTime: "bad_time"
        case .outOfOrder: "out_of_order"
        }
    }

    public var description: String {
        switch self {
        case .tooLarge(let bytes, let limit): "payload of \(bytes) bytes is over the limit of \(limit)"
        case .notJSON(let detail): "not JSON: \(detail)"
        case .missingField(let path): "no field \(path)"
        case .wrongType(let path, let found): "\(path) is a \(found), expected a number"
        case .notANumber(let path): "\(path) is not a number (NaN or infinity)"
        case .badTime(let path, let text): "\(path) '\(text)' is not a time this profile understands"
        case .outOfOrder(let time, let latest):
            "reading for \(time.rfc3339) is older than the latest one (\(latest.rfc3339))"
        }
    }
}
