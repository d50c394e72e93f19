import ArgumentParser
import Foundation
import KlimavagtRuntime
import Logging

extension Klimavagt {
    /// Runs the agent.
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the agent: read the inputs, apply the rules, publish alerts.",
            discussion: """
                SIGTERM or SIGINT stops it gracefully; SIGHUP reloads the configuration, keeping the running one if the \
                new one is invalid.

                Environment: NOTIFY_SOCKET and WATCHDOG_USEC (systemd's Type=notify and watchdog), JOURNAL_STREAM \
                (journald priority prefixes), STATE_DIRECTORY and RUNTIME_DIRECTORY (defaults for --state-dir and \
                --control-socket), CREDENTIALS_DIRECTORY (for password_file), KLIMAVAGT_DEVICES (the device \
                profiles), KLIMAVAGT_EXECUTOR=dispatch (run tasks on libdispatch's pool instead of the agent's own, \
                which lets an idle agent sleep).
                """)

        @OptionGroup var options: ConfigOptions

        @Flag(help: "Stop once every input has ended and every rule window has emptied (for demos and traces).")
        var exitWhenInputsEnd = false

        @Option(help: "Where the outbox journal, the pulse totals and the store live (default: $STATE_DIRECTORY, else /var/lib/klimavagt).")
        var stateDir: String?

        @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
        var logLevel: Logger.Level = .info

        @Option(help: ArgumentHelp(controlSocketHelp))
        var controlSocket: String?

        func run() async throws {
            let configuration = try options.load()
            let logger = makeLogger(level: logLevel)
            // Only with a metrics port; a reload cannot add one later (swift-metrics is bootstrapped once).
            if configuration.metricsPort != nil { Agent.bootstrapMetrics() }
            do {
                let state = stateDir ?? ProcessInfo.processInfo.environment["STATE_DIRECTORY"]?
                    .split(separator: ":").first.map(String.init) ?? "/var/lib/klimavagt"
                try await Agent.run(configuration: configuration, stateDirectory: state,
                                    exitWhenInputsEnd: exitWhenInputsEnd, logger: logger,
                                    controlSocket: controlSocket ?? defaultControlSocket, version: Klimavagt.version,
                                    reload: { [options] in
                                        try ConfigurationLoader.load(options.config, devicesDirectory: options.devices)
                                    })
            } catch let error as Agent.StartError {
                FileHandle.standardError.write(Data("klimavagt: \(error.description)\n".utf8))
                throw ExitCode(error.exitStatus)
            }
        }
    }
}
