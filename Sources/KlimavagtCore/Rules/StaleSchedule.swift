/// When each sensor goes stale, with the earliest at hand: a binary min-heap of (deadline, sensor) with lazy
/// deletion, beside each sensor's current deadline.
///
/// A reading moves its sensor's deadline on: the new one is pushed (O(log n)) and the old entry is left in the heap,
/// skipped when it comes to the top. The top is always a current entry after every change, so `earliest` reads it
/// without changing anything; stale entries beyond twice the sensors are compacted away. Before it, the engine
/// walked every sensor whenever the one with the earliest deadline reported, which with sensors reporting in turn
/// was every reading: a third of the agent's instructions with 100 MQTT sensors.
///
/// Each sensor has a slot, given at its first deadline: the heap holds slots, not names, so that moving an entry
/// is a copy of two numbers and checking the top is an array read (with names, each reading's pop and push counted
/// references and hashed ids, 5 % of the agent's time under a flood).
struct StaleSchedule: Sendable {
    private var slots: [String: Int] = [:]
    /// Each slot's sensor and its current deadline (nil: none).
    private var names: [String] = []
    private var current: [Timestamp?] = []
    /// The slots whose deadline is not nil.
    private var live = 0
    private var heap: [(deadline: Timestamp, slot: Int)] = []

    /// The earliest deadline and its sensor.
    var earliest: (sensor: String, deadline: Timestamp)? {
        heap.first.map { (names[$0.slot], $0.deadline) }
    }

    /// Every sensor with a deadline, and it, in the order the sensors first had one.
    var all: [(sensor: String, deadline: Timestamp)] {
        current.indices.compactMap { slot in current[slot].map { (names[slot], $0) } }
    }

    /// Sets or clears (nil) a sensor's deadline.
    mutating func set(_ sensor: String, _ deadline: Timestamp?) {
        let slot: Int
        if let known = slots[sensor] {
            slot = known
        } else {
            guard deadline != nil else { return }
            slot = names.count
            slots[sensor] = slot
            names.append(sensor)
            current.append(nil)
        }
        let before = current[slot]
        guard before != deadline else { return }
        live += (deadline == nil ? 0 : 1) - (before == nil ? 0 : 1)
        current[slot] = deadline
        if let deadline { push((deadline, slot)) }
        if heap.count > 2 * live + 64 {
            heap = current.indices.compactMap { slot in current[slot].map { ($0, slot) } }
            heap.sort { $0.deadline < $1.deadline }   // a sorted array is a heap
        }
        dropOutdatedTop()
    }

    private mutating func dropOutdatedTop() {
        while let top = heap.first, current[top.slot] != top.deadline { popTop() }
    }

    private mutating func push(_ entry: (deadline: Timestamp, slot: Int)) {
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
