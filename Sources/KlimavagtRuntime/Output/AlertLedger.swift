import KlimavagtCore
import KlimavagtSystem
import Logging

/// The durable alert state, and its one owner: each rule's lifecycle (`seq`, state, `since`, last event) and every
/// event decided and not yet acknowledged by the broker, kept in the state directory's `outbox.journal`
/// (`OutboxJournal`) so that they survive SIGKILL, power loss, a full disk and a restart.
///
/// At start the agent reads the lifecycles from it, merges the broker's retained states and adopts the newer back
/// into it, and hands them to the pipeline; the outbox then records in it each event as it is decided, its first
/// publication and its acknowledgement. Without a state directory it keeps the adopted lifecycles for this run only.
///
/// Threading: every method may be called from any thread; the journal, which is not thread-safe, is used only under
/// `state`'s lock. The outbox calls it under its own lock, so journal order is its queue order (outbox, then ledger:
/// the ledger never calls out).
public final class AlertLedger: Sendable {
    fileprivate struct State {
        let journal: OutboxJournal?
        /// Lifecycles adopted from elsewhere (the broker's retained states), newer than the journal's at the time.
        var adopted: [String: AlertLifecycle] = [:]
        var writeErrors = 0
        var lastWriteError: String?
    }

    private let state: Locked<State>
    private let logger: Logger
    /// Whether the state is on disk (a state directory was given).
    public let isDurable: Bool

    /// Opens the journal in `stateDirectory` (none keeps the state in memory only), recovering what it holds.
    public init(stateDirectory: String?, logger: Logger) throws {
        let journal = try stateDirectory.map { try OutboxJournal(directory: $0, logger: logger) }
        isDurable = journal != nil
        state = Locked(State(journal: journal))
        self.logger = logger
    }

    /// The lifecycle of every rule, as the journal last recorded it or as adopted since, the newer `seq` winning.
    public var lifecycles: [String: AlertLifecycle] {
        state.withLock { ($0.journal?.lifecycles ?? [:]).merging($0.adopted) { $0.seq >= $1.seq ? $0 : $1 } }
    }

    /// Takes each rule's lifecycle from `lifecycles` where it is newer (a higher seq) than the ledger's, and journals
    /// it; without a journal they are kept for this run.
    public func adopt(_ lifecycles: [String: AlertLifecycle]) {
        state.withLock { state in
            for (rule, lifecycle) in lifecycles.sorted(by: { $0.key < $1.key }) {
                guard (state.adopted[rule]?.seq ?? state.journal?.lifecycles[rule]?.seq ?? -1) < lifecycle.seq
                else { continue }
                state.adopted[rule] = lifecycle
                do {
                    try state.journal?.adopt(lifecycle, rule: rule)
                } catch {
                    state.noteWriteError(error)
                    logger.error("outbox: cannot write the restored state of rule \(rule) to the journal (\(error)); it is kept in memory only")
                }
            }
        }
    }

    /// The journal's size and its write failures (a full disk or quota), for the CLI's status and the health topic.
    public var health: (path: String?, bytes: UInt64, writeErrors: Int, lastError: String?) {
        state.withLock { ($0.journal?.path, $0.journal?.size ?? 0, $0.writeErrors, $0.lastWriteError) }
    }

    // For the outbox.

    /// The events from before the restart that wait for the broker, in the order they were decided.
    var pending: [OutboxJournal.Entry] {
        state.withLock { $0.journal?.pending ?? [] }
    }

    /// Journals a decided event; its number, or nil without a journal. A failure is counted and thrown.
    func record(_ event: AlertEvent, since: Timestamp) throws -> Int64? {
        try state.withLock { state -> Int64? in
            do {
                return try state.journal?.append(event, since: since).number
            } catch {
                state.noteWriteError(error)
                throw error
            }
        }
    }

    /// Journals the first publication of event `number`; a failure is counted and thrown.
    func recordPublished(_ number: Int64, at time: Timestamp) throws {
        try state.withLock { state in
            do { try state.journal?.markPublished(number, at: time) } catch {
                state.noteWriteError(error)
                throw error
            }
        }
    }

    /// Journals the broker's acknowledgement of event `number`; a failure is counted and thrown.
    func recordAcknowledged(_ number: Int64) throws {
        try state.withLock { state in
            do { try state.journal?.markAcknowledged(number) } catch {
                state.noteWriteError(error)
                throw error
            }
        }
    }
}

extension AlertLedger.State {
    fileprivate mutating func noteWriteError(_ error: any Error) {
        writeErrors += 1
        lastWriteError = "\(FileErrorText.describe(error))"
    }
}
