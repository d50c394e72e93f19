import ArgumentParser
import Foundation
import KlimavagtRuntime

extension Klimavagt {
    /// Shows the running agent's alerts.
    struct Alerts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show each alert rule's state, or with --history the alert events since the agent started.")

        @Flag(help: "The alert events since the agent started (the latest 200), oldest first.")
        var history = false

        @OptionGroup var options: AnswerOptions

        func run() async throws {
            guard let answer = try options.textAnswer(to: history ? "history" : "alerts") else { return }
            if history {
                guard let events = try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [[String: Any]] else {
                    throw ExitCode(ExitStatus.unavailable)
                }
                if events.isEmpty { print("no alert events since the agent started") }
                for event in events {
                    let fields = ["event_time", "rule", "state", "severity", "seq", "message"].map { "\(event[$0] ?? "-")" }
                    print("\(fields[0])  \(fields[1]) \(fields[2]) \(fields[3]) (seq \(fields[4])): \(fields[5])")
                }
                return
            }
            let alerts = try options.control.decode([AgentStatus.Alert].self, from: answer)
            var rows = [["RULE", "STATE", "SEVERITY", "SINCE", "SEQ"]]
            for alert in alerts {
                rows.append([alert.rule, alert.state, alert.state == "firing" ? alert.severity ?? "-" : "-",
                             alert.since ?? "-", String(alert.seq)])
            }
            print(Table.render(rows))
        }
    }
}
