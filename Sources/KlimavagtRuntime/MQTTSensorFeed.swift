import KlimavagtCore
import KlimavagtMQTT
import Logging
import ServiceLifecycle

/// Readings from JSON payloads on MQTT topics (Tasmota, Shelly, TTN, any JSON), through the agent's broker session.
///
/// A malformed payload never stops the feed: it is counted per sensor and reason in `health` and logged at most
/// once a minute per sensor, with the number of others held back.
public struct MQTTSensorFeed: Service {
    let client: MQTTClient
    let sensors: [Configuration.Sensor]
    let pipeline: Pipeline
    let clock: any AgentClock
    let health: InputHealth
    let logger: Logger

    public init(client: MQTTClient, sensors: [Configuration.Sensor], pipeline: Pipeline, clock: any AgentClock,
                health: InputHealth, logger: Logger)
    {
        self.client = client
        self.sensors = sensors.filter { if case .mqtt = $0.input { true } else { false } }
        self.pipeline = pipeline
        self.clock = clock
        self.health = health
        self.logger = logger
    }

    public func run() async throws {
        let state = FeedState(router: PayloadRouter(sensors: sensors))
        for filter in state.router.filters {
            try await client.subscribe(filter)
            logger.info("MQTT input: subscribed to \(filter)")
        }
        // Messages are routed on the network thread as they arrive, and their readings go straight into the
        // pipeline: no thread hand-off per message, which at thousands a second was most of the input's cost.
        client.messages.deliverOnNetworkThread { [self] batch in handle(batch, state: state) }
        try? await gracefulShutdown()
        client.messages.stopDelivering()
        logSummary()
    }

    /// The router and the log throttle; only the network thread's handler touches them, one batch at a time.
    final class FeedState: @unchecked Sendable {
        var router: PayloadRouter
        var throttle = LogThrottle(interval: .seconds(60))

        init(router: PayloadRouter) {
            self.router = router
        }
    }

    /// Routes a batch of messages and hands their readings to the pipeline in one call.
    private func handle(_ batch: [MQTTMessage], state: FeedState) {
        let now = clock.now()
        var readings: [Reading] = []
        readings.reserveCapacity(batch.count)
        for message in batch {
            let outcome = state.router.route(topic: message.topic, payload: message.payload, arrival: now)
            for sensor in outcome.newSensors {
                logger.info("MQTT input: new sensor \(sensor.id) on \(message.topic)")
                pipeline.register(sensor)
            }
            for reading in outcome.readings {
                health.countReceived(reading.sensor)
                AgentMetrics.received(sensor: reading.sensor)
                readings.append(reading)
            }
            for (sensor, rejection) in outcome.rejections {
                health.countReceived(sensor)
                health.countRejected(sensor, reason: rejection.reason)
                AgentMetrics.received(sensor: sensor)
                AgentMetrics.refused(sensor: sensor, reason: rejection.reason)
                let (admitted, heldBack) = state.throttle.admit(sensor, at: now)
                guard admitted else { continue }
                let more = heldBack > 0 ? " (\(heldBack) more refused since the last message)" : ""
                logger.warning("MQTT input \(sensor): payload on \(message.topic) refused, \(rejection.reason): \(rejection)\(more)")
            }
        }
        if !readings.isEmpty { pipeline.ingest(readings) }
    }

    /// One line per sensor with what it received and refused, so the journal keeps the counts past the agent's life.
    private func logSummary() {
        if client.droppedMessages > 0 {
            logger.error("MQTT input: \(client.droppedMessages) messages dropped because the agent fell behind the broker")
        }
        let received = health.receivedCounts
        let rejected = health.rejectedCounts
        for sensor in received.keys.sorted() {
            let reasons = rejected[sensor] ?? [:]
            let refused = reasons.values.reduce(0, +)
            let detail = reasons.isEmpty ? "" : " (" + reasons.sorted { $0.key < $1.key }
                .map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"
            logger.notice("MQTT input \(sensor): \(received[sensor]!) payloads, \(refused) refused\(detail)")
        }
    }
}
