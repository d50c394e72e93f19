import KlimavagtCore
import Testing

@Suite("MQTT topic filters and sensor templates")
struct TopicFilterTests {
    @Test("wildcards match as MQTT defines them and return the levels they matched", arguments: [
        ("tele/+/SENSOR", "tele/pump-3/SENSOR", ["pump-3"]),
        ("tele/+/SENSOR", "tele/a/b/SENSOR", nil),
        ("tele/+/SENSOR", "tele/pump-3/STATE", nil),
        ("v3/+/devices/+/up", "v3/koege@ttn/devices/wl-1/up", ["koege@ttn", "wl-1"]),
        ("site/#", "site/a/b/c", ["a/b/c"]),
        ("site/#", "site", [""]),
        ("+/status/switch:0", "shelly-1/status/switch:0", ["shelly-1"]),
        ("#", "$SYS/broker/load", nil),
        ("a/b", "a/b", []),
        ("a/b", "a/b/c", nil),
        ("+", "", [""]),
    ] as [(String, String, [String]?)])
    func match(filter: String, topic: String, expected: [String]?) throws {
        let parsed = try #require(TopicFilter(filter))
        #expect(parsed.match(topic)?.map(String.init) == expected)
    }

    @Test("malformed filters are refused", arguments: ["", "a/#/b", "a/b#", "a+/b", "a/\u{0}"])
    func malformed(filter: String) {
        #expect(TopicFilter(filter) == nil)
    }

    @Test("a template fills from wildcard levels and matches its own ids back")
    func template() throws {
        let template = try #require(SensorTemplate("power-{1}"))
        #expect(template.fill(["pump-3"]) == "power-pump-3")
        #expect(template.fill([""]) == nil)
        #expect(template.match("power-pump-3") == ["pump-3"])
        #expect(template.match("energy-pump-3") == nil)
        let two = try #require(SensorTemplate("{2}-at-{1}"))
        #expect(two.fill(["koege", "wl-1"]) == "wl-1-at-koege")
        #expect(two.match("wl-1-at-koege") == ["koege", "wl-1"])
        #expect(TopicFilter("v3/+/devices/+/up")!.filling(["koege", "wl-1"]) == "v3/koege/devices/wl-1/up")
        #expect(SensorTemplate("plain") == nil)
        #expect(SensorTemplate("{1}{2}") == nil)
    }
}
