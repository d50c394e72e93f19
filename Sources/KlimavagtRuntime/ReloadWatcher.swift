import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// The configuration a SIGHUP asked for, once it has been read and found valid.
final class ReloadRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var next: Configuration?

    var configuration: Configuration? {
        get { lock.withLock { next } }
        set { lock.withLock { next = newValue } }
    }
}

/// Waits for SIGHUP, reads the configuration again, and if it is valid ends, which shuts the services down in order
/// so that the agent starts them again with it; an invalid configuration is logged and the running one stays.
struct ReloadWatcher: Service {
    let reload: @Sendable () throws -> Configuration
    let requested: ReloadRequest
    let logger: Logger

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            do {
                let next = try reload()
                requested.configuration = next
                logger.notice("SIGHUP: the configuration is valid; restarting the services with it")
                return
            } catch {
                logger.error("SIGHUP: the configuration is not valid, so the running one stays: \(error)")
            }
        }
        try? await gracefulShutdown()
    }
}
