import Logging
import ServiceLifecycle

/// Writes the store's new samples to its journal every flush interval, and closes it last thing on shutdown.
///
/// It comes before the outbox and the pipeline in the service group, so it stops after both: the pipeline's last
/// readings are flushed.
public struct StoreService: Service {
    let store: TimeSeriesStore
    let flushInterval: Duration
    let logger: Logger

    public init(store: TimeSeriesStore, flushInterval: Duration, logger: Logger) {
        self.store = store
        self.flushInterval = flushInterval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    // Real time, not the agent's (simulated) clock: the interval bounds what a crash can lose.
                    try await Task.sleep(for: flushInterval)
                } catch {
                    break
                }
                store.flush()
            }
        }
        store.close()
        let statistics = store.statistics
        logger.info("store: closed; \(statistics.journalBytesWritten) journal bytes and \(statistics.snapshotsWritten) snapshots written this run")
    }
}
