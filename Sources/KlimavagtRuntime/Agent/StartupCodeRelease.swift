import KlimavagtSystem
import Logging
import ServiceLifecycle

/// Once the agent has started (its configuration loaded, its services up, a first pass of its inputs), gives the
/// kernel back the pages of code only the start used (`ProgramCode`): most of the agent's resident code. Runs again
/// after each reload, which touches the configuration code anew.
struct StartupCodeRelease: Service {
    let delay: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            guard (try? await Task.sleep(for: delay)) != nil else { return }
            if let bytes = ProgramCode.releaseResidentPages() {
                logger.debug("released the resident pages of \(bytes / 1_048_576) MB of code; what runs faults back in")
            } else {
                logger.debug("the kernel kept the start-up code resident (madvise MADV_PAGEOUT needs Linux 5.4)")
            }
        }
        try? await gracefulShutdown()
    }
}
