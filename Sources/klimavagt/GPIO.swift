import ArgumentParser
import KlimavagtGPIO

extension Klimavagt {
    /// GPIO diagnostics.
    struct GPIO: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gpio", abstract: "Inspect the board's GPIO chips and lines.", subcommands: [List.self])

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

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
    func rightPadded(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
