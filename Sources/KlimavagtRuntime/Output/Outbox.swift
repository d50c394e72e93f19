import DequeModule
import Foundation
import KlimavagtCore
import KlimavagtMQTT
import KlimavagtSystem
import Logging
import ServiceLifecycle

/// Delivers alert events and states, then telemetry, to the broker in the order they were produced.
///
/// Alert events go to the on-disk journal before anything else happens to them and leave it only when the broker
/// has acknowledged both the event and the rule's retained state, so they survive broker outages and agent restarts,
/// in order. Telemetry (sensor states) is kept in memory under a quota and dropped oldest-first beyond it. Each
/// message waits for its PUBACK before the next is sent. Thread-safety: `enqueue` may be called from any task; one
/// delivery loop runs in `run()`.
public final class Outbox: Service, Sendable {
    public enum Message: Sendable {
        case alert(AlertEvent, since: Timestamp)
        case retained(topic: String, payload: String)
        /// A rule's retained state published again at start: it goes in order with the alert events, so it never
        /// lands on the broker after a newer event's state.
        case alertState(topic: String, payload: String)
    }

    fileprivate struct AlertItem {
        var journalNumber: Int64?
        var event: AlertEvent
        var since: Timestamp
        var publishedAt: Timestamp?
    }

    /// What the ordered lane holds: alert events, and rules' states published again at start.
    fileprivate enum Ordered {
        case alert(AlertItem)
        case state(topic: String, payload: String)

        var isAlert: Bool {
            if case .alert = self { true } else { false }
        }
    }

    /// What waits for the broker, behind `queue`'s lock; the ledger is recorded in under it too.
    fileprivate struct Queue {
        let ledger: AlertLedger
        let logger: Logger
        let telemetryQuota: Int
        /// Invariant: an alert is in `alerts` exactly while its journal entry waits for the broker's acknowledgement.
        var alerts: [Ordered] = []
        /// Oldest first; a deque, as the head is delivered and, over the quota, dropped: an array shifted all its
        /// messages each time, a fifth of the agent's instructions when the broker fell behind a flood.
        var telemetry = Deque<(topic: String, payload: String)>()
        var droppedTelemetry = 0
    }

    private let client: MQTTClient
    private let topics: ContractTopics
    private let clock: any AgentClock
    private let logger: Logger
    /// The durable alert state, which the outbox records delivery in; the agent owns it.
    public let ledger: AlertLedger
    private let drainTimeout: Duration
    /// What waits, and every record of an alert in the ledger, are under this lock, so journal order is queue order.
    private let queue: Locked<Queue>
    private let signals: AsyncStream<Void>
    private let signal: AsyncStream<Void>.Continuation

    /// Delivers for `ledger`, first the events from before the restart that it still holds.
    public init(client: MQTTClient, prefix: String, clock: any AgentClock, logger: Logger, ledger: AlertLedger,
                telemetryQuota: Int = 1000, drainTimeout: Duration = .seconds(5))
    {
        self.client = client
        self.topics = ContractTopics(prefix: prefix)
        self.clock = clock
        self.logger = logger
        self.drainTimeout = drainTimeout
        self.ledger = ledger
        (signals, signal) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        var queue = Queue(ledger: ledger, logger: logger, telemetryQuota: telemetryQuota)
        queue.alerts = ledger.pending.map {
            .alert(AlertItem(journalNumber: $0.number, event: $0.event, since: $0.since, publishedAt: $0.publishedAt))
        }
        let waiting = !queue.alerts.isEmpty
        self.queue = Locked(queue)
        if waiting { signal.yield() }
    }

    /// The journal's size and its write failures (a full disk or quota), for the CLI's status.
    public var journalHealth: (path: String?, bytes: UInt64, writeErrors: Int, lastError: String?) {
        ledger.health
    }

    /// Alert events waiting for the broker, and telemetry messages waiting or dropped.
    public var depth: (alerts: Int, telemetry: Int, droppedTelemetry: Int) {
        queue.withLock { queue in (queue.alerts.count { $0.isAlert }, queue.telemetry.count, queue.droppedTelemetry) }
    }

    public func enqueue(_ message: Message) {
        queue.withLock { $0.enqueue(message) }
        signal.yield()
    }

    /// Ends the queue: `run()` returns once everything enqueued before has been delivered (or the drain times out).
    public func finish() {
        signal.finish()
    }

    public func run() async throws {
        let draining = Task {
            for await _ in self.signals { await self.drain() }
            await self.drain()
        }
        let drainTimeout = self.drainTimeout
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await draining.value
            } onGracefulShutdown: { [self] in
                // In its turn of the group's shutdown (after the pipeline, which enqueues no more), the queue ends
                // once drained, within a bounded time; the journal keeps the rest.
                finish()
                Task {
                    try? await Task.sleep(for: drainTimeout)
                    draining.cancel()
                }
            }
        } onCancel: {
            draining.cancel()
        }
        let left = depth
        if left.alerts > 0 {
            logger.warning("outbox: \(left.alerts) alert events not yet acknowledged; \(!ledger.isDurable ? "they are lost (no state directory)" : "the journal delivers them after the restart")")
        }
    }

    /// Delivers queued messages, alerts first, until the queue is empty or the task is cancelled.
    private func drain() async {
        while !Task.isCancelled {
            if let first = queue.withLock({ $0.alerts.first }) {
                guard case .alert(var item) = first else {
                    if case .state(let topic, let payload) = first {
                        guard await deliver(topic: topic, payload: payload, retain: true) else { return }
                        queue.withLock { _ = $0.alerts.removeFirst() }
                    }
                    continue
                }
                if item.publishedAt == nil {
                    let now = clock.now()
                    item.publishedAt = now
                    // The journal is not thread-safe: every write to it, here as in `enqueue`, is under the lock.
                    queue.withLock { queue in
                        _ = queue.journalCatchUp()
                        if case .alert(let head) = queue.alerts[0], let number = head.journalNumber {
                            do { try ledger.recordPublished(number, at: now) } catch {
                                logger.error("outbox: cannot record publication in the journal: \(FileErrorText.describe(error))")
                            }
                        }
                        if case .alert(var head) = queue.alerts[0] {
                            head.publishedAt = now
                            queue.alerts[0] = .alert(head)
                        }
                    }
                }
                var event = item.event
                event.publishedAt = item.publishedAt
                guard await deliver(topic: topics.alertEvent(event.rule), payload: event.json, retain: false),
                      await deliver(topic: topics.alertState(event.rule), payload: event.stateJSON(since: item.since), retain: true)
                else { return }
                queue.withLock { queue in
                    // The head's own number: a catch-up may have journalled it while it was being delivered.
                    if case .alert(let head) = queue.alerts[0], let number = head.journalNumber {
                        do { try ledger.recordAcknowledged(number) } catch {
                            logger.error("outbox: cannot record an acknowledgement in the journal: \(error)")
                        }
                    }
                    queue.alerts.removeFirst()
                }
                logger.info("alert \(event.rule) \(event.state.rawValue) \(event.severity.rawValue): \(event.message)")
            } else if let message = queue.withLock({ $0.telemetry.first }) {
                guard await deliver(topic: message.topic, payload: message.payload, retain: true) else { return }
                queue.withLock { _ = $0.telemetry.removeFirst() }
            } else {
                return
            }
        }
    }

    /// Publishes until the broker acknowledges; false when the client closed or the task was cancelled.
    private func deliver(topic: String, payload: String, retain: Bool) async -> Bool {
        var attempt = 0
        while !Task.isCancelled {
            do {
                try await client.publish(topic, payload: Array(payload.utf8), qos: .atLeastOnce, retain: retain)
                AgentMetrics.published(kind: retain ? "retained" : "alert_event")
                return true
            } catch {
                if error.kind == .closed || error.kind == .cancelled { return false }
                attempt += 1
                if attempt == 1 || attempt % 60 == 0 {
                    logger.warning("publishing to \(topic) failed (\(error)); retrying")
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        return false
    }
}

extension Outbox.Queue {
    mutating func enqueue(_ message: Outbox.Message) {
        switch message {
        case .alert(let event, let since):
            var number: Int64?
            if journalCatchUp() {
                do {
                    number = try ledger.record(event, since: since)
                } catch {
                    logger.error("outbox: cannot write alert \(event.rule) seq \(event.seq) to the journal (\(FileErrorText.describe(error))); it is kept in memory until the journal can be written")
                }
            } else {
                logger.error("outbox: alert \(event.rule) seq \(event.seq) is kept in memory until the journal can be written")
            }
            alerts.append(.alert(Outbox.AlertItem(journalNumber: number, event: event, since: since)))
        case .alertState(let topic, let payload):
            alerts.append(.state(topic: topic, payload: payload))
        case .retained(let topic, let payload):
            telemetry.append((topic, payload))
            if telemetry.count > telemetryQuota {
                telemetry.removeFirst(telemetry.count - telemetryQuota)
                droppedTelemetry += 1
                if droppedTelemetry == 1 || droppedTelemetry % 1000 == 0 {
                    logger.warning("outbox: telemetry over its quota of \(telemetryQuota); \(droppedTelemetry) oldest messages dropped so far")
                }
            }
        }
    }

    /// Writes the alerts that a failed journal write left in memory only to the journal, in order, with their first
    /// publication if they have one; true when none is left (or there is no journal).
    /// Journal order stays decision order: a new event is appended only after every earlier one is in.
    mutating func journalCatchUp() -> Bool {
        guard ledger.isDurable else { return true }
        var written = 0
        defer {
            if written > 0 {
                logger.notice("outbox: \(written) alert events kept in memory while the journal could not be written are in it now")
            }
        }
        for index in alerts.indices {
            guard case .alert(var item) = alerts[index], item.journalNumber == nil else { continue }
            do {
                guard let number = try ledger.record(item.event, since: item.since) else { return true }
                item.journalNumber = number
                alerts[index] = .alert(item)
                if let published = item.publishedAt { try ledger.recordPublished(number, at: published) }
                written += 1
            } catch {
                return false
            }
        }
        return true
    }
}
