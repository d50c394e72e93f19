import KlimavagtCore
import KlimavagtMQTT
import Logging
import ServiceLifecycle

/// Delivers alert events, alert states and sensor states to the broker in the order they were produced.
///
/// Each message is handed to the broker with QoS 1 and the next one waits for its PUBACK, so order holds across
/// reconnects. This outbox is held in memory: what has not been acknowledged when the agent stops is logged as lost.
public final class Outbox: Service, Sendable {
    public enum Message: Sendable {
        case alert(AlertEvent, since: Timestamp)
        case retained(topic: String, payload: String)
    }

    private let client: MQTTClient
    private let prefix: String
    private let clock: any AgentClock
    private let logger: Logger
    private let stream: AsyncStream<Message>
    private let sink: AsyncStream<Message>.Continuation

    public init(client: MQTTClient, prefix: String, clock: any AgentClock, logger: Logger) {
        self.client = client
        self.prefix = prefix
        self.clock = clock
        self.logger = logger
        (stream, sink) = AsyncStream.makeStream()
    }

    public func enqueue(_ message: Message) {
        sink.yield(message)
    }

    /// Ends the queue: `run()` returns once everything enqueued before has been delivered.
    public func finish() {
        sink.finish()
    }

    public func run() async throws {
        for await message in stream {
            switch message {
            case .alert(var event, let since):
                event.publishedAt = clock.now()
                let base = "\(prefix)/alerts/\(event.rule)"
                await deliver(topic: "\(base)/event", payload: event.json, retain: false)
                await deliver(topic: "\(base)/state", payload: event.stateJSON(since: since), retain: true)
                logger.info("alert \(event.rule) \(event.state.rawValue) \(event.severity.rawValue): \(event.message)")
            case .retained(let topic, let payload):
                await deliver(topic: topic, payload: payload, retain: true)
            }
        }
    }

    /// Publishes until the broker acknowledges; gives up only when the client is closed.
    private func deliver(topic: String, payload: String, retain: Bool) async {
        var attempt = 0
        while true {
            do {
                try await client.publish(topic, payload: Array(payload.utf8), qos: .atLeastOnce, retain: retain)
                return
            } catch {
                if error.kind == .closed {
                    logger.error("not delivered, the MQTT client closed first: \(topic) \(payload)")
                    return
                }
                attempt += 1
                if attempt == 1 || attempt % 60 == 0 {
                    logger.warning("publishing to \(topic) failed (\(error)); retrying")
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
