/// The agent's topics of the external contract (`CONTRACT.md`), all built here from the configured prefix
/// (`klimavagt/<site>` unless configured): every part that publishes, subscribes to or announces one of them asks
/// this type, so the contract's topic scheme is written once.
public struct ContractTopics: Sendable, Equatable {
    /// `PREFIX`, without a trailing slash.
    public let prefix: String

    public init(prefix: String) {
        self.prefix = prefix
    }

    /// `PREFIX/status`: `online` / `offline`, retained; the Last Will sets `offline`.
    public var status: String { "\(prefix)/status" }

    /// `PREFIX/health`: the agent's own health JSON, retained.
    public var health: String { "\(prefix)/health" }

    /// `PREFIX/sensors/<sensor>/state`: a sensor's state JSON, retained.
    public func sensorState(_ sensor: String) -> String { "\(prefix)/sensors/\(sensor)/state" }

    /// `PREFIX/alerts/<rule>/state`: a rule's alert state JSON, retained.
    public func alertState(_ rule: String) -> String { "\(prefix)/alerts/\(rule)/state" }

    /// `PREFIX/alerts/<rule>/event`: one alert event JSON per state change, not retained.
    public func alertEvent(_ rule: String) -> String { "\(prefix)/alerts/\(rule)/event" }

    /// The filter matching every rule's `PREFIX/alerts/<rule>/state`, read back at start.
    public var everyAlertState: String { "\(prefix)/alerts/+/state" }

    /// `PREFIX/probe/<suffix>`: outside the contract's topics, for `klimavagt mqtt probe` to publish to itself.
    public func probe(_ suffix: String) -> String { "\(prefix)/probe/\(suffix)" }
}
