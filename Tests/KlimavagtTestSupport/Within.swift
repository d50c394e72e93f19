import Foundation

public struct TimedOut: Error, CustomStringConvertible {
    public var description: String
}

/// Runs `operation` and returns its result, or throws `TimedOut` after `seconds` (native seconds, scaled by
/// `TestTiming.scale`); the operation is cancelled then, and one that ignores cancellation is left to finish on its own.
public func within<T: Sendable>(
    _ seconds: Double, _ what: String = "operation", _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let seconds = TestTiming.seconds(seconds)
    let box = ResultBox<T>()
    let work = Task { await box.finish(with: await Result(catching: operation)) }
    let timer = Task {
        try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        await box.finish(with: .failure(TimedOut(description: "\(what) did not finish within \(seconds) s")))
    }
    let result = await box.value()
    timer.cancel()
    work.cancel()
    return try result.get()
}

private actor ResultBox<T: Sendable> {
    private var result: Result<T, any Error>?
    private var waiters: [CheckedContinuation<Result<T, any Error>, Never>] = []

    func finish(with result: Result<T, any Error>) {
        guard self.result == nil else { return }
        self.result = result
        for waiter in waiters { waiter.resume(returning: result) }
        waiters.removeAll()
    }

    func value() async -> Result<T, any Error> {
        if let result { return result }
        return await withCheckedContinuation { waiters.append($0) }
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

/// Whether `condition` holds within `seconds` (native seconds, scaled by `TestTiming.scale`): asked at once, then every `interval` until it holds or the time is
/// up. A test waits on what it means to see with this, never on a fixed sleep; the caller's `#expect` on the result
/// says what did not happen.
public func eventually(
    _ seconds: Double, every interval: Duration = .milliseconds(50), _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(TestTiming.seconds(seconds) * 1000))
    while true {
        if try await condition() { return true }
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: interval)
    }
}
