/// The threshold of each severity a rule knows, in the unit of the value it watches.
public struct SeverityLevels: Sendable, Equatable {
    /// Thresholds ordered from the lowest severity to the highest.
    public let ordered: [(severity: Severity, threshold: Double)]

    public init(_ thresholds: [Severity: Double]) {
        ordered = Severity.allCases.compactMap { severity in
            thresholds[severity].map { (severity, $0) }
        }
    }

    public func threshold(of severity: Severity) -> Double? {
        ordered.first { $0.severity == severity }?.threshold
    }

    /// The highest severity whose threshold `value` is strictly above, if any.
    public func severity(for value: Double) -> Severity? {
        ordered.last { value > $0.threshold }?.severity
    }

    /// The threshold a value crosses on its way down to `severity` (or below every level when `nil`).
    public func thresholdLeft(above severity: Severity?) -> Double {
        guard let severity else { return ordered.first?.threshold ?? 0 }
        return ordered.first { $0.severity > severity }?.threshold ?? threshold(of: severity) ?? 0
    }

    public static func == (lhs: SeverityLevels, rhs: SeverityLevels) -> Bool {
        lhs.ordered.elementsEqual(rhs.ordered) { $0.severity == $1.severity && $0.threshold == $1.threshold }
    }
}
