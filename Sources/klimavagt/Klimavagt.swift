import ArgumentParser
import Foundation
import KlimavagtRuntime
import Logging

/// The `klimavagt` command: the agent and the technician's tools.
struct Klimavagt: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "klimavagt",
        abstract: "Watches rain gauges and water levels and publishes cloudburst and storm-surge alerts over MQTT.",
        version: version,
        subcommands: [Run.self, Status.self, Sensors.self, Query.self, Alerts.self, CheckConfig.self, Replay.self, GPIO.self,
                      MQTT.self, Doctor.self])
}

/// Exit statuses from the contract (sysexits.h).
enum ExitStatus {
    static let usage: Int32 = 64
    static let dataError: Int32 = 65
    static let unavailable: Int32 = 69
    static let configuration: Int32 = 78
}

/// Options every command that reads a configuration shares.
struct ConfigOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "The YAML configuration file.")
    var config: String

    @Option(help: ArgumentHelp(Self.devicesHelp))
    var devices: String?

    static let devicesHelp =
        "The folder of device profiles (default: $KLIMAVAGT_DEVICES, /usr/share/klimavagt/devices, or Devices/ of a source checkout)."

    func validate() throws {
        guard FileManager.default.fileExists(atPath: config) else {
            throw ValidationError("no configuration file at '\(config)'")
        }
    }

    /// Loads the configuration or exits with status 78 and the located error.
    func load() throws -> KlimavagtRuntime.Configuration {
        do {
            return try ConfigurationLoader.load(config, devicesDirectory: devices)
        } catch {
            FileHandle.standardError.write(Data("klimavagt: \(error)\n".utf8))
            throw ExitCode(ExitStatus.configuration)
        }
    }
}

let controlSocketHelp = "The agent's control socket (default: $RUNTIME_DIRECTORY/control.sock, else /run/klimavagt/control.sock)."

/// Where the agent listens and the CLI asks: systemd's RuntimeDirectory= when set.
var defaultControlSocket: String {
    let runtime = ProcessInfo.processInfo.environment["RUNTIME_DIRECTORY"]?.split(separator: ":").first.map(String.init)
    return "\(runtime ?? "/run/klimavagt")/control.sock"
}

func makeLogger(level: Logger.Level) -> Logger {
    let journal = JournalLogHandler.standardErrorIsJournal
    var logger = Logger(label: "klimavagt") { label in
        journal ? JournalLogHandler(label: label) as any LogHandler : StreamLogHandler.standardError(label: label)
    }
    logger.logLevel = level
    return logger
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
