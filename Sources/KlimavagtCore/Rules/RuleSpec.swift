/// A configured rule: what it watches and when it fires.
public struct RuleSpec: Sendable, Equatable {
    public var id: String
    public var kind: AlertKind
    public var sensor: String
    /// The rolling window of a window rule (`cloudburst`, `heavy_rain`) or of a `rate_of_rise` rule.
    public var window: Duration
    public var levels: SeverityLevels
    /// For level rules: how far below a level (in the sensor's unit) a reading must be before it counts as left.
    public var hysteresis: Double
    /// For level rules: how long readings must stay below the band before the severity falls.
    public var hold: Duration
    /// For `threshold`: whether the rule fires above its levels (the default) or below them.
    public var below: Bool
    /// How long the condition must hold, pending, before the rule fires (`for`); zero fires at once.
    public var pendingFor: Duration = .zero
    /// While firing, how often the event is sent again (a new `seq`); `nil` never.
    public var renotify: Duration?

    public init(
        id: String, kind: AlertKind, sensor: String, window: Duration = .zero, levels: SeverityLevels,
        hysteresis: Double = 0, hold: Duration = .zero, below: Bool = false
    ) {
        self.id = id
        self.kind = kind
        self.sensor = sensor
        self.window = window
        self.levels = levels
        self.hysteresis = hysteresis
        self.hold = hold
        self.below = below
    }

    /// DMI's skybrud: more than 15, 30 or 45 mm within 30 minutes.
    public static func cloudburst(id: String, sensor: String) -> RuleSpec {
        RuleSpec(id: id, kind: .cloudburst, sensor: sensor, window: .seconds(30 * 60),
                 levels: SeverityLevels([.warning: 15, .severe: 30, .extreme: 45]))
    }

    /// DMI's kraftig regn: more than 24 mm within 6 hours.
    public static func heavyRain(id: String, sensor: String) -> RuleSpec {
        RuleSpec(id: id, kind: .heavyRain, sensor: sensor, window: .seconds(6 * 3600),
                 levels: SeverityLevels([.warning: 24]))
    }
}
