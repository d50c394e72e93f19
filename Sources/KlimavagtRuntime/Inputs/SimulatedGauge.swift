import KlimavagtCore
import Logging
import ServiceLifecycle

/// A pulse sensor that replays a trace's readings for its sensor at their times on the agent's clock.
public struct SimulatedGauge: Service {
    public let sensor: String
    public let readings: [Reading]
    let clock: any AgentClock
    let pipeline: Pipeline
    let logger: Logger

    public init(sensor: String, trace: Trace, clock: any AgentClock, pipeline: Pipeline, logger: Logger) {
        self.sensor = sensor
        self.readings = trace.readings.filter { $0.sensor == sensor }
        self.clock = clock
        self.pipeline = pipeline
        self.logger = logger
    }

    public func run() async throws {
        logger.info("simulated input \(sensor): replaying \(readings.count) readings")
        pipeline.ingestSimulated(nil, sensor: sensor, next: readings.first?.time)
        await cancelWhenGracefulShutdown {
            for (index, reading) in readings.enumerated() {
                do {
                    try await clock.sleep(until: reading.time)
                } catch {
                    return
                }
                let next = index + 1 < readings.count ? readings[index + 1].time : nil
                pipeline.ingestSimulated(reading, sensor: sensor, next: next)
            }
        }
        pipeline.ingestSimulated(nil, sensor: sensor, next: nil)
        logger.info("simulated input \(sensor): trace finished")
        pipeline.inputEnded()
    }
}
