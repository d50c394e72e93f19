import Foundation
import Metrics

/// The agent's metrics through swift-metrics: counted where things happen, so they cost nothing when no metrics
/// backend is bootstrapped (the default), and read from the running parts at each scrape for the gauges.
public enum AgentMetrics {
    static func received(sensor: String) {
        Counter(label: "klimavagt_payloads_received_total", dimensions: [("sensor", sensor)]).increment()
    }

    static func refused(sensor: String, reason: String) {
        Counter(label: "klimavagt_payloads_refused_total", dimensions: [("sensor", sensor), ("reason", reason)]).increment()
    }

    static func published(kind: String) {
        Counter(label: "klimavagt_mqtt_messages_published_total", dimensions: [("kind", kind)]).increment()
    }

    static func edge(sensor: String, accepted: Bool) {
        Counter(label: "klimavagt_gpio_pulses_total",
                dimensions: [("sensor", sensor), ("verdict", accepted ? "accepted" : "rejected")]).increment()
    }

    static func alertEvent(rule: String, state: String) {
        Counter(label: "klimavagt_alert_events_total", dimensions: [("rule", rule), ("state", state)]).increment()
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
