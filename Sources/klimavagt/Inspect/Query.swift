import ArgumentParser
import Foundation
import KlimavagtRuntime

extension Klimavagt {
    /// Reads a sensor's history from the running agent's store.
    struct Query: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a sensor's readings from the agent's store, consolidated per step, with a sparkline.")

        @Argument(help: "The sensor id.")
        var sensor: String

        @Option(help: "How far back: 90s, 30m, 2h, 7d.")
        var since: String = "2h"

        @Option(help: "The step to consolidate at: 1m, 5m, 1h.")
        var step: String = "5m"

        @Option(help: "table, csv or json.")
        var format: Format = .table

        @OptionGroup var control: ControlOptions

        enum Format: String, ExpressibleByArgument, CaseIterable {
            case table, csv, json
        }

        func validate() throws {
            guard let since = DurationText.parse(since), since >= .seconds(1) else {
                throw ValidationError("--since: expected a duration such as 30m, 2h or 7d, found '\(since)'")
            }
            guard let step = DurationText.parse(step), step >= .seconds(1) else {
                throw ValidationError("--step: expected a duration such as 1m, 5m or 1h, found '\(step)'")
            }
            guard since >= step else { throw ValidationError("--step must not be longer than --since") }
            guard since / step <= 100_000 else { throw ValidationError("--since / --step gives more than 100 000 steps") }
        }

        func run() async throws {
            let since = DurationText.parse(self.since)!.components.seconds
            let step = DurationText.parse(self.step)!.components.seconds
            let answer = try control.ask("query \(sensor) \(since) \(step)")
            if format == .json {
                print(answer)
                return
            }
            let points = try control.decode([QueryPoint].self, from: answer)
            if format == .csv {
                print("time,count,min,avg,max,last,unit")
                for point in points {
                    print([point.time, String(point.count), Status.number(point.minimum), Status.number(point.average),
                           Status.number(point.maximum), Status.number(point.last), point.unit].joined(separator: ","))
                }
                return
            }
            guard !points.isEmpty else {
                print("\(sensor): no readings in the last \(self.since)")
                return
            }
            var rows = [["TIME", "COUNT", "MIN", "AVG", "MAX", "LAST"]]
            for point in points {
                rows.append([point.time, String(point.count), Status.number(point.minimum),
                             Status.number((point.average * 1000).rounded() / 1000), Status.number(point.maximum),
                             Status.number(point.last)])
            }
            print(Table.render(rows))
            print("\(sensor) (\(points.first?.unit ?? "")), average per \(self.step): \(Self.sparkline(points.map(\.average)))")
        }

        /// One block character per value, from its place between the minimum and maximum.
        static func sparkline(_ values: [Double]) -> String {
            let blocks = Array("▁▂▃▄▅▆▇█")
            guard let low = values.min(), let high = values.max() else { return "" }
            return String(values.map { value in
                // A place that is not a finite number in 0...count (values too far apart for a Double) draws the lowest block.
                let place = ((value - low) / (high - low) * Double(blocks.count)).rounded(.down)
                guard high != low, let index = Int(exactly: place.isFinite ? max(0, place) : 0) else { return blocks[0] }
                return blocks[min(blocks.count - 1, index)]
            })
        }
    }
}
