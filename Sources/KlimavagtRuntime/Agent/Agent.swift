import Foundation
import KlimavagtCore
import KlimavagtMQTT
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// Wires a configuration into running services: broker session, store, outbox, pipeline, inputs, in dependency order.
public enum Agent {
    /// The registry swift-metrics reports into, once bootstrapped (`bootstrapMetrics()`); nil serves no metrics.
    nonisolated(unsafe) static var metricsRegistry: PrometheusCollectorRegistry?

    /// Points swift-metrics at a Prometheus registry; once per process, before the agent runs (swift-metrics allows
    /// one bootstrap).
    public static func bootstrapMetrics() {
        guard metricsRegistry == nil else { return }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        metricsRegistry = registry
    }

    /// Why the agent could not start, with the exit status the contract gives it.
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
        public var exitStatus: Int32
    }

    /// Runs until SIGTERM or SIGINT, or, with `exitWhenInputsEnd`, until every input has ended and every window
    /// has emptied (the demo's end). With `reload`, SIGHUP reads the configuration again: if it is valid the
    /// services stop in order and start again with it (state carries over through the state directory); if not,
    /// the error is logged and the running configuration stays. A reloaded configuration that then fails to start
    /// (a GPIO line taken, a TLS file gone) is logged, and the agent starts again with the one it ran before.
    /// SIGTERM is honoured at any moment, during a reload too.
    public static func run(configuration: Configuration, stateDirectory: String, exitWhenInputsEnd: Bool,
                           logger: Logger, controlSocket: String? = nil, version: String = "dev",
                           reload: (@Sendable () throws -> Configuration)? = nil) async throws
    {
        let signals = await AgentSignals(reload: reload, logger: logger)
        defer { signals.close() }
        var current = configuration
        var previous: Configuration?
        while !signals.stopRequested {
            let requested = ReloadRequest()
            do {
                try await runOnce(configuration: current, stateDirectory: stateDirectory,
                                  exitWhenInputsEnd: exitWhenInputsEnd, logger: logger, controlSocket: controlSocket,
                                  version: version, signals: signals, requested: requested)
            } catch let error as StartError {
                guard let fallback = previous else { throw error }
                logger.error("the reloaded configuration cannot start (\(error.description)); going back to the one that ran before")
                current = fallback
                previous = nil
                continue
            }
            guard let next = requested.configuration, !signals.stopRequested else { return }
            previous = current
            current = next
            logger.notice("configuration reloaded: \(next.sensors.count) sensors, \(next.rules.count) rules")
        }
    }

    private static func runOnce(configuration: Configuration, stateDirectory: String, exitWhenInputsEnd: Bool,
                                logger: Logger, controlSocket: String?, version: String,
                                signals: AgentSignals, requested: ReloadRequest) async throws
    {
        let health = InputHealth()
        var traces: [String: Trace] = [:]
        for sensor in configuration.sensors {
            guard case .simulated(let input) = sensor.input, traces[input.file] == nil else { continue }
            do {
                traces[input.file] = try Trace.load(input.file)
            } catch {
                throw StartError(description: error.description, exitStatus: 65)
            }
        }
        // The broker's retained alert states are the second copy of each rule's seq and state: the newer of the two
        // is taken, so a lost or damaged journal never makes seq go back or silently un-fires an alert. Read before
        // the clock starts, so a simulation's time does not run on while it waits.
        let retained = await RetainedAlertStates.read(options: configuration.mqtt, prefix: configuration.prefix,
                                                      site: configuration.site, rules: configuration.rules)
        if let failure = retained.failure {
            logger.warning("alert states: the broker's retained copy could not be read (\(failure)); starting from the journal alone")
        }
        let clock: any AgentClock
        if let speed = configuration.simulationSpeed {
            let origin = traces.values.compactMap { $0.readings.first?.time }.min() ?? SystemClock().now()
            clock = SimulationClock(origin: origin - .seconds(1), speed: speed)
            logger.info("simulation: trace time from \(origin.rfc3339) at \(speed)x")
        } else {
            clock = SystemClock()
        }
        let notifier = SystemdNotifier()
        let client: MQTTClient
        do {
            var mqtt = configuration.mqtt
            mqtt.idleWait = SystemdSupervision.networkIdleWait(watchdog: notifier.watchdogInterval)
            client = try MQTTClient(mqtt)
        } catch {
            throw StartError(description: error.description, exitStatus: 78)
        }
        // The durable alert state: its owner, the ledger, is read here once, at start; the outbox records in it.
        let ledger: AlertLedger
        do {
            ledger = try AlertLedger(stateDirectory: stateDirectory, logger: logger)
        } catch {
            client.close()
            throw StartError(description: "state directory \(stateDirectory): \(FileErrorText.describe(error))",
                             exitStatus: 78)
        }
        let merged = RetainedAlertStates.merge(local: ledger.lifecycles, retained: retained.lifecycles)
        for taken in merged.fromBroker {
            logger.notice("alert states: rule \(taken.rule) restored from the broker's retained state (seq \(taken.retained); the journal had \(taken.local))")
        }
        ledger.adopt(merged.lifecycles)
        let outbox = Outbox(client: client, prefix: configuration.prefix, clock: clock, logger: logger, ledger: ledger,
                            telemetryQuota: configuration.telemetryQuota)
        let store: TimeSeriesStore
        do {
            let rawBytes = configuration.storeRawBytes
            let counting = Set(configuration.sensors.filter {
                if case .pulses = $0.spec.measure { true } else { false }
            }.map(\.id))
            store = try TimeSeriesStore(directory: stateDirectory, logger: logger) { sensor in
                SeriesConfiguration(id: sensor, rawBytes: rawBytes, isCount: counting.contains(sensor))
            }
            if store.statistics.recoveredSamples > 0 {
                logger.info("store: \(store.statistics.recoveredSamples) samples recovered from \(stateDirectory)")
            }
        } catch {
            client.close()
            throw StartError(description: "state directory \(stateDirectory): \(FileErrorText.describe(error))",
                             exitStatus: 78)
        }
        let pipeline: Pipeline
        do {
            pipeline = try Pipeline(configuration: configuration, clock: clock, outbox: outbox,
                                    restored: ledger.lifecycles, logger: logger,
                                    stateDirectory: stateDirectory, telemetryInterval: configuration.telemetryInterval,
                                    store: store, version: version)
        } catch {
            client.close()
            throw StartError(description: error.description, exitStatus: 78)
        }
        var inputs: [ServiceGroupConfiguration.ServiceConfiguration] = []
        for sensor in configuration.sensors {
            switch sensor.input {
            case .simulated(let input):
                let gauge = SimulatedGauge(sensor: sensor.id, trace: traces[input.file]!, clock: clock,
                                           pipeline: pipeline, logger: logger)
                // Before any service runs: the rules' clock waits for the trace's first reading.
                pipeline.ingestSimulated(nil, sensor: sensor.id, next: gauge.readings.first?.time)
                inputs.append(.init(service: gauge, successTerminationBehavior: .ignore))
            case .gpio(let input):
                do {
                    if case .level(let hold) = input.mode {
                        let contact = GPIOContactInput(sensor: sensor.id, input: input, hold: hold, clock: clock,
                                                       pipeline: pipeline, logger: logger)
                        try contact.open().close()
                        inputs.append(.init(service: contact))
                    } else {
                        let gauge = GPIOPulseInput(sensor: sensor.id, input: input, pipeline: pipeline, logger: logger)
                        try gauge.open().close()
                        inputs.append(.init(service: gauge))
                    }
                } catch {
                    client.close()
                    throw StartError(description: "sensor \(sensor.id): \(error)", exitStatus: 69)
                }
            case .mqtt, nil:
                break
            }
        }
        if configuration.sensors.contains(where: { if case .mqtt = $0.input { true } else { false } }) {
            inputs.append(.init(service: MQTTSensorFeed(
                client: client, sensors: configuration.sensors, pipeline: pipeline, clock: clock, health: health,
                logger: logger, maximumSensors: configuration.maximumSensors,
                maximumSensorsPerTemplate: configuration.maximumSensorsPerTemplate)))
        }
        var control: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let controlSocket {
            let reporter = StatusReporter(
                configuration: configuration, client: client, outbox: outbox, pipeline: pipeline, store: store,
                health: health, clock: clock, stateDirectory: stateDirectory, started: Date(), version: version)
            control.append(.init(service: ControlServer(path: controlSocket, logger: logger) { request in
                reporter.answer(request)
            }))
        }
        if let port = configuration.metricsPort, let registry = metricsRegistry {
            control.append(.init(service: MetricsServer(port: port, registry: registry, logger: logger) {
                AgentMetrics.refresh(outbox: outbox, store: store)
            }))
        }
        if notifier.isActive {
            let statusClient = client
            control.append(.init(service: SystemdSupervision(
                notifier: notifier, client: client, pipeline: pipeline, logger: logger,
                status: {
                    let firing = pipeline.statusSnapshot.lifecycles.values.filter { $0.state == .firing }.count
                    return "broker \(statusClient.connected ? "connected" : "not connected"); "
                        + "\(configuration.sensors.count) sensors, \(configuration.rules.count) rules, \(firing) alerts firing; "
                        + "outbox \(outbox.depth.alerts) alert events waiting"
                })))
        }
        if !exitWhenInputsEnd {
            control.append(.init(service: HealthPublisher(
                topic: configuration.topics.health, outbox: outbox, health: health,
                started: SystemClock().now(), version: version, interval: .seconds(60))))
        }
        control.append(.init(service: StartupCodeRelease(delay: .seconds(10), logger: logger)))
        let pipelineService = PipelineService(pipeline: pipeline, exitWhenInputsEnd: exitWhenInputsEnd)
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: BrokerSession(client: client, statusTopic: configuration.topics.status,
                                             logger: logger, announceOffline: { requested.configuration == nil })),
                // The outbox ends only after the pipeline has stopped and it has drained: then the agent is done.
                .init(service: StoreService(store: store, flushInterval: configuration.storeFlushInterval, logger: logger)),
                .init(service: outbox, successTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: pipelineService,
                      successTerminationBehavior: exitWhenInputsEnd ? .gracefullyShutdownGroup : .cancelGroup),
            ] + control + inputs,
            logger: logger))
        // The signals reach the group through `signals`, which watches them across restarts of the services.
        guard signals.begin(group, request: requested) else {
            client.close()
            return
        }
        defer { signals.end() }
        try await group.run()
    }
}

/// The pipeline as a service: starts it, and on shutdown stops it so the outbox can drain.
struct PipelineService: Service {
    let pipeline: Pipeline
    let exitWhenInputsEnd: Bool

    func run() async throws {
        pipeline.start()
        if exitWhenInputsEnd {
            await cancelWhenGracefulShutdown { await pipeline.untilIdle() }
        } else {
            try? await gracefulShutdown()
        }
        pipeline.stop()
    }
}
