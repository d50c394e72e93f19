import Foundation

/// The messages a client has received and not yet read, in arrival order, readable one at a time or in batches, or
/// handed to a handler on the network thread.
///
/// Threading: the network thread appends; one reader at a time takes. A reader that finds the inbox empty suspends
/// until a message arrives or the inbox is finished; reading a batch takes everything waiting with one wake-up.
/// With a handler set (`deliverOnNetworkThread`), the network thread instead hands each pass's messages to it
/// itself, so a message costs no thread switch at all. When more than `capacity` messages wait, the oldest is
/// dropped and counted.
public final class MQTTInbox: AsyncSequence, @unchecked Sendable {   // unchecked: its queue is guarded by `lock`, not yet a Mutex (the hot path of every message)
    public typealias Element = MQTTMessage

    public let capacity: Int
    private let lock = NSLock()
    private var waiting: [MQTTMessage] = []
    private var head = 0
    private var reader: CheckedContinuation<Void, Never>?
    private var finished = false
    private var dropped = 0
    private var handler: (@Sendable ([MQTTMessage]) -> Void)?
    /// Held while a handler runs, so removing the handler waits for a call in progress.
    private let delivery = NSLock()

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Messages dropped, oldest first, because the reader fell more than `capacity` behind.
    public var droppedCount: Int { lock.withLock { dropped } }

    func append(_ message: MQTTMessage) {
        let resume: CheckedContinuation<Void, Never>? = lock.withLock {
            guard !finished else { return nil }
            if waiting.count - head >= capacity {
                head += 1
                dropped += 1
            }
            waiting.append(message)
            if handler != nil { return nil }   // delivered by the network loop after this pass
            defer { reader = nil }
            return reader
        }
        resume?.resume()
    }

    func finish() {
        let resume: CheckedContinuation<Void, Never>? = lock.withLock {
            finished = true
            defer { reader = nil }
            return reader
        }
        resume?.resume()
    }

    /// Hands every message from now on to `handler`, in batches, on the network thread; the handler must return
    /// quickly and must not wait for the client (a publish waiting for its PUBACK would never see it).
    public func deliverOnNetworkThread(_ handler: @escaping @Sendable ([MQTTMessage]) -> Void) {
        delivery.withLock { lock.withLock { self.handler = handler } }
    }

    /// Stops handing messages to the handler, after the call in progress, if any; later messages wait for a reader.
    public func stopDelivering() {
        delivery.withLock { lock.withLock { handler = nil } }
    }

    /// Called by the network loop after each pass: gives the messages of that pass to the handler, if one is set.
    func deliverPending() {
        delivery.withLock {
            let work: (handler: @Sendable ([MQTTMessage]) -> Void, batch: [MQTTMessage])? = lock.withLock {
                guard let handler, waiting.count > head else { return nil }
                let batch = Array(waiting[head...])
                waiting.removeAll(keepingCapacity: true)
                head = 0
                return (handler, batch)
            }
            if let work { work.handler(work.batch) }
        }
    }

    /// Up to `limit` waiting messages, suspending while there are none; nil once finished and empty, or when the
    /// reading task is cancelled.
    public func batch(limit: Int = 512) async -> [MQTTMessage]? {
        while true {
            if let taken = take(limit) { return taken.isEmpty ? nil : taken }
            if Task.isCancelled { return nil }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let ready: Bool = lock.withLock {
                        if finished || waiting.count > head || Task.isCancelled { return true }
                        reader = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            } onCancel: {
                let resume: CheckedContinuation<Void, Never>? = lock.withLock {
                    defer { reader = nil }
                    return reader
                }
                resume?.resume()
            }
        }
    }

    /// Takes up to `limit` messages; an empty array when finished and empty, nil when there are none yet.
    private func take(_ limit: Int) -> [MQTTMessage]? {
        lock.withLock {
            let available = waiting.count - head
            if available == 0 { return finished ? [] : nil }
            let count = Swift.min(limit, available)
            let taken = Array(waiting[head..<(head + count)])
            head += count
            if head == waiting.count {
                waiting.removeAll(keepingCapacity: waiting.capacity <= 4 * capacity)
                head = 0
            } else if head > capacity {
                waiting.removeFirst(head)
                head = 0
            }
            return taken
        }
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(inbox: self)
    }

    /// Reads one message at a time, so a loop that stops early leaves the rest in the inbox for the next reader.
    public struct Iterator: AsyncIteratorProtocol {
        let inbox: MQTTInbox

        public mutating func next() async -> MQTTMessage? {
            await inbox.batch(limit: 1)?.first
        }
    }
}
