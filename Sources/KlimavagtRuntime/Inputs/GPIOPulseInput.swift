import Foundation
import KlimavagtCore
import KlimavagtGPIO
import Logging
import ServiceLifecycle

/// A pulse sensor on a GPIO line: kernel-timestamped edges, pulse-width validation, one reading per valid pulse.
public struct GPIOPulseInput: GPIOLineService {
    public let sensor: String
    public let input: Configuration.GPIOInput
    let pipeline: Pipeline
    let logger: Logger

    public init(sensor: String, input: Configuration.GPIOInput, pipeline: Pipeline, logger: Logger) {
        self.sensor = sensor
        self.input = input
        self.pipeline = pipeline
        self.logger = logger
    }

    public func run() async throws {
        let monitor = try open()
        defer { monitor.close() }
        logger.info("GPIO input \(sensor): listening on \(input.chip) line \(input.line)")
        guard case .pulse(let minimum, let maximum) = input.mode else { return }
        var detector = PulseDetector(minimumWidth: minimum, maximumWidth: maximum)
        var rejected = 0
        for await edge in monitor.edges.cancelOnGracefulShutdown() {
            // At trace level every edge as the kernel reported it, so that what was counted can be checked against it.
            logger.trace("GPIO input \(sensor): edge \(edge.kind == .rising ? "rising" : "falling") at \(edge.timestampNanoseconds) ns")
            switch detector.edge(active: edge.kind == .rising, at: edge.timestampNanoseconds) {
            case .accepted(let start, _):
                AgentMetrics.edge(sensor: sensor, accepted: true)
                pipeline.ingest(Reading(sensor: sensor, time: Self.realtime(ofMonotonic: start), value: 1))
            case .tooShort, .tooLong:
                AgentMetrics.edge(sensor: sensor, accepted: false)
                rejected += 1
                if rejected == 1 || rejected % 1000 == 0 {
                    logger.debug("GPIO input \(sensor): \(rejected) edges rejected as bounce or stuck contact")
                }
            case .pending:
                break
            }
        }
    }

    /// Converts a CLOCK_MONOTONIC kernel timestamp to wall-clock time using the clocks' current offset.
    static func realtime(ofMonotonic nanoseconds: Int64) -> Timestamp {
        var real = timespec()
        var mono = timespec()
        clock_gettime(CLOCK_REALTIME, &real)
        clock_gettime(CLOCK_MONOTONIC, &mono)
        let offset = (Int64(real.tv_sec) - Int64(mono.tv_sec)) * 1_000_000_000 + Int64(real.tv_nsec) - Int64(mono.tv_nsec)
        return Timestamp(nanoseconds: nanoseconds + offset)
    }
}
