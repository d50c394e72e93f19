import KlimavagtSystem

/// Counts of what the inputs received and refused, per sensor and reason, for logs, the CLI and metrics.
///
/// Thread-safe: inputs count from their own tasks, readers take snapshots.
public final class InputHealth: Sendable {
    private struct Counts {
        var received: [String: Int] = [:]
        var rejected: [String: [String: Int]] = [:]
    }

    /// Every count; a count only grows.
    private let counts = Locked(Counts())

    public init() {}

    func countReceived(_ sensor: String) {
        counts.withLock { $0.received[sensor, default: 0] += 1 }
    }

    func countRejected(_ sensor: String, reason: String) {
        counts.withLock { $0.rejected[sensor, default: [:]][reason, default: 0] += 1 }
    }

    /// Messages received per sensor.
    public var receivedCounts: [String: Int] { counts.withLock { $0.received } }

    /// Refused payloads per sensor and reason (`not_json`, `missing_field`, ...).
    public var rejectedCounts: [String: [String: Int]] { counts.withLock { $0.rejected } }
}
