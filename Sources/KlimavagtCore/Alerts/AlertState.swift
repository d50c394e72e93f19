/// Where a rule's alert stands in its lifecycle.
public enum AlertState: String, Sendable, Codable {
    case inactive
    case pending
    case firing
    case resolved
    case nodata
}
