/// How serious a firing alert is, ordered `warning` < `severe` < `extreme`.
public enum Severity: String, Sendable, Comparable, CaseIterable, Codable {
    case warning
    case severe
    case extreme

    public static func < (lhs: Severity, rhs: Severity) -> Bool {
        lhs.rank < rhs.rank
    }

    private var rank: Int {
        switch self {
        case .warning: 0
        case .severe: 1
        case .extreme: 2
        }
    }
}
