import Foundation
import Metrics

/// The agent's metrics through swift-metrics: counted where things happen, and read from the running parts at each
/// scrape for the gauges.
///
/// Each counter is made once and kept: the MQTT input counts every message on its hot path, and making a counter
/// asks the metrics backend (a lock and a registry lookup with Prometheus) every time.
public enum AgentMetrics {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var counters: [String: Counter] = [:]

    private static func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
        let key = label + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        return lock.withLock {
            if let known = counters[key] { return known }
            let made = Counter(label: label, dimensions: dimensions)
            counters[key] = made
            return made
        }
    }

    /// The received counter of each sensor, found without building its key: one per message on the hot path.
    nonisolated(unsafe) private static var receivedBySensor: [String: Counter] = [:]   // guarded by `lock`

    static func received(sensor: String) {
        if let known = lock.withLock({ receivedBySensor[sensor] }) {
            known.increment()
            return
        }
        let made = counter("klimavagt_payloads_received_total", [("sensor", sensor)])
        lock.withLock { receivedBySensor[sensor] = made }
        made.increment()
    }

    static func refused(sensor: String, reason: String) {
        counter("klimavagt_payloads_refused_total", [("sensor", sensor), ("reason", reason)]).increment()
    }

    static func published(kind: String) {
        counter("klimavagt_mqtt_messages_published_total", [("kind", kind)]).increment()
    }

    static func edge(sensor: String, accepted: Bool) {
        counter("klimavagt_gpio_pulses_total", [("sensor", sensor), ("verdict", accepted ? "accepted" : "rejected")])
            .increment()
    }

    static func alertEvent(rule: String, state: String) {
        counter("klimavagt_alert_events_total", [("rule", rule), ("state", state)]).increment()
    }

    /// Sets the gauges read from the running parts: outbox depth, store size, resident memory.
    public static func refresh(outbox: Outbox, store: TimeSeriesStore) {
        let depth = outbox.depth
        Gauge(label: "klimavagt_outbox_alert_events_waiting").record(depth.alerts)
        Gauge(label: "klimavagt_outbox_telemetry_waiting").record(depth.telemetry)
        Gauge(label: "klimavagt_outbox_telemetry_dropped").record(depth.droppedTelemetry)
        var bytes = 0
        for id in store.sensorIDs { bytes += store.series(id)?.compressedBytes ?? 0 }
        Gauge(label: "klimavagt_store_compressed_bytes").record(bytes)
        Gauge(label: "klimavagt_store_journal_bytes_written").record(store.statistics.journalBytesWritten)
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
           let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        {
            Gauge(label: "klimavagt_resident_memory_bytes").record(kilobytes * 1024)
        }
    }
}
