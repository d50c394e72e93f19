import KlimavagtCore

extension AlertEvent {
    /// The contract's alert event JSON, one line.
    public var json: String {
        fields().text
    }

    /// The contract's alert state JSON: the event's fields plus `since`.
    public func stateJSON(since: Timestamp) -> String {
        var object = fields()
        object.add("since", since.rfc3339)
        return object.text
    }

    private func fields() -> JSONText {
        var object = JSONText()
        object.add("id", id)
        object.add("seq", seq)
        object.add("site", site)
        object.add("rule", rule)
        object.add("kind", kind.rawValue)
        object.add("state", state.rawValue)
        object.add("severity", severity.rawValue)
        object.add("sensor", sensor)
        object.add("value", value)
        object.add("unit", unit)
        object.add("threshold", threshold)
        if let windowSeconds { object.add("window_s", windowSeconds) }
        object.add("event_time", eventTime.rfc3339)
        object.add("published_at", (publishedAt ?? eventTime).rfc3339)
        object.add("message", message)
        return object
    }
}

extension RuleSpec {
    /// The alert state JSON of a rule that has never fired.
    func inactiveStateJSON(site: String, sensor: SensorSpec, since: Timestamp) -> String {
        var object = JSONText()
        object.add("seq", Int64(0))
        object.add("site", site)
        object.add("rule", id)
        object.add("kind", kind.rawValue)
        object.add("state", AlertState.inactive.rawValue)
        object.add("sensor", self.sensor)
        object.add("unit", sensor.unit)
        if let lowest = levels.ordered.first { object.add("threshold", lowest.threshold) }
        object.add("window_s", window.wholeSeconds)
        object.add("since", since.rfc3339)
        return object.text
    }
}
