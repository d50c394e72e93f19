import Foundation
import KlimavagtCore
import Logging

/// Runs readings through the rules and hands the results to the outbox: the agent's store → rules → outputs path.
///
/// Inputs call `ingest(_:)`; the pipeline arms one timer for the rules' next deadline (a reading leaving a window),
/// so an alert resolves at the instant the contract names, not at the next reading.
public actor Pipeline {
    private var engine: RuleEngine
    private let configuration: Configuration
    private let clock: any AgentClock
    private let outbox: Outbox
    private let logger: Logger
    private let bootID: String
    private var timer: Task<Void, Never>?
    private var lastHour: [String: PulseWindow] = [:]
    private var totals: [String: Int64] = [:]
    private var runningInputs: Int
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    private var stopped = false

    public init(configuration: Configuration, clock: any AgentClock, outbox: Outbox, logger: Logger,
                bootID: String = UUID().uuidString.lowercased()) throws(RuleEngine.SetupError)
    {
        self.configuration = configuration
        self.clock = clock
        self.outbox = outbox
        self.logger = logger
        self.bootID = bootID
        self.runningInputs = configuration.sensors.filter { $0.input != nil }.count
        engine = try RuleEngine(
            site: configuration.site, sensors: configuration.sensors.map(\.spec), rules: configuration.rules,
            makeID: { _, _ in UUID().uuidString.lowercased() })
        engine.restore(outbox.restoredLifecycles)
    }

    /// Publishes the `inactive` state of every rule, as the contract asks of rules that have not fired.
    public func start() {
        let now = clock.now()
        engine.start(at: now)
        armTimer()
        let lifecycles = engine.lifecycles
        for rule in configuration.rules {
            guard let sensor = engine.sensors[rule.sensor] else { continue }
            if let lifecycle = lifecycles[rule.id], let last = lifecycle.lastEvent {
                // The state of a rule that has fired before the restart, published again with its own `since`.
                var event = last
                event.publishedAt = event.publishedAt ?? event.eventTime
                outbox.enqueue(.retained(topic: "\(configuration.prefix)/alerts/\(rule.id)/state",
                                         payload: event.stateJSON(since: lifecycle.since ?? event.eventTime)))
                continue
            }
            outbox.enqueue(.retained(
                topic: "\(configuration.prefix)/alerts/\(rule.id)/state",
                payload: rule.inactiveStateJSON(site: configuration.site, sensor: sensor, since: now)))
        }
    }

    public func ingest(_ reading: Reading) {
        guard !stopped else { return }
        emit(engine.ingest(reading))
        publishSensorState(reading)
        armTimer()
    }

    /// Records that an input has ended (a finished trace); the pipeline is idle once no input runs and no rule waits.
    public func inputEnded() {
        runningInputs -= 1
        resumeIdleWaitersIfIdle()
    }

    /// Returns once every input has ended and every window has emptied.
    public func untilIdle() async {
        if isIdle { return }
        await withCheckedContinuation { idleWaiters.append($0) }
    }

    /// Stops the timer and closes the outbox's queue after what is already in it.
    public func stop() {
        stopped = true
        timer?.cancel()
        timer = nil
        outbox.finish()
        for waiter in idleWaiters { waiter.resume() }
        idleWaiters.removeAll()
    }

    private var isIdle: Bool {
        runningInputs <= 0 && engine.nextDeadline == nil
    }

    private func resumeIdleWaitersIfIdle() {
        guard isIdle else { return }
        for waiter in idleWaiters { waiter.resume() }
        idleWaiters.removeAll()
    }

    private func deadlineReached(_ deadline: Timestamp) {
        guard !stopped else { return }
        emit(engine.advance(to: deadline))
        armTimer()
        resumeIdleWaitersIfIdle()
    }

    private func armTimer() {
        timer?.cancel()
        timer = nil
        guard let deadline = engine.nextDeadline else { return }
        let clock = self.clock
        timer = Task { [weak self] in
            do {
                try await clock.sleep(until: deadline)
            } catch {
                return
            }
            await self?.deadlineReached(deadline)
        }
    }

    private func emit(_ events: [AlertEvent]) {
        for event in events {
            let since = engine.lifecycles[event.rule]?.since ?? event.eventTime
            outbox.enqueue(.alert(event, since: since))
        }
    }

    private func publishSensorState(_ reading: Reading) {
        guard let sensor = engine.sensors[reading.sensor] else { return }
        var state = JSONText()
        state.add("sensor", sensor.id)
        switch sensor.measure {
        case .pulses:
            let pulses = Int64(reading.value.rounded())
            var window = lastHour[sensor.id] ?? PulseWindow(length: .seconds(3600))
            window.expire(through: reading.time)
            window.add(pulses, at: reading.time)
            lastHour[sensor.id] = window
            totals[sensor.id, default: 0] += pulses
            state.add("value", sensor.amount(ofPulses: window.pulses))
            state.add("unit", sensor.unit)
            state.add("time", reading.time.rfc3339)
            state.add("quality", "ok")
            state.add("total", sensor.amount(ofPulses: totals[sensor.id] ?? 0))
            state.add("boot_id", bootID)
        case .level:
            state.add("value", reading.value)
            state.add("unit", sensor.unit)
            state.add("time", reading.time.rfc3339)
            state.add("quality", "ok")
        }
        outbox.enqueue(.retained(topic: "\(configuration.prefix)/sensors/\(sensor.id)/state", payload: state.text))
    }
}
