import ArgumentParser
import Foundation
import KlimavagtCore
import KlimavagtGPIO
import KlimavagtRuntime

extension Klimavagt {
    /// GPIO diagnostics.
    struct GPIO: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gpio", abstract: "Inspect the board's GPIO chips and lines.",
            subcommands: [List.self, Monitor.self])

        /// Lists chips and lines as `gpioinfo` does.
        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List GPIO chips and their lines.")

            func run() async throws {
                let chips = GPIOChip.list()
                guard !chips.isEmpty else {
                    print("no GPIO chips found (no /dev/gpiochip*; is this a board with GPIO, and is the user in the gpio group?)")
                    throw ExitCode(69)
                }
                for chip in chips {
                    print("\(chip.name) [\(chip.label)] (\(chip.lines.count) lines)")
                    for line in chip.lines {
                        let name = line.name.map { "\"\($0)\"" } ?? "unnamed"
                        let consumer = line.consumer.map { "\"\($0)\"" } ?? (line.used ? "kernel" : "unused")
                        var flags = [line.direction.rawValue, line.activeLow ? "active-low" : "active-high"]
                        if let bias = line.bias { flags.append(bias.rawValue) }
                        print("  line \(String(line.offset).leftPadded(3)): \(name.rightPadded(16)) \(consumer.rightPadded(16)) \(flags.joined(separator: " "))")
                    }
                }
            }
        }
    }
}

extension Klimavagt.GPIO {
    /// Shows a line's edges as they come, with the width of each pulse and the debouncer's verdict.
    struct Monitor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a line's edges live, each pulse's width, and whether the debouncer accepts it (the line must not be in use by the agent).")

        @Argument(help: "The line: an offset or line name on --chip, or GPIO17 / a header pin number with --board.")
        var pin: String

        @Option(help: "The chip: path, name, label or number.")
        var chip = "gpiochip0"

        @Option(help: "A board profile (raspberry-pi-3, -4, -5) whose header names the pin; its chip is used.")
        var board: String?

        @Option(help: ArgumentHelp(ConfigOptions.devicesHelp))
        var devices: String?

        @Option(help: "Pull: pull_up, pull_down or disabled.")
        var bias: String?

        @Flag(help: "The line is active when low.")
        var activeLow = false

        @Option(help: "The shortest pulse that counts.")
        var minWidth = "10ms"

        @Option(help: "The longest pulse that counts.")
        var maxWidth = "1s"

        @Option(help: "Stop after this many edges (default: until Ctrl-C).")
        var count: Int?

        func validate() throws {
            guard let minimum = DurationText.parse(minWidth), let maximum = DurationText.parse(maxWidth), minimum < maximum else {
                throw ValidationError("--min-width and --max-width are durations, the first shorter (e.g. 10ms and 1s)")
            }
            if let bias, GPIOBias(rawValue: bias) == nil {
                throw ValidationError("--bias: expected pull_up, pull_down or disabled, found '\(bias)'")
            }
        }

        func run() async throws {
            var chipName = chip
            var line = pin
            if let board {
                guard let folder = DeviceCatalogue.locate(configured: devices),
                      let catalogue = try? DeviceCatalogue(directory: folder), let profile = catalogue.boards[board]
                else {
                    throw ValidationError("no board profile '\(board)' (see Devices/boards)")
                }
                guard let offset = profile.line(forPin: pin) else {
                    throw ValidationError("\(profile.name) has no pin '\(pin)'")
                }
                chipName = profile.chipLabel
                line = String(offset)
            }
            let monitor: GPIOLineMonitor
            do {
                let opened = try GPIOChip(chipName)
                defer { opened.close() }
                monitor = try opened.monitor(line: line, bias: bias.flatMap(GPIOBias.init(rawValue:)),
                                             activeLow: activeLow, consumer: "klimavagt-monitor")
            } catch {
                FileHandle.standardError.write(Data("klimavagt: \(error)\n".utf8))
                throw ExitCode(ExitStatus.unavailable)
            }
            defer { monitor.close() }
            print("watching \(chipName) line \(line) (now \((try? monitor.value()) ?? -1)); pulses count from \(minWidth) to \(maxWidth)")
            var detector = PulseDetector(minimumWidth: DurationText.parse(minWidth)!, maximumWidth: DurationText.parse(maxWidth)!)
            var previous: Int64?
            var seen = 0
            for await edge in monitor.edges {
                let since = previous.map { String(format: " +%.3f ms", Double(edge.timestampNanoseconds - $0) / 1e6) } ?? ""
                previous = edge.timestampNanoseconds
                var verdict = ""
                switch detector.edge(active: edge.kind == .rising, at: edge.timestampNanoseconds) {
                case .accepted(_, let width): verdict = String(format: "  pulse %.3f ms: accepted", Double(width) / 1e6)
                case .tooShort(_, let width): verdict = String(format: "  pulse %.3f ms: rejected, too short (bounce)", Double(width) / 1e6)
                case .tooLong(_, let width): verdict = String(format: "  pulse %.3f ms: rejected, too long (stuck)", Double(width) / 1e6)
                case .pending: break
                }
                print("\(edge.kind == .rising ? "rising " : "falling")\(since)\(verdict)")
                fflush(nil)   // every open stream: the edges show as they come, also into a pipe
                seen += 1
                if let count, seen >= count { break }
            }
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
    func rightPadded(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
