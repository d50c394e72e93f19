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

extension AlertLifecycle {
    /// The lifecycle an alert state payload (the contract's alert state JSON) describes, or nil if the payload is not
    /// one: every field must be present with its type and range (the payload comes from a broker anyone may write
    /// to), a seq must be a whole number from 1 to 2^53, and an `inactive` state (seq 0) describes no lifecycle.
    static func fromStateJSON(_ payload: [UInt8]) -> AlertLifecycle? {
        guard payload.count <= 16 * 1024, let json = try? JSONParser.parse(payload) else { return nil }
        func text(_ key: String) -> String? {
            if case .string(let value)? = json[key] { value } else { nil }
        }
        func number(_ key: String) -> Double? {
            if case .number(let value)? = json[key], Limits.contains(value: value) { value } else { nil }
        }
        func time(_ key: String) -> Timestamp? {
            text(key).flatMap { Timestamp(rfc3339: $0) }
        }
        guard let seqNumber = number("seq"), seqNumber >= 1, seqNumber <= 9_007_199_254_740_992,
              let seq = Int64(exactly: seqNumber),
              let id = text("id"), let site = text("site"), let rule = text("rule"),
              let kind = text("kind").flatMap(AlertKind.init(rawValue:)),
              let state = text("state").flatMap(AlertState.init(rawValue:)), state != .inactive, state != .pending,
              let severity = text("severity").flatMap(Severity.init(rawValue:)),
              let sensor = text("sensor"), let value = number("value"), let unit = text("unit"),
              let threshold = number("threshold"), let eventTime = time("event_time"), let since = time("since")
        else { return nil }
        var windowSeconds: Int64?
        if json["window_s"] != nil {
            guard let seconds = number("window_s").flatMap({ Int64(exactly: $0) }), seconds >= 0 else { return nil }
            windowSeconds = seconds
        }
        let event = AlertEvent(
            id: id, seq: seq, site: site, rule: rule, kind: kind, state: state, severity: severity, sensor: sensor,
            value: value, unit: unit, threshold: threshold, windowSeconds: windowSeconds, eventTime: eventTime,
            publishedAt: time("published_at"), message: text("message") ?? "")
        return AlertLifecycle(state: state, severity: severity, seq: seq, since: since, lastEvent: event)
    }
}
