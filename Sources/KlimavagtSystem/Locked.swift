import Glibc

/// A lock that holds the state it guards: the state is reached only inside `withLock`, so the compiler sees that no
/// code touches it unlocked, as with `Synchronization.Mutex`.
///
/// Why not `Mutex` itself: on Linux, Swift's `Mutex` waits on a futex from code ThreadSanitizer does not instrument,
/// so under `make test-tsan` every state a `Mutex` guards is reported as a data race (measured with Swift 6.3.1: two
/// threads appending to and removing from a `Mutex<[Int]>` give reports at once). This lock is a pthread mutex, which
/// ThreadSanitizer understands, so its reports stay real. Not recursive.
public final class Locked<Value>: @unchecked Sendable {   // unchecked: `value` is only reached with `mutex` held
    // An empty state, `Locked(())`, has no address of its own: ThreadSanitizer reported its accesses as racing with
    // the read of `mutex` (seen, in either order of these fields). Lock a state that has a size.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: sending Value) {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        self.value = value
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the state, holding the lock; `body` must not take this lock again.
    public func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure)
        -> Result
    {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
