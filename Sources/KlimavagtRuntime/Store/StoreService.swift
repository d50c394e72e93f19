import Foundation
import Logging
import ServiceLifecycle

/// Writes the store's new samples to its journal one flush interval after they arrive, and closes it last thing on
/// shutdown.
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

    /// CLOCK_REALTIME minus CLOCK_MONOTONIC in nanoseconds: constant unless the wall clock is stepped.
    static func wallClockOffset() -> Int64 {
        var real = timespec()
        var mono = timespec()
        clock_gettime(CLOCK_REALTIME, &real)
        clock_gettime(CLOCK_MONOTONIC, &mono)
        return (Int64(real.tv_sec) - Int64(mono.tv_sec)) * 1_000_000_000 + Int64(real.tv_nsec) - Int64(mono.tv_nsec)
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var offset = Self.wallClockOffset()
            // Idle, the store waits for a sample without a timer; then it flushes one interval later.
            for await _ in store.samplesWaiting {
                do {
                    // Real time, not the agent's (simulated) clock: the interval bounds what a crash can lose.
                    try await Task.sleep(for: flushInterval)
                } catch {
                    break
                }
                // A board without a real-time clock syncing to NTP long after boot: the wall clock jumps.
                let now = Self.wallClockOffset()
                let step = now - offset
                offset = now
                if abs(step) > 1_000_000_000 {
                    logger.notice("wall clock stepped by \(step / 1_000_000_000) s; the store's series start afresh from here")
                    store.clockStepped()
                }
                store.flush()
            }
        }
        store.close()
        let statistics = store.statistics
        logger.info("store: closed; \(statistics.journalBytesWritten) journal bytes and \(statistics.snapshotsWritten) snapshots written this run")
    }
}
