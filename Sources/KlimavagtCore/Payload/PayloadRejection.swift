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
    /// A number outside what `Limits` accepts (a value past 10¹⁵, a time outside 1900–2099, a pulse count past 10⁹,
    /// a window sum or total that would overflow).
    case outOfRange(String)
    /// An id made from topic levels that breaks the rules configured ids obey.
    case badSensorID(id: String, reason: String)
    /// A template would make a sensor past the bound on sensors.
    case sensorLimit(String)

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
        case .outOfRange: "out_of_range"
        case .badSensorID: "bad_sensor_id"
        case .sensorLimit: "sensor_limit"
        }
    }

    public var description: String {
        switch self {
        case .tooLarge(let bytes, let limit): "payload of \(bytes) bytes is over the limit of \(limit)"
        case .notJSON(let detail): "not JSON: \(detail)"
        case .missingField(let path): "no field \(path)"
        case .wrongType(let path, let found): "\(path) is a \(found), expected a number"
        case .notANumber(let path): "\(path) is not a number (NaN or infinity)"
        case .badTime(let path, let text): "\(path) '\(Self.excerpt(text))' is not a time this profile understands, in 1900–2099"
        case .outOfOrder(let time, let latest):
            "reading for \(time.rfc3339) is older than the latest one (\(latest.rfc3339))"
        case .outOfRange(let detail): detail
        case .badSensorID(let id, let reason): "the sensor id '\(Self.excerpt(id))' made from the topic \(reason)"
        case .sensorLimit(let detail): detail
        }
    }

    /// At most 80 characters of a text from outside, for a log line.
    public static func excerpt(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard scalars.count > 80 else { return text }
        var short = String.UnicodeScalarView()
        short.append(contentsOf: scalars.prefix(77))
        return String(short) + "… (\(text.utf8.count) bytes)"
    }
}
