/// The one human sentence (in Danish, as operators read it) that goes with an alert event.
enum AlertMessage {
    static func text(kind: AlertKind, state: AlertState, value: Double, unit: String, window: Duration?, sensor: String)
        -> String
    {
        let name: String
        switch kind {
        case .cloudburst: name = "Skybrud"
        case .heavyRain: name = "Kraftig regn"
        case .stormSurge: name = "Stormflod"
        case .rateOfRise: name = "Hurtig vandstandsstigning"
        case .threshold: name = "Grænseværdi"
        case .stale: name = "Ingen data"
        }
        let prefix: String
        switch state {
        case .resolved: prefix = "\(name) ophørt"
        case .nodata: prefix = "\(name): ingen data"
        default: prefix = name
        }
        var text = "\(prefix): \(decimal(value)) \(unit)"
        if let window { text += " på \(duration(window))" }
        return text + " (\(sensor))"
    }

    /// The value with one decimal, rounded half away from zero.
    static func decimal(_ value: Double) -> String {
        // Readings lie within ±1e15 (`Limits`), but a rate of rise is a quotient: anything past Int64 is written as is.
        guard value.isFinite, let tenths = Int64(exactly: (value * 10).rounded(.toNearestOrAwayFromZero)) else {
            return String(describing: value)
        }
        let sign = tenths < 0 ? "-" : ""
        let magnitude = tenths.magnitude
        return "\(sign)\(magnitude / 10).\(magnitude % 10)"
    }

    static func duration(_ duration: Duration) -> String {
        let seconds = duration.wholeSeconds
        if seconds % 3600 == 0 && seconds >= 7200 { return "\(seconds / 3600) t" }
        if seconds % 60 == 0 { return "\(seconds / 60) min" }
        return "\(seconds) s"
    }
}
