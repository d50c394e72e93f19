/// One change of an alert's state, with the fields of the contract's alert event.
public struct AlertEvent: Sendable, Equatable, Codable {
    public var id: String
    public var seq: Int64
    public var site: String
    public var rule: String
    public var kind: AlertKind
    public var state: AlertState
    public var severity: Severity
    public var sensor: String
    public var value: Double
    public var unit: String
    public var threshold: Double
    public var windowSeconds: Int64?
    public var eventTime: Timestamp
    /// When the event was first handed to the broker; `nil` until then.
    public var publishedAt: Timestamp?
    public var message: String

    public init(
        id: String, seq: Int64, site: String, rule: String, kind: AlertKind, state: AlertState,
        severity: Severity, sensor: String, value: Double, unit: String, threshold: Double,
        windowSeconds: Int64?, eventTime: Timestamp, publishedAt: Timestamp?, message: String
    ) {
        self.id = id
        self.seq = seq
        self.site = site
        self.rule = rule
        self.kind = kind
        self.state = state
        self.severity = severity
        self.sensor = sensor
        self.value = value
        self.unit = unit
        self.threshold = threshold
        self.windowSeconds = windowSeconds
        self.eventTime = eventTime
        self.publishedAt = publishedAt
        self.message = message
    }
}
