/// The one human sentence (in Danish, as operators read it) that goes with an alert event.
enum AlertMessage {
    static func text(kind: AlertKind, state: AlertState, value: Double, unit: String, window: Duration?, sensor: String)
        -> String
    {
        let prefix: String
        switch state {
        case .resolved: prefix = "\(name(of: kind)) ophørt"
        case .nodata: prefix = "\(name(of: kind)): ingen data"
        default: prefix = name(of: kind)
        }
        var text = "\(prefix): \(decimal(value)) \(unit)"
        if let window { text += " på \(duration(window))" }
        return text + " (\(sensor))"
    }

    /// The sentence of a `nodata` event of a rule that has judged no reading: there is no value to show.
    static func noReading(kind: AlertKind, sensor: String) -> String {
        "\(name(of: kind)): ingen data: ingen måling endnu (\(sensor))"
    }

    static func name(of kind: AlertKind) -> String {
        RuleKind.of(kind).message
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
