import Foundation
import KlimavagtSystem

/// The messages a client has received and not yet read, in arrival order, readable one at a time or in batches, or
/// handed to a handler on the network thread.
///
/// Threading: the network thread appends; one reader at a time takes. A reader that finds the inbox empty suspends
/// until a message arrives or the inbox is finished; reading a batch takes everything waiting with one wake-up.
/// With a handler set (`deliverOnNetworkThread`), the network thread instead hands each pass's messages to it
/// itself, so a message costs no thread switch at all. When more than `capacity` messages wait, the oldest is
/// dropped and counted.
public final class MQTTInbox: AsyncSequence, Sendable {
    public typealias Element = MQTTMessage

    private struct Queue {
        /// The messages not yet read are `waiting[head...]`, oldest first.
        var waiting: [MQTTMessage] = []
        var head = 0
        /// The reader suspended for a message, resumed (and cleared) by the next append, the finish or its cancel.
        var reader: CheckedContinuation<Void, Never>?
        var finished = false
        var dropped = 0
        var handler: (@Sendable ([MQTTMessage]) -> Void)?
    }

    public let capacity: Int
    private let queue = Locked(Queue())
    /// The handler's calls so far. Held while a handler runs (and while one is set or removed), so removing the
    /// handler waits for a call in progress. Taken before `queue`, never after.
    private let delivery = Locked(0)

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// The messages waiting to be read or handed to the handler.
    var waitingCount: Int { queue.withLock { $0.waiting.count - $0.head } }

    /// Whether a handler takes the messages on the network thread (`deliverOnNetworkThread`).
    var deliversOnNetworkThread: Bool { queue.withLock { $0.handler != nil } }

    /// Messages dropped, oldest first, because the reader fell more than `capacity` behind.
    public var droppedCount: Int { queue.withLock { $0.dropped } }

    func append(_ message: MQTTMessage) {
        let capacity = self.capacity
        let resume: CheckedContinuation<Void, Never>? = queue.withLock { queue in
            guard !queue.finished else { return nil }
            if queue.waiting.count - queue.head >= capacity {
                queue.head += 1
                queue.dropped += 1
            }
            queue.waiting.append(message)
            if queue.handler != nil { return nil }   // delivered by the network loop after this pass
            defer { queue.reader = nil }
            return queue.reader
        }
        resume?.resume()
    }

    func finish() {
        let resume: CheckedContinuation<Void, Never>? = queue.withLock { queue in
            queue.finished = true
            defer { queue.reader = nil }
            return queue.reader
        }
        resume?.resume()
    }

    /// Hands every message from now on to `handler`, in batches, on the network thread; the handler must return
    /// quickly and must not wait for the client (a publish waiting for its PUBACK would never see it).
    public func deliverOnNetworkThread(_ handler: @escaping @Sendable ([MQTTMessage]) -> Void) {
        delivery.withLock { _ in queue.withLock { $0.handler = handler } }
    }

    /// Stops handing messages to the handler, after the call in progress, if any; later messages wait for a reader.
    public func stopDelivering() {
        delivery.withLock { _ in queue.withLock { $0.handler = nil } }
    }

    /// Called by the network loop after each pass: gives the messages of that pass to the handler, if one is set.
    func deliverPending() {
        delivery.withLock { calls in
            let work: (handler: @Sendable ([MQTTMessage]) -> Void, batch: [MQTTMessage])? = queue.withLock { queue in
                guard let handler = queue.handler, queue.waiting.count > queue.head else { return nil }
                let batch = Array(queue.waiting[queue.head...])
                queue.waiting.removeAll(keepingCapacity: true)
                queue.head = 0
                return (handler, batch)
            }
            if let work {
                work.handler(work.batch)
                calls &+= 1
            }
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
                    let ready: Bool = queue.withLock { queue in
                        if queue.finished || queue.waiting.count > queue.head || Task.isCancelled { return true }
                        queue.reader = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            } onCancel: {
                let resume: CheckedContinuation<Void, Never>? = queue.withLock { queue in
                    defer { queue.reader = nil }
                    return queue.reader
                }
                resume?.resume()
            }
        }
    }

    /// Takes up to `limit` messages; an empty array when finished and empty, nil when there are none yet.
    private func take(_ limit: Int) -> [MQTTMessage]? {
        let capacity = self.capacity
        return queue.withLock { queue in
            let available = queue.waiting.count - queue.head
            if available == 0 { return queue.finished ? [] : nil }
            let count = Swift.min(limit, available)
            let taken = Array(queue.waiting[queue.head..<(queue.head + count)])
            queue.head += count
            if queue.head == queue.waiting.count {
                queue.waiting.removeAll(keepingCapacity: queue.waiting.capacity <= 4 * capacity)
                queue.head = 0
            } else if queue.head > capacity {
                queue.waiting.removeFirst(queue.head)
                queue.head = 0
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
