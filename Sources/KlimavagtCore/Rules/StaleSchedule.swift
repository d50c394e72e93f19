/// When each sensor goes stale, with the earliest at hand: a binary min-heap of (deadline, sensor) with lazy
/// deletion, beside each sensor's current deadline.
///
/// A reading moves its sensor's deadline on: the new one is pushed (O(log n)) and the old entry is left in the heap,
/// skipped when it comes to the top. The top is always a current entry after every change, so `earliest` reads it
/// without changing anything; stale entries beyond twice the sensors are compacted away. Before it, the engine
/// walked every sensor whenever the one with the earliest deadline reported, which with sensors reporting in turn
/// was every reading: a third of the agent's instructions with 100 MQTT sensors.
struct StaleSchedule: Sendable {
    private var current: [String: Timestamp] = [:]
    private var heap: [(deadline: Timestamp, sensor: String)] = []

    /// The earliest deadline and its sensor.
    var earliest: (sensor: String, deadline: Timestamp)? {
        heap.first.map { ($0.sensor, $0.deadline) }
    }

    /// Every sensor with a deadline, and it.
    var all: [String: Timestamp] { current }

    /// Sets or clears (nil) a sensor's deadline.
    mutating func set(_ sensor: String, _ deadline: Timestamp?) {
        guard current[sensor] != deadline else { return }
        current[sensor] = deadline
        if let deadline { push((deadline, sensor)) }
        if heap.count > 2 * current.count + 64 {
            heap = current.map { ($0.value, $0.key) }
            heap.sort { $0.deadline < $1.deadline }   // a sorted array is a heap
        }
        dropOutdatedTop()
    }

    private mutating func dropOutdatedTop() {
        while let top = heap.first, current[top.sensor] != top.deadline { popTop() }
    }

    private mutating func push(_ entry: (deadline: Timestamp, sensor: String)) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].deadline < heap[parent].deadline else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func popTop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { break }
            let right = left + 1
            let smaller = right < heap.count && heap[right].deadline < heap[left].deadline ? right : left
            guard heap[smaller].deadline < heap[parent].deadline else { break }
            heap.swapAt(smaller, parent)
            parent = smaller
        }
    }
}
