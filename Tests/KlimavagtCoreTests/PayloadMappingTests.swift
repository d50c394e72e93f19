import KlimavagtCore
import Testing

@Suite("Readings from JSON payloads")
struct PayloadMappingTests {
    let arrival = Timestamp(rfc3339: "2024-07-02T18:00:30Z")!

    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("a down-looking distance in mm becomes a level in cm below the datum, at the payload's RFC 3339 time")
    func datum() throws {
        let mapping = PayloadMapping(
            value: JSONPath("uplink_message.decoded_payload.distance")!, scale: 0.1, datum: 250,
            time: (JSONPath("received_at")!, .rfc3339))
        let payload = #"{"received_at":"2024-07-02T17:59:58.123456789Z","uplink_message":{"decoded_payload":{"distance":1234}}}"#
        let reading = try mapping.reading(sensor: "level-1", payload: bytes(payload), arrival: arrival).get()
        #expect(reading.value == 250 - 123.4)
        #expect(reading.time == Timestamp(rfc3339: "2024-07-02T17:59:58.123456789Z"))
    }

    @Test("a local time without an offset is converted with the zone's rule, summer and winter")
    func localTime() throws {
        let copenhagen: @Sendable (Int64) -> Int64? = { civil in
            // Central European rules for 2024: summer time from 31 March 01:00 UTC to 27 October 01:00 UTC.
            let summer = civil - 7200 >= 1_711_846_800 && civil - 7200 < 1_729_990_800
            return civil - (summer ? 7200 : 3600)
        }
        let mapping = PayloadMapping(value: JSONPath("ENERGY.Power")!, time: (JSONPath("Time")!, .local(toUTC: copenhagen)))
        let july = try mapping.reading(
            sensor: "p", payload: bytes(#"{"Time":"2024-07-02T20:00:00","ENERGY":{"Power":1450}}"#), arrival: arrival).get()
        #expect(july.time == Timestamp(rfc3339: "2024-07-02T18:00:00Z"))
        #expect(july.value == 1450)
        let january = try mapping.reading(
            sensor: "p", payload: bytes(#"{"Time":"2024-01-02T20:00:00","ENERGY":{"Power":0}}"#), arrival: arrival).get()
        #expect(january.time == Timestamp(rfc3339: "2024-01-02T19:00:00Z"))
    }

    @Test("without a time field the arrival time is used; true/false and ON/OFF are 1 and 0")
    func arrivalAndStates() throws {
        let mapping = PayloadMapping(value: JSONPath("state")!, states: ["ON": 1, "OFF": 0])
        #expect(try mapping.reading(sensor: "s", payload: bytes(#"{"state":"ON"}"#), arrival: arrival).get().value == 1)
        #expect(try mapping.reading(sensor: "s", payload: bytes(#"{"state":false}"#), arrival: arrival).get().value == 0)
        #expect(try mapping.reading(sensor: "s", payload: bytes(#"{"state":"OFF"}"#), arrival: arrival).get().time == arrival)
    }

    @Test("each kind of malformed payload is refused with its own reason", arguments: [
        ("not json at all", "not_json"),
        (#"{"v": }"#, "not_json"),
        (#"{"w": 1}"#, "missing_field"),
        (#"{"v": "12.5"}"#, "wrong_type"),
        (#"{"v": [1]}"#, "wrong_type"),
        (#"{"v": null}"#, "wrong_type"),
        (#"{"v": NaN}"#, "not_a_number"),
        (#"{"v": "nan"}"#, "not_a_number"),
        (#"{"v": 1, "t": "yesterday"}"#, "bad_time"),
        (#"{"v": 1, "t": 5}"#, "wrong_type"),
        (#"{"v": 1}"#, "missing_field"),
    ])
    func rejected(payload: String, reason: String) {
        let mapping = PayloadMapping(value: JSONPath("v")!, time: (JSONPath("t")!, .rfc3339))
        switch mapping.reading(sensor: "s", payload: bytes(payload), arrival: arrival) {
        case .success(let reading): Issue.record("accepted \(reading)")
        case .failure(let rejection): #expect(rejection.reason == reason)
        }
    }

    @Test("a payload over the size limit is refused before it is parsed")
    func tooLarge() {
        let mapping = PayloadMapping(value: JSONPath("v")!, maximumBytes: 64 * 1024)
        let payload = bytes(#"{"v":1,"pad":""# + String(repeating: "x", count: 64 * 1024) + #""}"#)
        guard case .failure(let rejection) = mapping.reading(sensor: "s", payload: payload, arrival: arrival) else {
            Issue.record("accepted")
            return
        }
        #expect(rejection == .tooLarge(bytes: payload.count, limit: 65536))
    }

    @Test("unix seconds and milliseconds are read as event times")
    func unixTimes() throws {
        let seconds = PayloadMapping(value: JSONPath("v")!, time: (JSONPath("ts")!, .unixSeconds))
        let millis = PayloadMapping(value: JSONPath("v")!, time: (JSONPath("ts")!, .unixMilliseconds))
        #expect(try seconds.reading(sensor: "s", payload: bytes(#"{"v":1,"ts":1719943200}"#), arrival: arrival).get().time
            == Timestamp(rfc3339: "2024-07-02T18:00:00Z"))
        #expect(try millis.reading(sensor: "s", payload: bytes(#"{"v":1,"ts":1719943200250}"#), arrival: arrival).get().time
            == Timestamp(rfc3339: "2024-07-02T18:00:00.250Z"))
    }
}
