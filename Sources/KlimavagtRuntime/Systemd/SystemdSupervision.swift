import Foundation
import KlimavagtMQTT
import Logging
import ServiceLifecycle

/// Reports to systemd: `READY=1` once the inputs and the store are open and the broker session is up (or has been
/// tried for ten seconds), `STATUS=` lines a person can read, and `WATCHDOG=1` only while the pipeline answers and
/// the MQTT thread goes round its loop, so a wedged rule loop or network thread leads systemd to restart the agent.
public struct SystemdSupervision: Service {
    let notifier: SystemdNotifier
    let client: MQTTClient
    let pipeline: Pipeline
    let status: @Sendable () -> String
    let logger: Logger

    public init(notifier: SystemdNotifier, client: MQTTClient, pipeline: Pipeline, logger: Logger,
                status: @escaping @Sendable () -> String)
    {
        self.notifier = notifier
        self.client = client
        self.pipeline = pipeline
        self.logger = logger
        self.status = status
    }

    public func run() async throws {
        guard notifier.isActive else { return }
        await cancelWhenGracefulShutdown {
            // The inputs and the store were opened before the services started; wait for the broker a little.
            for _ in 0..<1000 where !client.connected {
                try? await Task.sleep(for: .milliseconds(10))
            }
            notifier.notify("READY=1\nSTATUS=\(status())")
            logger.info("systemd: ready\(notifier.watchdogInterval.map { "; watchdog every \($0)" } ?? "")")
            let period = Self.period(watchdog: notifier.watchdogInterval)
            var passes = client.networkLoopPasses
            while !Task.isCancelled {
                try? await Task.sleep(for: period)
                // A shutdown cancels the sleep; by then the MQTT thread may have been closed on purpose, which is no
                // wedged thread to report (seen under systemd: an error line at every stop).
                guard !Task.isCancelled else { break }
                // A connect blocked on the network is not a wedged thread, until it outlasts the kernel's own limits.
                let loopAlive = client.networkLoopPasses != passes
                    || (client.connectingFor.map { $0 < Self.longestConnect } ?? false)
                passes = client.networkLoopPasses
                let pipelineAlive = pipeline.answers(within: period)
                if notifier.watchdogInterval != nil {
                    if loopAlive && pipelineAlive {
                        notifier.notify("WATCHDOG=1")
                    } else {
                        logger.error("systemd: \(pipelineAlive ? "the MQTT thread has stopped" : "the pipeline does not answer"); withholding the watchdog so that systemd restarts the agent")
                    }
                }
                notifier.notify("STATUS=\(status())")
            }
        }
        // STOPPING=1 is not sent here: the services also end for a reload, and STOPPING=1 would make systemd stop
        // the unit (AgentSignals sends it for SIGTERM and SIGINT, RELOADING=1 for SIGHUP).
    }

    /// The longest a blocking connect may take before the MQTT thread counts as wedged: the kernel gives up a TCP
    /// connect after about 127 s (`tcp_syn_retries` 6), a name lookup after a few tries of 5 s.
    static let longestConnect: Duration = .seconds(180)

    /// How often the supervision checks and reports: half the watchdog interval, or every 30 s without a watchdog.
    static func period(watchdog: Duration?) -> Duration {
        watchdog.map { $0 / 2 } ?? .seconds(30)
    }

    /// The longest the MQTT thread may sleep in one pass: a third of the check period, so that it passes its loop at
    /// least twice between two checks and an idle agent still wakes rarely (every 5 s with `WatchdogSec=30s`).
    public static func networkIdleWait(watchdog: Duration?) -> Duration {
        max(.milliseconds(100), period(watchdog: watchdog) / 3)
    }
}
