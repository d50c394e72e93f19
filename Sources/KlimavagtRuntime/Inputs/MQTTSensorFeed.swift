import KlimavagtCore
import KlimavagtMQTT
import KlimavagtSystem
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

    let maximumSensors: Int
    let maximumSensorsPerTemplate: Int

    public init(client: MQTTClient, sensors: [Configuration.Sensor], pipeline: Pipeline, clock: any AgentClock,
                health: InputHealth, logger: Logger, maximumSensors: Int = 1000, maximumSensorsPerTemplate: Int = 256)
    {
        self.maximumSensors = maximumSensors
        self.maximumSensorsPerTemplate = maximumSensorsPerTemplate
        self.client = client
        self.sensors = sensors.filter { if case .mqtt = $0.input { true } else { false } }
        self.pipeline = pipeline
        self.clock = clock
        self.health = health
        self.logger = logger
    }

    public func run() async throws {
        let state = FeedState(router: PayloadRouter(
            sensors: sensors, maximumSensors: maximumSensors, maximumSensorsPerTemplate: maximumSensorsPerTemplate))
        for filter in state.parts.withLock({ $0.router.filters }) {
            // The broker's acknowledgement is logged by the broker session, after every connect.
            try await client.subscribe(filter)
        }
        // Messages are routed on the network thread as they arrive, and their readings go straight into the
        // pipeline: no thread hand-off per message, which at thousands a second was most of the input's cost.
        client.messages.deliverOnNetworkThread { [self] batch in handle(batch, state: state) }
        try? await gracefulShutdown()
        client.messages.stopDelivering()
        logSummary()
    }

    /// The router and the log throttle. Only the network thread's handler uses them, one batch at a time, so the
    /// lock is never contended; it is taken before the pipeline's, never after.
    final class FeedState: Sendable {
        struct Parts {
            var router: PayloadRouter
            var throttle = LogThrottle(interval: .seconds(60))
        }

        let parts: Locked<Parts>

        init(router: sending PayloadRouter) {
            parts = Locked(Parts(router: router))
        }
    }

    /// Routes a batch of messages and hands their readings to the pipeline in one call.
    private func handle(_ batch: [MQTTMessage], state: FeedState) {
        state.parts.withLock { handle(batch, parts: &$0) }
    }

    private func handle(_ batch: [MQTTMessage], parts: inout FeedState.Parts) {
        let now = clock.now()
        var readings: [Reading] = []
        var topics: [String] = []
        readings.reserveCapacity(batch.count)
        for message in batch {
            let outcome = parts.router.route(topic: message.topic, payload: message.payload, arrival: now)
            for sensor in outcome.newSensors {
                logger.info("MQTT input: new sensor \(sensor.id) on \(PayloadRejection.excerpt(message.topic))")
                pipeline.register(sensor)
            }
            for reading in outcome.readings {
                health.countReceived(reading.sensor)
                AgentMetrics.received(sensor: reading.sensor)
                readings.append(reading)
                topics.append(message.topic)
            }
            for (sensor, rejection) in outcome.rejections {
                health.countReceived(sensor)
                AgentMetrics.received(sensor: sensor)
                refuse(sensor, rejection, topic: message.topic, throttle: &parts.throttle, at: now)
            }
        }
        guard !readings.isEmpty else { return }
        let refused = pipeline.ingest(readings)
        guard !refused.isEmpty else { return }
        for (sensor, rejection) in refused {
            let topic = readings.indices.first { readings[$0].sensor == sensor }.map { topics[$0] } ?? "?"
            refuse(sensor, rejection, topic: topic, throttle: &parts.throttle, at: now)
        }
    }

    /// Counts a refused payload and logs it, at most once a minute per sensor with the number held back.
    private func refuse(_ sensor: String, _ rejection: PayloadRejection, topic: String, throttle: inout LogThrottle,
                        at now: Timestamp)
    {
        health.countRejected(sensor, reason: rejection.reason)
        AgentMetrics.refused(sensor: sensor, reason: rejection.reason)
        let (admitted, heldBack) = throttle.admit(sensor, at: now)
        guard admitted else { return }
        let more = heldBack > 0 ? " (\(heldBack) more refused since the last message)" : ""
        logger.warning("MQTT input \(PayloadRejection.excerpt(sensor)): payload on \(PayloadRejection.excerpt(topic)) refused, \(rejection.reason): \(rejection)\(more)")
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
