#if compiler(>=6.3)
@_spi(ExperimentalCustomExecutors) import _Concurrency
#endif
import Foundation

/// How the `klimavagt` process runs its asynchronous main: on a `TaskPool` rather than on libdispatch's pool.
public enum AgentProcess {
    /// Makes a task pool the default executor, runs `main` on it and the main executor on this thread; never returns.
    ///
    /// Call it first thing in `main()`, before any task exists. `KLIMAVAGT_EXECUTOR=dispatch` keeps libdispatch's pool.
    /// Built with a compiler before Swift 6.3 (no custom executors), the process always runs on libdispatch's pool.
    public static func run(_ main: @escaping @Sendable () async -> Void) -> Never {
        #if compiler(>=6.3)
        if ProcessInfo.processInfo.environment["KLIMAVAGT_EXECUTOR"] != "dispatch" {
            _createExecutors(factory: TaskPool.Factory.self)
        }
        #endif
        Task {
            await main()
            exit(EXIT_SUCCESS)
        }
        #if compiler(>=6.3)
        do {
            try PlatformExecutorFactory.mainExecutor.run()
        } catch {
            fatalError("the main executor stopped: \(error)")
        }
        fatalError("the main executor returned")
        #else
        dispatchMain()
        #endif
    }
}
