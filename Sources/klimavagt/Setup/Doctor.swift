import ArgumentParser
import Foundation
import KlimavagtMQTT
import KlimavagtRuntime

extension Klimavagt {
    /// Checks what the agent needs, one line each, with the fix for what is wrong.
    struct Doctor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the configuration, GPIO access, the broker and its credentials, the clock, the state directory and the running agent; one line each, with a fix.")

        @Option(name: .shortAndLong, help: "The YAML configuration file.")
        var config: String = "/etc/klimavagt/klimavagt.yaml"

        @Option(help: ArgumentHelp(ConfigOptions.devicesHelp))
        var devices: String?

        @Option(help: "The state directory (default: $STATE_DIRECTORY, else /var/lib/klimavagt).")
        var stateDir: String?

        @OptionGroup var control: ControlOptions

        struct Finding {
            var ok: Bool
            var subject: String
            var detail: String
            var fix: String?
        }

        func run() async throws {
            var findings: [Finding] = []
            func report(_ finding: Finding) {
                findings.append(finding)
                var line = "\(finding.ok ? "ok  " : "FAIL") \(finding.subject): \(finding.detail)"
                if let fix = finding.fix, !finding.ok { line += "\n     fix: \(fix)" }
                print(line)
            }
            let configuration: KlimavagtRuntime.Configuration
            do {
                configuration = try ConfigurationLoader.load(config, devicesDirectory: devices)
                report(Finding(ok: true, subject: "configuration", detail: "\(config): \(configuration.sensors.count) sensors, \(configuration.rules.count) rules"))
            } catch {
                report(Finding(ok: false, subject: "configuration", detail: "\(error)", fix: "correct the file at the place named, then run klimavagt check-config"))
                throw ExitCode(ExitStatus.configuration)
            }
            for sensor in configuration.sensors {
                guard case .gpio(let input) = sensor.input else { continue }
                do {
                    try input.open(for: "doctor").close()
                    report(Finding(ok: true, subject: "GPIO \(sensor.id)", detail: "\(input.chip) line \(input.line) can be opened"))
                } catch {
                    report(Finding(ok: false, subject: "GPIO \(sensor.id)", detail: "\(error)",
                                   fix: "check the chip and line with klimavagt gpio list; the service user needs the gpio group"))
                }
            }
            report(await broker(configuration))
            report(clock())
            report(stateDirectory())
            report(agent())
            report(watchdog())
            if findings.contains(where: { !$0.ok }) { throw ExitCode(ExitStatus.unavailable) }
        }

        func broker(_ configuration: KlimavagtRuntime.Configuration) async -> Finding {
            var mqtt = configuration.mqtt
            mqtt.clientID = "\(mqtt.clientID)-doctor-\(UUID().uuidString.prefix(6).lowercased())"
            mqtt.will = nil
            let subject = "broker \(mqtt.host):\(mqtt.port)"
            do {
                let client = try MQTTClient(mqtt)
                defer { client.close() }
                try await client.connect()
                let login = mqtt.username.map { " as \($0)" } ?? ""
                return Finding(ok: true, subject: subject, detail: "connected\(mqtt.tls == nil ? "" : " over TLS")\(login)")
            } catch {
                return Finding(ok: false, subject: subject, detail: MQTT.Probe.explain(error),
                               fix: "run klimavagt mqtt probe for details; check mqtt: in the configuration")
            }
        }

        func clock() -> Finding {
            switch StatusReporter.clockSynchronised() {
            case true?: return Finding(ok: true, subject: "clock", detail: "synchronised")
            case false?: return Finding(ok: false, subject: "clock", detail: "not synchronised: alert times may be wrong",
                                        fix: "enable time synchronisation: systemctl enable --now systemd-timesyncd (or chrony)")
            case nil: return Finding(ok: false, subject: "clock", detail: "the kernel cannot be asked", fix: "check adjtimex permissions")
            }
        }

        func stateDirectory() -> Finding {
            let path = stateDir ?? ProcessInfo.processInfo.environment["STATE_DIRECTORY"]?
                .split(separator: ":").first.map(String.init) ?? "/var/lib/klimavagt"
            var stats = statvfs()
            guard statvfs(path, &stats) == 0 else {
                return Finding(ok: false, subject: "state directory", detail: "\(path) does not exist",
                               fix: "create it (systemd's StateDirectory= does), or pass --state-dir")
            }
            guard access(path, W_OK) == 0 else {
                return Finding(ok: false, subject: "state directory", detail: "\(path) is not writable by this user",
                               fix: "run as the service user, or chown it to that user")
            }
            let free = Int64(stats.f_bavail) * Int64(stats.f_frsize)
            let text = Status.bytes(free)
            guard free >= 50_000_000 else {
                return Finding(ok: false, subject: "state directory", detail: "\(path): only \(text) free; the journals need room",
                               fix: "free space on that file system")
            }
            return Finding(ok: true, subject: "state directory", detail: "\(path): writable, \(text) free")
        }

        func agent() -> Finding {
            let path = control.socket ?? defaultControlSocket
            do {
                let answer = try ControlClient.ask("ping", at: path)
                return Finding(ok: answer == "pong", subject: "agent", detail: "running, answering on \(path)")
            } catch {
                return Finding(ok: false, subject: "agent", detail: error.description,
                               fix: "start it: systemctl start klimavagt (journalctl -u klimavagt says why it stopped)")
            }
        }

        func watchdog() -> Finding {
            let unit = "/usr/lib/systemd/system/klimavagt.service"
            guard let text = try? String(contentsOfFile: unit, encoding: .utf8) else {
                return Finding(ok: false, subject: "systemd watchdog", detail: "no unit at \(unit)",
                               fix: "install the package, or copy Systemd/klimavagt.service there and run systemctl daemon-reload")
            }
            let watchdog = text.split(separator: "\n").first { $0.hasPrefix("WatchdogSec=") }
            guard let watchdog else {
                return Finding(ok: false, subject: "systemd watchdog", detail: "\(unit) sets no WatchdogSec=",
                               fix: "use the unit from the package: a wedged agent is then restarted")
            }
            return Finding(ok: true, subject: "systemd watchdog", detail: "\(unit): \(watchdog), Type=notify")
        }
    }
}
