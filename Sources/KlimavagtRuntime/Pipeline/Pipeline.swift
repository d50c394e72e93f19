import Foundation
import KlimavagtCore
import Logging

/// Routes each reading from the inputs to the parts that take it: the rules (`RuleEngine`), whose events go to the
/// alert history and the outbox; the store; the pulse totals (`CounterStore`); and the sensor states
/// (`SensorStates`), which go to the outbox.
///
/// Inputs call `ingest(_:)`; the pipeline arms one timer for the earliest deadline of those parts, the next instant
/// at which time alone changes something: a reading leaving a rule's window, a held-back sensor state falling due, a
/// pulse rate dropping to zero, or the pulse totals' flush. An alert therefore resolves at the instant the contract
/// names, not at the next reading.
///
/// Threading: every method may be called from any thread and runs to completion under one lock, without suspending,
/// so the MQTT input can feed it straight from the network thread with no hand-off per message. The work done under
/// the lock is bounded: the rules, and handing messages to the outbox (which writes an alert event to its journal).
public final class Pipeline: @unchecked Sendable {   // unchecked: its state is guarded by `lock`, an NSLock because the watchdog's wedge check needs a timed acquire, which Mutex lacks
    private let lock = NSLock()
    private var engine: RuleEngine
    private let configuration: Configuration
    private var sensors: [String: Configuration.Sensor]
    private let clock: any AgentClock
    private let outbox: any OutboxQueue
    private let logger: Logger
    private let counters: CounterStore?
    private let store: TimeSeriesStore?
    private let discovery: HomeAssistantDiscovery?
    /// For a pulse sensor whose rule windows were refilled from the store: the newest pulse counted before the
    /// restart; a reading at or before it (a trace replayed from its start) was counted already.
    private var countedThrough: [String: Timestamp] = [:]
    private var history = AlertHistory()
    private var states: SensorStates
    /// The latest time read from the clock for a reading's arrival; the agent's time for readings never goes back.
    private var latestAgentTime = Timestamp(nanoseconds: .min)
    private var timer: Task<Void, Never>?
    /// The instant the running timer wakes at; an earlier wake replaces it, a later one waits for it.
    private var timerWakesAt: Timestamp?
    private var runningInputs: Int
    /// The time of each simulated input's next reading: the rules' clock never passes it before that reading is in,
    /// so a replayed trace gives the same events however late its task is scheduled.
    private var simulatedDue: [String: Timestamp] = [:]
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    private var stopped = false
    private var started = false
    /// Made once the per-entity discovery topics of earlier versions have been cleared, so that it happens once:
    /// Home Assistant logs a conflict for a clear that reaches an entity it now has from the device message.
    private let discoveryMarker: String?
    /// A sensor's state is published at most this often; the latest reading is never held back for longer.
    public let telemetryInterval: Duration

    /// `restored` is each rule's lifecycle from before the restart (the outbox journal's and the broker's retained
    /// states, merged by the agent): the rules go on from it.
    public init(configuration: Configuration, clock: any AgentClock, outbox: any OutboxQueue,
                restored: [String: AlertLifecycle] = [:], logger: Logger,
                stateDirectory: String? = nil, telemetryInterval: Duration = .seconds(1), store: TimeSeriesStore? = nil,
                version: String = "dev",
                bootID: String = UUID().uuidString.lowercased()) throws(RuleEngine.SetupError)
    {
        self.store = store
        discovery = configuration.homeAssistantDiscovery
            ? HomeAssistantDiscovery(prefix: configuration.prefix, discoveryPrefix: configuration.homeAssistantPrefix,
                                     site: configuration.site, version: version)
            : nil
        self.configuration = configuration
        self.clock = clock
        self.outbox = outbox
        self.logger = logger
        self.telemetryInterval = telemetryInterval
        states = SensorStates(telemetryInterval: telemetryInterval, topics: configuration.topics, bootID: bootID)
        self.runningInputs = configuration.sensors.filter { $0.input != nil }.count
        var byID: [String: Configuration.Sensor] = [:]
        for sensor in configuration.sensors where !sensor.isTemplate { byID[sensor.id] = sensor }
        self.sensors = byID
        counters = stateDirectory.map { CounterStore(stateDirectory: $0, logger: logger, now: clock.now().seconds) }
        discoveryMarker = stateDirectory.map { "\($0)/homeassistant-device-discovery" }
        engine = try RuleEngine(
            site: configuration.site, sensors: byID.values.map(\.spec), rules: configuration.rules,
            makeID: { _, _ in UUID().uuidString.lowercased() })
        // Live, the timer wakes at every deadline, so a re-notification more than a period late means the wall
        // clock was stepped or the board stalled: one reminder then. A simulated trace keeps replay's rule, so that
        // it gives replay's events however its task is scheduled.
        let simulated = configuration.sensors.contains { if case .simulated = $0.input { true } else { false } }
        if !simulated { engine.renotificationCatchUp = 1 }
        engine.restore(restored)
        primeWindows()
        primeConditions()
    }

    /// Restores what the plausibility checks and the staleness clocks knew before a restart, from the store: each
    /// level sensor's readings of the last hour (or of its flat-line limit, if longer) are judged again, without
    /// events, so a jump of 120 → 208 cm is a spike as the first reading after a restart too, and a sensor that had
    /// fallen silent before the restart goes stale when its time is up, not `stale_after` after the start.
    private func primeConditions() {
        guard let store else { return }
        let now = clock.now()
        for id in sensors.keys.sorted() {
            guard let sensor = sensors[id], case .level = sensor.spec.measure, let series = store.series(id) else { continue }
            let lookback = max(sensor.spec.plausible.flatline ?? .zero, .seconds(3600))
            let (times, values) = series.samples(from: (now - lookback).nanoseconds + 1, to: now.nanoseconds + 1)
            guard !times.isEmpty else { continue }
            let readings = times.indices.map {
                Reading(sensor: id, time: Timestamp(nanoseconds: times[$0]), value: values[$0])
            }
            for reading in readings where engine.refusal(for: reading) == nil { _ = engine.condition(reading) }
            engine.prime(readings, now: now)
            logger.info("sensor \(id): plausibility and staleness restored from \(readings.count) readings before the restart")
        }
    }

    /// Refills the window rules with the pulses the store kept from before a restart, so a cloudburst that was
    /// firing resolves when its rain leaves the window, not at the next tip.
    private func primeWindows() {
        guard let store else { return }
        let now = clock.now()
        for sensor in sensors.keys.sorted() {
            guard let window = engine.longestWindow(of: sensor), let series = store.series(sensor) else { continue }
            let (times, values) = series.samples(from: (now - window).nanoseconds + 1, to: now.nanoseconds + 1)
            let readings = times.indices.map { Reading(sensor: sensor, time: Timestamp(nanoseconds: times[$0]), value: values[$0]) }
            engine.prime(readings, now: now)
            if let newest = readings.last?.time { countedThrough[sensor] = newest }
            if !readings.isEmpty {
                logger.info("sensor \(sensor): \(readings.count) readings from before the restart back in its rule windows")
            }
        }
    }

    /// Publishes the `inactive` state of every rule, as the contract asks of rules that have not fired.
    ///
    /// It runs once: a reading that comes before it (an input's task ran first) starts the pipeline itself, so the
    /// restored states always go out before any new event.
    public func start() {
        lock.lock()
        defer { lock.unlock() }
        startOnce()
    }

    /// Called under the lock.
    private func startOnce() {
        guard !started else { return }
        started = true
        let now = clock.now()
        engine.start(at: now)
        armTimer()
        if let discovery {
            // The per-entity configs of earlier versions go, once, so an upgrade leaves no duplicate entities.
            if let marker = discoveryMarker, !FileManager.default.fileExists(atPath: marker) {
                for topic in discovery.legacyTopics(sensors: configuration.sensors, rules: configuration.rules) {
                    outbox.enqueue(.retained(topic: topic, payload: ""))
                }
                if !FileManager.default.createFile(atPath: marker, contents: Data("cleared\n".utf8)) {
                    logger.warning("Home Assistant: cannot write \(marker); the old discovery topics are cleared again at the next start")
                }
            }
            let agent = discovery.agentConfig(rules: configuration.rules)
            outbox.enqueue(.retained(topic: agent.topic, payload: agent.payload))
            for sensor in configuration.sensors where !sensor.isTemplate { announce(sensor, with: discovery) }
        }
        let lifecycles = engine.lifecycles
        for rule in configuration.rules {
            guard let sensor = engine.sensors[rule.sensor] else { continue }
            if let lifecycle = lifecycles[rule.id], let last = lifecycle.lastEvent {
                // The state of a rule that has fired before the restart, published again with its own `since`.
                var event = last
                event.publishedAt = event.publishedAt ?? event.eventTime
                outbox.enqueue(.alertState(topic: configuration.topics.alertState(rule.id),
                                           payload: event.stateJSON(since: lifecycle.since ?? event.eventTime)))
                continue
            }
            outbox.enqueue(.alertState(
                topic: configuration.topics.alertState(rule.id),
                payload: rule.inactiveStateJSON(site: configuration.site, sensor: sensor, since: now)))
        }
        // After the restored states, in order: what the refilled windows say now.
        emit(engine.judgeRestored(at: now))
        armTimer()
    }

    /// Adds a sensor found on a wildcard topic (an instance of a template such as `power-{1}`).
    public func register(_ sensor: Configuration.Sensor) {
        lock.lock()
        defer { lock.unlock() }
        guard sensors[sensor.id] == nil else { return }
        sensors[sensor.id] = sensor
        engine.register(sensor.spec)
        if let discovery { announce(sensor, with: discovery) }
    }

    private func announce(_ sensor: Configuration.Sensor, with discovery: HomeAssistantDiscovery) {
        for config in discovery.configs(for: sensor) {
            outbox.enqueue(.retained(topic: config.topic, payload: config.payload))
        }
    }

    /// The alert events since the agent started (the latest 200), oldest first.
    public var recentEvents: [AlertEvent] {
        lock.withLock { history.events }
    }

    /// Whether the pipeline's lock comes free within `limit`; a rule loop or input that wedged it holds it for good.
    ///
    /// It blocks the calling thread for at most `limit`, and for that long only when the pipeline is wedged.
    public func answers(within limit: Duration) -> Bool {
        guard lock.lock(before: Date().addingTimeInterval(limit.inSeconds)) else { return false }
        lock.unlock()
        return true
    }

    /// Each sensor's latest reading and its verdict, and each rule's lifecycle, for the CLI's status.
    public var statusSnapshot: (readings: [String: (reading: Reading, verdict: PlausibilityCheck.Verdict)],
                                sensors: [String], lifecycles: [String: AlertLifecycle]) {
        lock.withLock { (states.latest, sensors.keys.sorted(), engine.lifecycles) }
    }

    /// Feeds one reading; returns why it was refused, if it was (see `RuleEngine.refusal(for:)`).
    @discardableResult
    public func ingest(_ reading: Reading) -> PayloadRejection? {
        lock.lock()
        defer { lock.unlock() }
        let refusal = accept(reading, arrival: agentTime())
        armTimer()
        return refusal
    }

    /// Feeds a simulated input's reading and records when its next one is due (nil: the trace has ended).
    @discardableResult
    public func ingestSimulated(_ reading: Reading?, sensor: String, next: Timestamp?) -> PayloadRejection? {
        lock.lock()
        defer { lock.unlock() }
        let refusal = reading.flatMap { accept($0, arrival: agentTime()) }
        simulatedDue[sensor] = next
        armTimer()
        return refusal
    }

    /// Feeds readings in order, with one timer update for the lot; returns the refused ones and why.
    @discardableResult
    public func ingest(_ readings: [Reading]) -> [(sensor: String, rejection: PayloadRejection)] {
        lock.lock()
        defer { lock.unlock() }
        var refused: [(sensor: String, rejection: PayloadRejection)] = []
        let arrival = agentTime()
        for reading in readings {
            if let refusal = accept(reading, arrival: arrival) { refused.append((reading.sensor, refusal)) }
        }
        armTimer()
        return refused
    }

    /// The agent's clock, never going back: a step of the system clock backwards does not bring a sensor's
    /// staleness back. Called under the lock.
    private func agentTime() -> Timestamp {
        let now = max(clock.now(), latestAgentTime)
        latestAgentTime = now
        return now
    }

    private func accept(_ reading: Reading, arrival: Timestamp) -> PayloadRejection? {
        guard !stopped, let sensor = sensors[reading.sensor] else { return nil }
        startOnce()
        if let refusal = engine.refusal(for: reading) { return refusal }
        if !countedThrough.isEmpty, let through = countedThrough[sensor.id] {
            guard reading.time > through else { return nil }
            countedThrough[sensor.id] = nil
        }
        let (conditioned, verdict) = engine.condition(reading)
        if verdict != .ok {
            logger.debug("sensor \(reading.sensor): reading \(reading.value) at \(reading.time.rfc3339) is suspect (\(verdict.rawValue))")
        }
        emit(engine.ingest(conditioned, arrival: arrival))
        store?.append(sensor: sensor.id, value: conditioned.value, at: conditioned.time)
        var pulses: Int64?
        if case .pulses = sensor.spec.measure {
            pulses = Limits.pulses(conditioned.value) ?? 0
            counters?.add(pulses!, to: sensor.id, at: arrival)
        }
        if let state = states.record(conditioned, verdict: verdict, of: sensor, pulses: pulses, at: clock.now(),
                                     totals: counters?.totals ?? [:])
        {
            publish(state)
        }
        return nil
    }

    /// Records that an input has ended (a finished trace); the pipeline is idle once no input runs and no rule waits.
    public func inputEnded() {
        lock.lock()
        defer { lock.unlock() }
        runningInputs -= 1
        resumeIdleWaitersIfIdle()
    }

    /// Returns once every input has ended and every window has emptied.
    public func untilIdle() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let idle: Bool = lock.withLock {
                if isIdle || stopped { return true }
                idleWaiters.append(waiter)
                return false
            }
            if idle { waiter.resume() }
        }
    }

    /// Stops the timer, publishes held-back states and writes the pulse totals; the outbox, shut down after the
    /// pipeline, delivers what is queued.
    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        for state in states.releaseHeld(at: clock.now(), sensors: sensors, totals: counters?.totals ?? [:]) {
            publish(state)
        }
        counters?.flush()
        stopped = true
        timer?.cancel()
        timer = nil
        timerWakesAt = nil
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

    /// The earliest instant at which time alone changes something.
    private var nextWake: Timestamp? {
        var candidates: [Timestamp] = []
        // A deadline behind a simulated reading not yet in waits for it: its ingest passes the deadline itself.
        if let deadline = engine.nextDeadline, !simulatedReadingGoesFirst(deadline) { candidates.append(deadline) }
        if let due = states.nextDeadline { candidates.append(due) }
        if let flush = counters?.flushDue { candidates.append(flush) }
        return candidates.min()
    }

    /// Whether a simulated input has a reading due at or before `deadline` that has not come in yet.
    private func simulatedReadingGoesFirst(_ deadline: Timestamp) -> Bool {
        simulatedDue.values.contains { $0 <= deadline }
    }

    private func wake(at time: Timestamp) {
        lock.lock()
        defer { lock.unlock() }
        timer = nil
        timerWakesAt = nil
        guard !stopped else { return }
        if let deadline = engine.nextDeadline, deadline <= time, !simulatedReadingGoesFirst(deadline) {
            // Live, every deadline up to the clock's now at once (the timer wakes late after a clock stepped forward
            // by years: one call, whose re-notifications collapse, instead of a wake for each period); with a
            // simulated input, one deadline at a time, for its readings to go first.
            emit(engine.advance(to: simulatedDue.isEmpty ? max(time, agentTime()) : deadline))
        }
        for state in states.due(at: time, sensors: sensors, totals: counters?.totals ?? [:]) { publish(state) }
        counters?.flush(ifDueAt: time)
        armTimer()
        resumeIdleWaitersIfIdle()
    }

    /// Makes sure a timer wakes the pipeline by `nextWake`. Most readings leave the wake time as it is, so the
    /// running timer is kept: one that wakes too early finds nothing due and sets the next one.
    private func armTimer() {
        guard let wakeAt = nextWake else { return }
        if timer != nil, let armed = timerWakesAt, armed <= wakeAt { return }
        timer?.cancel()
        timerWakesAt = wakeAt
        let clock = self.clock
        timer = Task { [weak self] in
            do {
                try await clock.sleep(until: wakeAt)
            } catch {
                return
            }
            self?.wake(at: wakeAt)
        }
    }

    private func emit(_ events: [AlertEvent]) {
        history.append(contentsOf: events)
        for event in events { AgentMetrics.alertEvent(rule: event.rule, state: event.state.rawValue) }
        for event in events {
            let since = engine.lifecycles[event.rule]?.since ?? event.eventTime
            outbox.enqueue(.alert(event, since: since))
        }
    }

    private func publish(_ state: SensorStates.State) {
        outbox.enqueue(.retained(topic: state.topic, payload: state.payload))
    }
}
