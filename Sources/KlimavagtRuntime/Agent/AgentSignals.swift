import KlimavagtSystem
import Logging
import ServiceLifecycle
import UnixSignals

/// The configuration a SIGHUP asked for, once it has been read and found valid.
final class ReloadRequest: Sendable {
    /// Invariant: set at most once per run of the services, by the signal watcher, before it asks them to stop.
    private let next = Locked<Configuration?>(nil)

    var configuration: Configuration? {
        get { next.withLock { $0 } }
        set { next.withLock { $0 = newValue } }
    }
}

/// Watches SIGTERM, SIGINT and SIGHUP for the whole life of `Agent.run`, across every restart of the services, so
/// that no signal falls into the gap between one service group and the next (a service group traps its signals
/// only while it runs, and leaves them ignored after).
///
/// SIGTERM and SIGINT stop the agent: the running group shuts down gracefully, and no further one starts. SIGHUP
/// reads the configuration again; if it is valid, the running group shuts down and `Agent.run` starts the next one
/// with it; if not, the error is logged and the running configuration stays.
///
/// Threading: the watcher runs on a task of its own; `begin`, `end` and the state they guard are under `state`.
final class AgentSignals: Sendable {
    private struct State {
        var group: ServiceGroup?
        var request: ReloadRequest?
        var stopRequested = false
    }

    /// Invariant: `group` is the running service group and `request` its reload request, or both nil between two
    /// groups; once `stopRequested` is true it stays true and no group begins.
    private let state = Locked(State())
    private let watcher = Locked<Task<Void, Never>?>(nil)

    /// Starts watching; `reload` reads the configuration again (nil: SIGHUP is logged and ignored).
    init(reload: (@Sendable () throws -> Configuration)?, logger: Logger) async {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sighup)
        let task = Task { [self] in  // the cycle through `watcher` ends at `close()`
            for await signal in signals {
                if signal == .sighup {
                    guard let reload else {
                        logger.notice("SIGHUP: this agent runs without a configuration file to read again; ignored")
                        continue
                    }
                    let next: Configuration
                    do {
                        next = try reload()
                    } catch {
                        logger.error("SIGHUP: the configuration is not valid, so the running one stays: \(error)")
                        continue
                    }
                    let group: ServiceGroup? = self.state.withLock { current in
                        guard !current.stopRequested, let request = current.request else { return nil }
                        request.configuration = next
                        return current.group
                    }
                    guard let group else {
                        logger.notice("SIGHUP: the agent is stopping or starting; the configuration is not reloaded")
                        continue
                    }
                    logger.notice("SIGHUP: the configuration is valid; restarting the services with it")
                    // systemd shows the unit as reloading until the restarted services say READY=1 again.
                    SystemdNotifier().notify("RELOADING=1\nMONOTONIC_USEC=\(SystemdNotifier.monotonicMicroseconds())\nSTATUS=reloading the configuration")
                    await group.triggerGracefulShutdown()
                } else {
                    logger.notice("\(signal): stopping")
                    SystemdNotifier().notify("STOPPING=1\nSTATUS=stopping")
                    let group = self.state.withLock { current in
                        current.stopRequested = true
                        return current.group
                    }
                    await group?.triggerGracefulShutdown()
                }
            }
        }
        watcher.withLock { $0 = task }
    }

    /// Whether a stop has been asked for.
    var stopRequested: Bool { state.withLock { $0.stopRequested } }

    /// Makes `group` the one that signals reach; false if a stop was asked for already, and then it must not run.
    func begin(_ group: ServiceGroup, request: ReloadRequest) -> Bool {
        state.withLock { current in
            guard !current.stopRequested else { return false }
            current.group = group
            current.request = request
            return true
        }
    }

    /// The group has ended; signals until the next `begin` only set flags.
    func end() {
        state.withLock { current in
            current.group = nil
            current.request = nil
        }
    }

    /// Stops watching; the signals stay trapped (and so ignored) until the process ends.
    func close() {
        watcher.withLock { $0?.cancel() }
    }
}
