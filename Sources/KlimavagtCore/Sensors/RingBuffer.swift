/// A first-in first-out queue on a circular array that grows by doubling and never shifts its elements.
public struct RingBuffer<Element> {
    private var storage: [Element?]
    private var head = 0
    public private(set) var count = 0

    public init(minimumCapacity: Int = 16) {
        storage = Array(repeating: nil, count: max(1, minimumCapacity))
    }

    public var isEmpty: Bool { count == 0 }
    public var capacity: Int { storage.count }

    public var first: Element? { count == 0 ? nil : storage[head] }
    public var last: Element? { count == 0 ? nil : storage[(head + count - 1) % storage.count] }

    public subscript(offset: Int) -> Element {
        precondition(offset >= 0 && offset < count, "RingBuffer index out of range")
        return storage[(head + offset) % storage.count]!
    }

    public mutating func append(_ element: Element) {
        if count == storage.count { grow() }
        storage[(head + count) % storage.count] = element
        count += 1
    }

    @discardableResult
    public mutating func removeFirst() -> Element {
        precondition(count > 0, "removeFirst on an empty RingBuffer")
        let element = storage[head]!
        storage[head] = nil
        head = (head + 1) % storage.count
        count -= 1
        return element
    }

    /// Inserts an element before the first stored element that `belongsBefore` says it precedes, searching from the end.
    public mutating func insert(_ element: Element, belongsBefore: (Element, Element) -> Bool) {
        append(element)
        var index = count - 1
        while index > 0 {
            let previous = self[index - 1]
            guard belongsBefore(element, previous) else { break }
            storage[(head + index) % storage.count] = previous
            index -= 1
        }
        storage[(head + index) % storage.count] = element
    }

    private mutating func grow() {
        var bigger: [Element?] = Array(repeating: nil, count: storage.count * 2)
        for offset in 0..<count {
            bigger[offset] = storage[(head + offset) % storage.count]
        }
        storage = bigger
        head = 0
    }
}

extension RingBuffer: Sendable where Element: Sendable {}
