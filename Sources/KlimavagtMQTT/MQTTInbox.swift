import Foundation

/// The messages a client has received and not yet read, in arrival order, readable one at a time or in batches.
///
/// Threading: the network thread appends; one reader at a time takes. A reader that finds the inbox empty suspends
/// until a message arrives or the inbox is finished; reading a batch takes everything waiting with one wake-up,
/// which is what keeps a busy input cheap. When more than `capacity` messages wait, the oldest is dropped and
/// counted.
public final class MQTTInbox: AsyncSequence, @unchecked Sendable {
    public typealias Element = MQTTMessage

    public let capacity: Int
    private let lock = NSLock()
    private var waiting: [MQTTMessage] = []
    private var head = 0
    private var reader: CheckedContinuation<Void, Never>?
    private var finished = false
    private var dropped = 0

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
