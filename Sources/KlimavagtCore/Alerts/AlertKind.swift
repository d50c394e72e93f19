/// The kinds of rule the contract names.
public enum AlertKind: String, Sendable, Codable, CaseIterable {
    case cloudburst
    case heavyRain = "heavy_rain"
    case stormSurge = "storm_surge"
    case rateOfRise = "rate_of_rise"
    case threshold
    case stale
}
