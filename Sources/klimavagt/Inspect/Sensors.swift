import ArgumentParser
import Foundation
import KlimavagtRuntime

extension Klimavagt {
    /// Lists the running agent's sensors.
    struct Sensors: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the running agent's sensors: last reading, its age and quality, refused payloads.")

        @OptionGroup var options: AnswerOptions

        func run() async throws {
            guard let answer = try options.textAnswer(to: "sensors") else { return }
            let sensors = try options.control.decode([AgentStatus.Sensor].self, from: answer)
            var rows = [["SENSOR", "VALUE", "UNIT", "TIME", "AGE", "QUALITY", "REFUSED"]]
            for sensor in sensors {
                let refused = sensor.refused.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                rows.append([
                    sensor.id, sensor.value.map(Status.number) ?? "-", sensor.unit, sensor.time ?? "-",
                    sensor.ageSeconds.map(Status.duration) ?? "-", sensor.quality ?? "-", refused.isEmpty ? "-" : refused,
                ])
            }
            print(Table.render(rows))
        }
    }
}

/// Plain text tables with aligned columns.
enum Table {
    static func render(_ rows: [[String]]) -> String {
        guard let columns = rows.map(\.count).max() else { return "" }
        var widths = [Int](repeating: 0, count: columns)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
