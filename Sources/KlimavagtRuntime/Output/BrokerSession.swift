import Dispatch
import KlimavagtCore
import KlimavagtMQTT
import Logging
import ServiceLifecycle

/// Keeps the broker session up for the agent and announces `online` on `PREFIX/status` after every connect.
///
/// Runs first in the service group, so it stops last: on shutdown it publishes `offline` and disconnects cleanly.
public struct BrokerSession: Service {
    let client: MQTTClient
    let statusTopic: String
    let logger: Logger
    /// Whether to say `offline` when stopping: not when the agent only restarts its services for a reload.
    let announceOffline: @Sendable () -> Bool

    public init(client: MQTTClient, statusTopic: String, logger: Logger,
                announceOffline: @escaping @Sendable () -> Bool = { true })
    {
        self.client = client
        self.statusTopic = statusTopic
        self.logger = logger
        self.announceOffline = announceOffline
    }

    public func run() async throws {
        let options = client.options
        logger.info("MQTT: connecting to \(options.host):\(options.port) as \(options.clientID)")
        client.start()
        // The first failed attempt is logged at once, then one line a minute with the count, until a session is up.
        var failures = LogThrottle(interval: .seconds(60))
        var failedSinceSession = 0
        for await event in client.connectionEvents.cancelOnGracefulShutdown() {
            switch event {
            case .connectFailed(let error):
                failedSinceSession += 1
                let now = Timestamp(nanoseconds: Int64(clamping: DispatchTime.now().uptimeNanoseconds))
                let (admitted, heldBack) = failures.admit("connect", at: now)
                guard admitted else { continue }
                let count = heldBack > 0 ? " (\(heldBack + 1) attempts failed since the last line)" : ""
                logger.error("MQTT: cannot connect to \(options.host):\(options.port): \(error)\(count); retrying, at most every \(DurationText.format(options.reconnectMaximum))")
            case .subscribed(let filter, let granted):
                if granted {
                    logger.info("MQTT: subscribed to \(filter)")
                } else {
                    logger.error("MQTT: the broker refused the subscription to \(filter)")
                }
            case .connected:
                let after = failedSinceSession > 0 ? " after \(failedSinceSession) failed attempts" : ""
                failedSinceSession = 0
                failures = LogThrottle(interval: .seconds(60))
                logger.info("MQTT: session up with \(options.host):\(options.port)\(after)")
                do {
                    try await client.publish(statusTopic, payload: Array("online".utf8), qos: .atLeastOnce, retain: true)
                } catch {
                    logger.warning("MQTT: could not announce online: \(error)")
                }
            case .disconnected(let error):
                logger.warning("MQTT: session lost (\(error.map(String.init(describing:)) ?? "no reason")); reconnecting")
            }
        }
        if announceOffline() { await sayOffline() }
        client.close()
        logger.info("MQTT: closed")
    }

    /// Publishes `offline`, waiting at most two seconds for the broker's PUBACK.
    private func sayOffline() async {
        guard client.connected else { return }
        let client = self.client, topic = statusTopic
        let (firstDone, signal) = AsyncStream<Void>.makeStream()
        // A publish still waiting when the timer wins is released by close(), which the caller does next.
        let publishing = Task {
            try? await client.publish(topic, payload: Array("offline".utf8), qos: .atLeastOnce, retain: true)
            signal.yield()
        }
        let timer = Task {
            try? await Task.sleep(for: .seconds(2))
            signal.yield()
        }
        var waiter = firstDone.makeAsyncIterator()
        _ = await waiter.next()
        timer.cancel()
        _ = publishing
    }
}
