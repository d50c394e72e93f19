// The task pool exists only with Swift 6.3's executor interfaces (see TaskPool.swift).
#if compiler(>=6.3)
import Foundation
@testable import KlimavagtRuntime
import Testing

/// The agent's task pool, used here as a task executor preference (the test process keeps libdispatch's pool).
@Suite("task pool")
struct TaskPoolTests {
    /// Values appended from any thread.
    final class Record<Value: Sendable>: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [Value] = []

        func append(_ value: Value) { lock.withLock { stored.append(value) } }
        var values: [Value] { lock.withLock { stored } }
    }

    @Test("runs many tasks on no more threads than its width")
    func boundedThreads() async {
        let pool = TaskPool(width: 2)
        let threads = Record<UInt>()
        let sum = await Task(executorPreference: pool) {
            await withTaskGroup(of: Int.self) { group in
                for value in 1...200 {
                    group.addTask {
                        threads.append(UInt(pthread_self()))
                        await Task.yield()
                        return value
                    }
                }
                return await group.reduce(0, +)
            }
        }.value
        #expect(sum == 200 * 201 / 2)
        #expect(pool.statistics.threads <= 2)
        #expect(Set(threads.values).count <= 2)
    }

    @Test("wakes sleeping tasks in deadline order, none early")
    func sleepsInOrder() async throws {
        let pool = TaskPool(width: 2)
        let woken = Record<Int>()
        let early = Record<Int>()
        let started = ContinuousClock.now
        await Task(executorPreference: pool) {
            await withTaskGroup(of: Void.self) { group in
                for milliseconds in [300, 0, 200, 100, 250, 50] {
                    group.addTask {
                        try? await Task.sleep(for: .milliseconds(milliseconds))
                        if ContinuousClock.now - started < .milliseconds(milliseconds) { early.append(milliseconds) }
                        woken.append(milliseconds)
                    }
                }
            }
        }.value
        #expect(woken.values == [0, 50, 100, 200, 250, 300])
        #expect(early.values.isEmpty)
        #expect(pool.statistics.timedJobs >= 5)
    }

    @Test("a cancelled sleep ends at once")
    func cancelledSleep() async throws {
        let pool = TaskPool(width: 2)
        // The instant the sleeper wakes is taken on the pool itself: the test's own task runs on the default
        // executor, which the rest of the suite (agents waited for on two cores) can hold up for seconds.
        let sleeper = Task(executorPreference: pool) { () -> (cancelled: Bool, at: ContinuousClock.Instant) in
            do {
                try await Task.sleep(for: .seconds(60))
                return (false, .now)
            } catch {
                return (error is CancellationError, .now)
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        let cancelled = ContinuousClock.now
        sleeper.cancel()
        let woke = await sleeper.value
        #expect(woke.cancelled)
        #expect(woke.at - cancelled < .seconds(2), "woke \(woke.at - cancelled) after the cancel")
    }
}
#endif
