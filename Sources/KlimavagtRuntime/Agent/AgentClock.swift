import Foundation
import KlimavagtCore

/// The agent's notion of now and of waiting until a time; injected so simulations and tests control it.
public protocol AgentClock: Sendable {
    func now() -> Timestamp
    /// Waits until `now()` has reached `time`; throws `CancellationError` when the task is cancelled.
    func sleep(until time: Timestamp) async throws
    /// How long the process must wait for `duration` of this clock's time to pass.
    func wallTime(for duration: Duration) -> Duration
}

extension AgentClock {
    public func sleep(until time: Timestamp) async throws {
        while true {
            let remaining = time - now()
            if remaining <= .zero { return }
            try await Task.sleep(for: wallTime(for: remaining))
        }
    }
}

/// The system's real-time clock; waits are re-checked so a step of the clock cannot wedge them.
public struct SystemClock: AgentClock {
    public init() {}

    public func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(seconds: Int64(spec.tv_sec), nanoseconds: Int64(spec.tv_nsec))
    }

    public func wallTime(for duration: Duration) -> Duration {
        min(duration, .seconds(60))
    }
}

/// Trace time running `speed` times faster than real time from `origin`, for simulated inputs and the demo.
public struct SimulationClock: AgentClock {
    public let origin: Timestamp
    public let speed: Double
    private let start: ContinuousClock.Instant

    public init(origin: Timestamp, speed: Double) {
        self.origin = origin
        self.speed = speed
        self.start = ContinuousClock.now
    }

    public func now() -> Timestamp {
        let elapsed = ContinuousClock.now - start
        let nanos = Double(elapsed.nanosecondsClamped) * speed
        return Timestamp(nanoseconds: origin.nanoseconds + Int64(nanos))
    }

    public func wallTime(for duration: Duration) -> Duration {
        .nanoseconds(max(1, Int64((Double(duration.nanosecondsClamped) / speed).rounded(.up))))
    }
}
