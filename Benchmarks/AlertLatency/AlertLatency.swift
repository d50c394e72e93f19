import Benchmark
import Foundation
import KlimavagtTestSupport
import KlimavagtCore
import KlimavagtMQTT
import KlimavagtRuntime
import Logging

/// From a reading's arrival at the pipeline to the broker's PUBACK of the alert event it causes: the real rule
/// engine, the durable outbox (two fsyncs per event: the event, then its publication time) and a private mosquitto
/// on a loopback port. One iteration is one reading and one alert event.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock], timeUnits: .microseconds, warmupIterations: 20,
        maxDuration: .seconds(15), maxIterations: 2000)

    Benchmark(
        "Alert latency: reading → PUBACK of its event",
        closure: { benchmark in
            guard let rig = LatencyRig.current else { return }
            for _ in benchmark.scaledIterations {
                await rig.step()
            }
        },
        setup: { LatencyRig.current = try await LatencyRig.start() },
        teardown: {
            LatencyRig.current?.stop()
            LatencyRig.current = nil
        })
}

/// A broker, a client, an outbox in a temporary state directory and a pipeline with one threshold rule that fires
/// and resolves on alternate readings.
final class LatencyRig: @unchecked Sendable {
    nonisolated(unsafe) static var current: LatencyRig?

    let broker: MosquittoBroker
    let folder: URL
    let client: MQTTClient
    let outbox: Outbox
    let pipeline: Pipeline
    let delivery: Task<Void, any Error>
    var time = Timestamp(rfc3339: "2024-10-20T00:00:00Z")!
    var high = true
    var sent = 0

    init(broker: MosquittoBroker, folder: URL, client: MQTTClient, outbox: Outbox, pipeline: Pipeline,
         delivery: Task<Void, any Error>)
    {
        self.broker = broker
        self.folder = folder
        self.client = client
        self.outbox = outbox
        self.pipeline = pipeline
        self.delivery = delivery
    }

    /// Feeds one reading that changes the alert and waits until the broker has acknowledged the event.
    func step() async {
        time = time + .seconds(60)
        pipeline.ingest(Reading(sensor: "level-1", time: time, value: high ? 200 : 100))
        high.toggle()
        sent += 1
        while outbox.depth.alerts > 0 { await Task.yield() }
    }

    static func start() async throws -> LatencyRig {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let broker = try MosquittoBroker()
        let port = broker.port
        try """
            site: bench
            mqtt: {host: 127.0.0.1, port: \(port)}
            sensors:
              - {id: level-1, unit: cm}
            rules:
              - {id: high-water, kind: threshold, sensor: level-1, levels: {warning: 150}}
            """.write(to: folder.appendingPathComponent("bench.yaml"), atomically: true, encoding: .utf8)
        let configuration = try ConfigurationLoader.load(folder.appendingPathComponent("bench.yaml").path)
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let client = try MQTTClient(configuration.mqtt)
        try await client.connect()
        let ledger = try AlertLedger(stateDirectory: folder.appendingPathComponent("state").path, logger: logger)
        let outbox = Outbox(client: client, prefix: configuration.prefix, clock: SystemClock(), logger: logger,
                            ledger: ledger)
        let pipeline = try Pipeline(configuration: configuration, clock: SystemClock(), outbox: outbox,
                                    restored: ledger.lifecycles, logger: logger)
        let delivery = Task { try await outbox.run() }
        return LatencyRig(broker: broker, folder: folder, client: client, outbox: outbox, pipeline: pipeline,
                          delivery: delivery)
    }

    func stop() {
        outbox.finish()
        delivery.cancel()
        client.close()
        broker.stop()
        try? FileManager.default.removeItem(at: folder)
    }
}
