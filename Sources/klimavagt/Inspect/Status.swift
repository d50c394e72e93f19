import ArgumentParser
import Foundation
import KlimavagtRuntime

extension Klimavagt {
    /// Asks the running agent how it is.
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the running agent's state: broker, clock, outbox, store, each sensor and alert.")

        @OptionGroup var options: AnswerOptions

        func run() async throws {
            guard let answer = try options.textAnswer(to: "status") else { return }
            print(Self.describe(try options.control.decode(AgentStatus.self, from: answer)))
        }

        static func describe(_ status: AgentStatus) -> String {
            var lines: [String] = []
            lines.append("klimavagt \(status.version), site \(status.site), pid \(status.pid), up \(duration(status.uptimeSeconds)) (since \(status.startedAt))")
            let broker = status.broker.connected ? "connected" : "NOT connected" + (status.broker.lastError.map { ": \($0)" } ?? "")
            lines.append("broker \(status.broker.host):\(status.broker.port): \(broker)")
            let clock = status.clockSynchronised.map { $0 ? "synchronised" : "NOT synchronised (NTP has not set it)" } ?? "unknown"
            lines.append("clock: \(clock)")
            let free = status.stateFreeBytes.map { "\(bytes($0)) free" } ?? "free space unknown"
            lines.append("state directory \(status.stateDirectory): \(free)")
            let outbox = status.outbox
            var journal = "journal \(bytes(Int64(outbox.journalBytes)))"
            journal += outbox.journalWriteErrors == 0 ? ", no write errors"
                : ", \(outbox.journalWriteErrors) WRITE ERRORS (last: \(outbox.lastJournalError ?? "?")) — alert events are kept in memory only; free disk space"
            lines.append("outbox: \(outbox.alertsWaiting) alert events waiting, \(outbox.telemetryWaiting) telemetry, \(outbox.telemetryDropped) telemetry dropped; \(journal)")
            let store = status.store
            lines.append("store: \(store.series) series, \(store.samples) samples, \(bytes(Int64(store.compressedBytes))) compressed; \(bytes(Int64(store.journalBytesWritten))) journalled this run; \(store.rejectedLate) samples too late")
            for sensor in status.sensors {
                var line = "sensor \(sensor.id): "
                if let value = sensor.value, let time = sensor.time {
                    line += "\(number(value)) \(sensor.unit) at \(time), \(duration(sensor.ageSeconds ?? 0)) ago, \(sensor.quality ?? "ok")"
                } else {
                    line += "no reading yet"
                }
                if !sensor.refused.isEmpty {
                    line += "; refused " + sensor.refused.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                }
                lines.append(line)
            }
            for alert in status.alerts {
                var line = "alert \(alert.rule): \(alert.state)"
                if alert.state == "firing", let severity = alert.severity { line += " \(severity)" }
                if let since = alert.since { line += " since \(since)" }
                line += " (seq \(alert.seq))"
                lines.append(line)
            }
            return lines.joined(separator: "\n")
        }

        static func duration(_ seconds: Int64) -> String {
            if seconds < 0 { return "in \(duration(-seconds))" }
            if seconds < 120 { return "\(seconds) s" }
            if seconds < 7200 { return "\(seconds / 60) min" }
            if seconds < 172_800 { return "\(seconds / 3600) h \(seconds % 3600 / 60) min" }
            return "\(seconds / 86400) d"
        }

        static func bytes(_ count: Int64) -> String {
            let units = ["B", "kB", "MB", "GB", "TB"]
            var value = Double(count)
            var unit = 0
            while value >= 1000, unit < units.count - 1 {
                value /= 1000
                unit += 1
            }
            return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
        }

        static func number(_ value: Double) -> String {
            value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        }
    }
}
