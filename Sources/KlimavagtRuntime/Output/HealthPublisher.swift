import Foundation
import KlimavagtCore
import ServiceLifecycle

/// Publishes the agent's own health, retained on `PREFIX/health`, at start and every `interval`: alert events
/// waiting in the outbox, refused payloads, outbox journal write errors, clock synchronisation and the time of the
/// last start. Home Assistant shows them as the agent device's diagnostics (`HomeAssistantDiscovery`).
struct HealthPublisher: Service {
    let topic: String
    let outbox: Outbox
    let health: InputHealth
    let started: Timestamp
    let version: String
    let interval: Duration

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                outbox.enqueue(.retained(topic: topic, payload: payload()))
                try? await Task.sleep(for: interval)
            }
        }
    }

    func payload() -> String {
        var refused = 0
        for counts in health.rejectedCounts.values {
            for count in counts.values {
                let (sum, overflow) = refused.addingReportingOverflow(count)
                refused = overflow ? Int.max : sum
            }
        }
        let journal = outbox.journalHealth
        var json = JSONText()
        json.add("version", version)
        json.add("started_at", started.rfc3339)
        json.add("alerts_waiting", Int64(outbox.depth.alerts))
        json.add("telemetry_dropped", Int64(outbox.depth.droppedTelemetry))
        json.add("payloads_refused", Int64(refused))
        json.add("journal_write_errors", Int64(journal.writeErrors))
        switch StatusReporter.clockSynchronised() {
        case .some(let synchronised): json.addRaw("clock_synchronised", synchronised ? "true" : "false")
        case .none: json.addRaw("clock_synchronised", "null")
        }
        return json.text
    }
}
