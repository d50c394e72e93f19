import Foundation
import KlimavagtCore
import KlimavagtGPIO
import Logging
import ServiceLifecycle

/// A switch contact on a GPIO line (a float switch): its level, debounced by a hold time, as readings 1 and 0.
public struct GPIOContactInput: GPIOLineService {
    public let sensor: String
    public let input: Configuration.GPIOInput
    public let hold: Duration
    let clock: any AgentClock
    let pipeline: Pipeline
    let logger: Logger

    public init(sensor: String, input: Configuration.GPIOInput, hold: Duration, clock: any AgentClock,
                pipeline: Pipeline, logger: Logger)
    {
        self.sensor = sensor
        self.input = input
        self.hold = hold
        self.clock = clock
        self.pipeline = pipeline
        self.logger = logger
    }

    public func run() async throws {
        let monitor = try open()
        defer { monitor.close() }
        var debouncer = LevelDebouncer(hold: hold)
        let opened = clock.now()
        debouncer.level(try monitor.value() == 1, at: opened)
        logger.info("GPIO contact \(sensor): listening on \(input.chip) line \(input.line), hold \(hold)")
        // Edges and hold deadlines meet in one stream, so the debouncer is only touched from this task.
        let (events, sink) = AsyncStream<(active: Bool, time: Timestamp)?>.makeStream()
        let forwarding = Task {
            for await edge in monitor.edges {
                sink.yield((edge.kind == .rising, GPIOPulseInput.realtime(ofMonotonic: edge.timestampNanoseconds)))
            }
            sink.finish()
        }
        defer { forwarding.cancel() }
        var timer: Task<Void, Never>?
        func arm(_ deadline: Timestamp?) {
            timer?.cancel()
            guard let deadline else { return }
            timer = Task {
                try? await clock.sleep(until: deadline)
                if !Task.isCancelled { sink.yield(nil) }
            }
        }
        arm(debouncer.nextDeadline)
        for await event in events.cancelOnGracefulShutdown() {
            if let event { debouncer.level(event.active, at: event.time) }
            if let change = debouncer.advance(to: event?.time ?? clock.now()) {
                pipeline.ingest(Reading(sensor: sensor, time: change.since, value: change.state ? 1 : 0))
            }
            arm(debouncer.nextDeadline)
        }
        timer?.cancel()
    }
}
