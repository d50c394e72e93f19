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
            do {
                try KlimavagtRuntime.Replay.run(configuration: configuration, file: trace) { event in
                    print(event.json)
                }
            } catch {
                switch error {
                case .line(let line):
                    FileHandle.standardError.write(Data("\(line.description)\n".utf8))
                    throw ExitCode(ExitStatus.dataError)
                case .setup(let setup):
                    FileHandle.standardError.write(Data("klimavagt: \(setup)\n".utf8))
                    throw ExitCode(ExitStatus.configuration)
                }
            }
        }
    }
}
