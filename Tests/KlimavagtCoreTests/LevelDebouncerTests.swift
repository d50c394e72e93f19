import KlimavagtCore
import Testing

@Suite("Debouncing a float switch")
struct LevelDebouncerTests {
    let start = Timestamp(seconds: 500)

    @Test("chatter shorter than the hold time never changes the state; a held state does, at its start")
    func chatter() {
        var debouncer = LevelDebouncer(hold: .seconds(2), initial: false)
        var changes: [(Bool, Timestamp)] = []
        var time = start
        // Waves: the float lifts and drops every 300 ms for 3 s, then stays up.
        for index in 0..<10 {
            debouncer.level(index % 2 == 0, at: time)
            if let change = debouncer.advance(to: time) { changes.append((change.state, change.since)) }
            time = time + .milliseconds(300)
        }
        let raisedAt = time
        debouncer.level(true, at: raisedAt)
        #expect(debouncer.nextDeadline == raisedAt + .seconds(2))
        #expect(debouncer.advance(to: raisedAt + .milliseconds(1999)) == nil)
        if let change = debouncer.advance(to: raisedAt + .seconds(2)) { changes.append((change.state, change.since)) }
        #expect(changes.count == 1)
        #expect(changes.first?.0 == true)
        #expect(changes.first?.1 == raisedAt)
        #expect(debouncer.state == true)
    }

    @Test("the first level read sets the state once it has held")
    func initial() {
        var debouncer = LevelDebouncer(hold: .seconds(1))
        debouncer.level(false, at: start)
        #expect(debouncer.advance(to: start + .seconds(1))?.state == false)
        debouncer.level(false, at: start + .seconds(5))
        #expect(debouncer.nextDeadline == nil)
    }
}
