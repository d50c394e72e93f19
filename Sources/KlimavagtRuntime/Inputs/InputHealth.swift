import Foundation

/// Counts of what the inputs received and refused, per sensor and reason, for logs, the CLI and metrics.
///
/// Thread-safe: inputs count from their own tasks, readers take snapshots.
public final class InputHealth: @unchecked Sendable {
    private let lock = NSLock()
    private var received: [String: Int] = [:]
    private var rejected: [String: [String: Int]] = [:]

    public init() {}

    func countReceived(_ sensor: String) {
        lock.withLock { received[sensor, default: 0] += 1 }
    }

    func countRejected(_ sensor: String, reason: String) {
        lock.withLock { rejected[sensor, default: [:]][reason, default: 0] += 1 }
    }

    /// Messages received per sensor.
    public var receivedCounts: [String: Int] { lock.withLock { received } }

    /// Refused payloads per sensor and reason (`not_json`, `missing_field`, ...).
    public var rejectedCounts: [String: [String: Int]] { lock.withLock { rejected } }
}
