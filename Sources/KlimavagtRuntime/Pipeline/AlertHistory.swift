import KlimavagtCore

/// The latest alert events since the agent started, oldest first, for `klimavagt alerts --history`: the newest
/// `capacity` are kept. The outbox's journal, not this, is what makes an event durable.
struct AlertHistory {
    let capacity: Int
    private(set) var events: [AlertEvent] = []

    init(capacity: Int = 200) {
        self.capacity = capacity
    }

    mutating func append(contentsOf new: [AlertEvent]) {
        events.append(contentsOf: new)
        if events.count > capacity { events.removeFirst(events.count - capacity) }
    }
}
