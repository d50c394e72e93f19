import ArgumentParser
import Foundation
import KlimavagtRuntime

extension Klimavagt {
    /// Replays a trace through the rules and prints the alert events.
    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a CSV trace (time,sensor,value) through the rules; print each alert event as a JSON line.")

        @OptionGroup var options: ConfigOptions

        @Argument(help: "The trace: a CSV file with the header time,sensor,value.")
        var trace: String

        func run() async throws {
            let configuration = try options.load()
            let readings: Trace
            do {
                readings = try Trace.load(trace, sensors: Set(configuration.sensors.map(\.id)))
            } catch {
                FileHandle.standardError.write(Data("\(error.description)\n".utf8))
                throw ExitCode(ExitStatus.dataError)
            }
            do {
                for event in try KlimavagtRuntime.Replay.events(configuration: configuration, trace: readings) {
                    print(event.json)
                }
            } catch {
                FileHandle.standardError.write(Data("klimavagt: \(error)\n".utf8))
                throw ExitCode(ExitStatus.configuration)
            }
        }
    }
}
