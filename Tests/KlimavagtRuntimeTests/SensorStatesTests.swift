import Foundation
@testable import KlimavagtRuntime
import KlimavagtCore
import Testing

/// The sensor states the pipeline publishes, in process and without a clock: held back to one per telemetry
/// interval on quarter-second ticks, a suspect reading at once, a rain gauge's rate falling to zero on its own
/// deadline, every held state released at a stop.
@Suite("Sensor states")
struct SensorStatesTests {
    static let sensors: [String: Configuration.Sensor] = {
        let text = RuleConfigurationTests.configuration(kind: "cloudburst", sensor: "rain-1")
        let configuration = try! RuleConfigurationTests.load(text)
        return Dictionary(uniqueKeysWithValues: configuration.sensors.map { ($0.id, $0) })
    }()

    static let start = Timestamp(seconds: 1_800_000_000)

    func states() -> SensorStates {
        SensorStates(telemetryInterval: .seconds(1), topics: ContractTopics(prefix: "klimavagt/test"), bootID: "boot")
    }

    /// The state's JSON as a dictionary.
    func fields(_ state: SensorStates.State?) throws -> [String: Any] {
        let payload = try #require(state).payload
        return try #require(try JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any])
    }

    func level(_ value: Double, at time: Timestamp) -> Reading {
        Reading(sensor: "level-1", time: time, value: value)
    }

    @Test("a level's first state goes out at once; the next within the interval waits for the tick after it")
    func holdBack() throws {
        var states = states()
        let sensor = Self.sensors["level-1"]!
        let first = states.record(level(120, at: Self.start), verdict: .ok, of: sensor, pulses: nil,
                                  at: Self.start, totals: [:])
        #expect(first?.topic == "klimavagt/test/sensors/level-1/state")
        #expect(try fields(first)["value"] as? Double == 120)
        #expect(states.nextDeadline == nil)

        // 0.3 s later: held; due one second after the first went out, on the tick at or after it.
        let second = Self.start + .milliseconds(300)
        #expect(states.record(level(121, at: second), verdict: .ok, of: sensor, pulses: nil, at: second,
                              totals: [:]) == nil)
        #expect(states.nextDeadline == Self.start + .seconds(1))
        #expect(states.due(at: Self.start + .milliseconds(999), sensors: Self.sensors, totals: [:]).isEmpty)
        let released = states.due(at: Self.start + .seconds(1), sensors: Self.sensors, totals: [:])
        #expect(released.count == 1)
        #expect(try fields(released.first)["value"] as? Double == 121)
        #expect(states.nextDeadline == nil)
    }

    @Test("a suspect reading goes out at once, with its reason, even inside the interval")
    func suspectAtOnce() throws {
        var states = states()
        let sensor = Self.sensors["level-1"]!
        _ = states.record(level(120, at: Self.start), verdict: .ok, of: sensor, pulses: nil, at: Self.start, totals: [:])
        let later = Self.start + .milliseconds(100)
        let spike = try fields(states.record(level(208, at: later), verdict: .spike, of: sensor, pulses: nil,
                                             at: later, totals: [:]))
        #expect(spike["quality"] as? String == "suspect")
        #expect(spike["reason"] as? String == "spike")
    }

    @Test("held-back times fall on quarter-second ticks, before 1970 too")
    func ticks() {
        #expect(SensorStates.tick(after: Timestamp(nanoseconds: 0)) == Timestamp(nanoseconds: 0))
        #expect(SensorStates.tick(after: Timestamp(nanoseconds: 1)) == Timestamp(nanoseconds: 250_000_000))
        #expect(SensorStates.tick(after: Timestamp(nanoseconds: 250_000_000)) == Timestamp(nanoseconds: 250_000_000))
        #expect(SensorStates.tick(after: Timestamp(nanoseconds: -1)) == Timestamp(nanoseconds: 0))
        #expect(SensorStates.tick(after: Timestamp(nanoseconds: -300_000_000))
            == Timestamp(nanoseconds: -250_000_000))
    }

    @Test("a rain gauge's state carries its rate, total and boot id; the rate goes to zero on its own deadline")
    func rateToZero() throws {
        var states = states()
        let gauge = Self.sensors["rain-1"]!
        let timeout = try #require(gauge.rate).timeout
        let tip = { (time: Timestamp) in Reading(sensor: "rain-1", time: time, value: 1) }
        _ = states.record(tip(Self.start), verdict: .ok, of: gauge, pulses: 1, at: Self.start, totals: ["rain-1": 1])
        let second = Self.start + .seconds(36)   // 0.2 mm in 36 s: 20 mm/h
        let state = try fields(states.record(tip(second), verdict: .ok, of: gauge, pulses: 1, at: second,
                                             totals: ["rain-1": 2]))
        #expect(state["value"] as? Double == 20)
        #expect(state["unit"] as? String == "mm/h")
        #expect(state["total"] as? Double == 0.4)
        #expect(state["boot_id"] as? String == "boot")
        #expect(states.nextDeadline == second + timeout)
        let zero = states.due(at: second + timeout, sensors: Self.sensors, totals: ["rain-1": 2])
        #expect(try fields(zero.first)["value"] as? Double == 0)
        #expect(states.nextDeadline == nil)
    }

    @Test("a stop releases every held-back state, in sensor order, and leaves no deadline")
    func releaseAtStop() throws {
        var states = states()
        let sensor = Self.sensors["level-1"]!
        _ = states.record(level(120, at: Self.start), verdict: .ok, of: sensor, pulses: nil, at: Self.start, totals: [:])
        let later = Self.start + .milliseconds(500)
        _ = states.record(level(125, at: later), verdict: .ok, of: sensor, pulses: nil, at: later, totals: [:])
        let released = states.releaseHeld(at: later, sensors: Self.sensors, totals: [:])
        #expect(released.map(\.topic) == ["klimavagt/test/sensors/level-1/state"])
        #expect(try fields(released.first)["value"] as? Double == 125)
        #expect(states.nextDeadline == nil)
        #expect(states.releaseHeld(at: later, sensors: Self.sensors, totals: [:]).isEmpty)
    }
}
