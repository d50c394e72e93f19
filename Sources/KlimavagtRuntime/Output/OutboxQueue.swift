/// Where the pipeline hands what it decided: alert events in order with the rules' states, and retained telemetry.
/// `Outbox` is the agent's (journal, broker); tests record what arrives, in process.
///
/// Threading: `enqueue` is called under the pipeline's lock, from any thread; it must not block for long nor call
/// back into the pipeline.
public protocol OutboxQueue: AnyObject, Sendable {
    func enqueue(_ message: Outbox.Message)
}

extension Outbox: OutboxQueue {}
