import DequeModule
import Foundation
import KlimavagtCore
import KlimavagtMQTT
import Logging
import ServiceLifecycle
import Synchronization

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

    /// What waits for the broker, and the journal (which is not thread-safe), all behind `queue`'s lock.
    fileprivate struct Queue {
        let journal: OutboxJournal?
        let logger: Logger
        let telemetryQuota: Int
        /// Invariant: an alert is in `alerts` exactly while its journal entry waits for the broker's acknowledgement.
        var alerts: [Ordered] = []
        /// Oldest first; a deque, as the head is delivered and, over the quota, dropped: an array shifted all its
        /// messages each time, a fifth of the agent's instructions when the broker fell behind a flood.
        var telemetry = Deque<(topic: String, payload: String)>()
        var droppedTelemetry = 0
        var journalErrors = 0
        var lastJournalError: String?
        /// Lifecycles adopted from elsewhere (the broker's retained states), newer than the journal's at the time.
        var restored: [String: AlertLifecycle] = [:]
    }

    private let client: MQTTClient
    private let topics: ContractTopics
    private let clock: any AgentClock
    private let logger: Logger
    private let hasJournal: Bool
    private let drainTimeout: Duration
    /// Every use of the journal and of what waits is under this lock, so journal order is queue order.
    private let queue: Mutex<Queue>
    private let signals: AsyncStream<Void>
    private let signal: AsyncStream<Void>.Continuation

    /// Opens the journal in `stateDirectory` (none keeps alerts in memory only) and queues what it still holds.
    public init(client: MQTTClient, prefix: String, clock: any AgentClock, logger: Logger, stateDirectory: String?,
                telemetryQuota: Int = 1000, drainTimeout: Duration = .seconds(5)) throws
    {
        self.client = client
        self.topics = ContractTopics(prefix: prefix)
        self.clock = clock
        self.logger = logger
        self.drainTimeout = drainTimeout
        let journal = try stateDirectory.map { try OutboxJournal(directory: $0, logger: logger) }
        hasJournal = journal != nil
        (signals, signal) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        var queue = Queue(journal: journal, logger: logger, telemetryQuota: telemetryQuota)
        queue.alerts = (journal?.pending ?? []).map {
            .alert(AlertItem(journalNumber: $0.number, event: $0.event, since: $0.since, publishedAt: $0.publishedAt))
        }
        let waiting = !queue.alerts.isEmpty
        self.queue = Mutex(queue)
        if waiting { signal.yield() }
    }

    /// The lifecycle of every rule as the journal last recorded it, to carry `seq` and state across a restart.
    public var restoredLifecycles: [String: AlertLifecycle] {
        queue.withLock { ($0.journal?.lifecycles ?? [:]).merging($0.restored) { $0.seq >= $1.seq ? $0 : $1 } }
    }

    /// Takes each rule's lifecycle from `lifecycles` where it is newer (a higher seq) than the journal's, and journals
    /// it; without a journal they are kept for this run.
    public func adopt(_ lifecycles: [String: AlertLifecycle]) {
        queue.withLock { queue in
            for (rule, lifecycle) in lifecycles.sorted(by: { $0.key < $1.key }) {
                guard (queue.restored[rule]?.seq ?? queue.journal?.lifecycles[rule]?.seq ?? -1) < lifecycle.seq
                else { continue }
                queue.restored[rule] = lifecycle
                do {
                    try queue.journal?.adopt(lifecycle, rule: rule)
                } catch {
                    queue.noteJournalError(error)
                    logger.error("outbox: cannot write the restored state of rule \(rule) to the journal (\(error)); it is kept in memory only")
                }
            }
        }
    }

    /// The journal's size and its write failures (a full disk or quota), for the CLI's status.
    public var journalHealth: (path: String?, bytes: UInt64, writeErrors: Int, lastError: String?) {
        queue.withLock { ($0.journal?.path, $0.journal?.size ?? 0, $0.journalErrors, $0.lastJournalError) }
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
            logger.warning("outbox: \(left.alerts) alert events not yet acknowledged; \(!hasJournal ? "they are lost (no state directory)" : "the journal delivers them after the restart")")
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
                            do { try queue.journal?.markPublished(number, at: now) } catch {
                                queue.noteJournalError(error)
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
                        do { try queue.journal?.markAcknowledged(number) } catch {
                            queue.noteJournalError(error)
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
                    number = try journal?.append(event, since: since).number
                } catch {
                    noteJournalError(error)
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
        guard let journal else { return true }
        var written = 0
        defer {
            if written > 0 {
                logger.notice("outbox: \(written) alert events kept in memory while the journal could not be written are in it now")
            }
        }
        for index in alerts.indices {
            guard case .alert(var item) = alerts[index], item.journalNumber == nil else { continue }
            do {
                let number = try journal.append(item.event, since: item.since).number
                item.journalNumber = number
                alerts[index] = .alert(item)
                if let published = item.publishedAt { try journal.markPublished(number, at: published) }
                written += 1
            } catch {
                noteJournalError(error)
                return false
            }
        }
        return true
    }

    mutating func noteJournalError(_ error: any Error) {
        journalErrors += 1
        lastJournalError = "\(FileErrorText.describe(error))"
    }
}
