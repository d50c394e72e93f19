// The custom executor is built on Swift 6.3's executor interfaces (ExecutorFactory, SchedulingExecutor,
// MainExecutor); an older compiler (Debian's Swift 6.2 for the arm64 build) keeps libdispatch's pool, see AgentProcess.
#if compiler(>=6.3)
@_spi(ExperimentalCustomExecutors) @_spi(ExperimentalScheduling) import _Concurrency
import Foundation

/// The agent's default executor: a few worker threads and a queue of timed jobs, in place of libdispatch's pool.
///
/// On Linux libdispatch watches its worker pool with a timer that fires every second for as long as the process
/// lives, so an idle agent on it can never wake less than once a second. This pool sleeps until a job arrives or the
/// earliest timed job (a `Task.sleep`) is due, and nothing else.
///
/// Threading: up to `width` threads are started as jobs arrive and never end; they block every asynchronous signal,
/// as libdispatch's workers do, so signals reach the thread that waits for them. The pool does not grow: code that
/// blocks for long runs on a thread of its own (the MQTT, GPIO and socket loops do). Tolerances are not used, and a
/// timed job whose clock is neither the continuous nor the suspending clock runs at once.
final class TaskPool: TaskExecutor, SchedulingExecutor, @unchecked Sendable {   // unchecked: its queues are guarded by a pthread mutex and the condition variable its worker threads wait on
    struct Factory: ExecutorFactory {
        static var mainExecutor: any MainExecutor { PlatformExecutorFactory.mainExecutor }
        static var defaultExecutor: any TaskExecutor { TaskPool.shared }
    }

    static let shared = TaskPool(width: max(2, ProcessInfo.processInfo.activeProcessorCount))

    private struct Timed {
        var deadline: ContinuousClock.Instant
        var order: UInt64
        var job: UnownedJob

        func isEarlier(than other: Timed) -> Bool {
            (deadline, order) < (other.deadline, other.order)
        }
    }

    let width: Int
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wakeup = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var ready: [UnownedJob] = []
    private var readyHead = 0
    /// A binary min-heap by deadline, then by arrival.
    private var timed: [Timed] = []
    private var timedOrder: UInt64 = 0
    private var threads = 0
    private var idle = 0
    /// Whether an idle thread is waiting for the earliest timed job (only one does; the others wait untimed).
    private var timerWatched = false

    init(width: Int) {
        self.width = width
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(wakeup, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    /// How many worker threads the pool has started, and how many timed jobs it has been given.
    var statistics: (threads: Int, timedJobs: UInt64) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return (threads, timedOrder)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        pthread_mutex_lock(mutex)
        ready.append(job)
        wakeOrStartThread()
        pthread_mutex_unlock(mutex)
    }

    func enqueue<C: Clock>(_ job: consuming ExecutorJob, at instant: C.Instant, tolerance: C.Duration?, clock: C) {
        let deadline: ContinuousClock.Instant
        if let instant = instant as? ContinuousClock.Instant {
            deadline = instant
        } else if let instant = instant as? SuspendingClock.Instant {
            deadline = .now + SuspendingClock.now.duration(to: instant)
        } else {
            enqueue(job)
            return
        }
        let job = UnownedJob(job)
        pthread_mutex_lock(mutex)
        timedOrder += 1
        let becomesFirst = timed.first.map { deadline < $0.deadline } ?? true
        push(Timed(deadline: deadline, order: timedOrder, job: job))
        if becomesFirst && timerWatched {
            // The watching thread sleeps until a later deadline; wake them all so one watches this one.
            pthread_cond_broadcast(wakeup)
        } else if !timerWatched {
            wakeOrStartThread()
        }
        pthread_mutex_unlock(mutex)
    }

    /// With the mutex held: wakes an idle thread, or starts one if none is idle and the pool is not full.
    private func wakeOrStartThread() {
        if idle > 0 {
            pthread_cond_signal(wakeup)
        } else if threads < width {
            threads += 1
            startThread()
        }
    }

    private func startThread() {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        // Block asynchronous signals while creating it, so that the thread starts with them blocked.
        var all = sigset_t()
        var previous = sigset_t()
        sigfillset(&all)
        for synchronous in [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGABRT] { sigdelset(&all, synchronous) }
        pthread_sigmask(SIG_BLOCK, &all, &previous)
        var thread = pthread_t()
        let result = pthread_create(&thread, &attributes, { context in
            Unmanaged<TaskPool>.fromOpaque(context!).takeUnretainedValue().work()
        }, Unmanaged.passRetained(self).toOpaque())
        pthread_sigmask(SIG_SETMASK, &previous, nil)
        pthread_attr_destroy(&attributes)
        if result != 0 {
            fatalError("cannot start a task pool thread: error \(result)")
        }
    }

    private func work() -> Never {
        Thread.current.name = "klimavagt-pool"
        pthread_mutex_lock(mutex)
        while true {
            if let job = popReady() {
                pthread_mutex_unlock(mutex)
                job.runSynchronously(on: asUnownedTaskExecutor())
                pthread_mutex_lock(mutex)
                continue
            }
            let now = ContinuousClock.now
            while let first = timed.first, first.deadline <= now {
                ready.append(popTimed().job)
            }
            if readyHead < ready.count { continue }
            idle += 1
            if !timerWatched, let first = timed.first {
                timerWatched = true
                var until = monotonicNow(plus: now.duration(to: first.deadline))
                pthread_cond_timedwait(wakeup, mutex, &until)
                timerWatched = false
            } else {
                pthread_cond_wait(wakeup, mutex)
            }
            idle -= 1
        }
    }

    private func popReady() -> UnownedJob? {
        guard readyHead < ready.count else { return nil }
        let job = ready[readyHead]
        readyHead += 1
        if readyHead == ready.count {
            ready.removeAll(keepingCapacity: true)
            readyHead = 0
        } else if readyHead >= 64 && readyHead * 2 >= ready.count {
            ready.removeFirst(readyHead)
            readyHead = 0
        }
        return job
    }

    private func push(_ entry: Timed) {
        timed.append(entry)
        var child = timed.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard timed[child].isEarlier(than: timed[parent]) else { break }
            timed.swapAt(child, parent)
            child = parent
        }
    }

    private func popTimed() -> Timed {
        let first = timed[0]
        let last = timed.removeLast()
        guard !timed.isEmpty else { return first }
        timed[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var earliest = parent
            if left < timed.count, timed[left].isEarlier(than: timed[earliest]) { earliest = left }
            if right < timed.count, timed[right].isEarlier(than: timed[earliest]) { earliest = right }
            guard earliest != parent else { break }
            timed.swapAt(parent, earliest)
            parent = earliest
        }
        return first
    }

    private func monotonicNow(plus wait: Duration) -> timespec {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let wait = max(wait, .zero)
        let nanoseconds = Int64(now.tv_nsec) + wait.components.attoseconds / 1_000_000_000
        now.tv_sec += Int(wait.components.seconds) + Int(nanoseconds / 1_000_000_000)
        now.tv_nsec = Int(nanoseconds % 1_000_000_000)
        return now
    }
}
#endif
