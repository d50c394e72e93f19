import Foundation
import KlimavagtMQTT
import KlimavagtTestSupport
import Testing

/// Home Assistant MQTT discovery through a real broker.
@Suite("Home Assistant discovery", .serialized)
struct HomeAssistantTests {
    func configs(discovery: Bool) async throws -> [String: [String: Any]] {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-ha-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try """
            site: koege-havn
            mqtt: {host: 127.0.0.1, port: \(broker.port)}
            home_assistant: {discovery: \(discovery)}
            sensors:
              - id: rain-1
                device: rimco-0.2mm
              - id: level-1
                unit: cm
                input: {mqtt: {topic: site/level}}
              - id: pumps
                device: tasmota-energy
                field: energy_total
                input: {mqtt: {topic: tele/pumps/SENSOR}}
              - id: sump-high
                unit: state
            rules:
              - {id: skybrud, kind: cloudburst, sensor: rain-1}
              - {id: stormflod, kind: storm_surge, sensor: level-1, levels: {warning: 125}}
            """.write(to: folder.appendingPathComponent("agent.yaml"), atomically: true, encoding: .utf8)
        let agent = try Klimavagt.start(["run", "--config", folder.appendingPathComponent("agent.yaml").path,
                                          "--state-dir", folder.appendingPathComponent("state").path,
                                          "--control-socket", folder.appendingPathComponent("control.sock").path])
        defer { agent.signal(SIGKILL); agent.wait() }
        let watcher = try MQTTClient(MQTTOptions(port: broker.port, clientID: "ha-status"))
        defer { watcher.close() }
        try await watcher.connect()
        try await watcher.subscribe("klimavagt/koege-havn/status")
        let statuses = watcher.messages
        try await within(20, "agent online") {
            for await message in statuses where message.text == "online" { return }
        }
        try await Task.sleep(for: .seconds(1))
        // A subscriber that comes later gets every retained config at once.
        let homeAssistant = try MQTTClient(MQTTOptions(port: broker.port, clientID: "ha"))
        defer { homeAssistant.close() }
        try await homeAssistant.connect()
        try await homeAssistant.subscribe("homeassistant/#")
        try await Task.sleep(for: .seconds(1))
        homeAssistant.close()
        var found: [String: [String: Any]] = [:]
        for await message in homeAssistant.messages {
            found[message.topic] = try JSONSerialization.jsonObject(with: Data(message.payload)) as? [String: Any]
            #expect(message.retain)
        }
        return found
    }

    @Test("each sensor and alert rule appears with its device, unit, classes and availability on PREFIX/status")
    func discovery() async throws {
        let found = try await configs(discovery: true)
        let node = "homeassistant/%@/klimavagt_koege_havn/%@/config"
        let rain = try #require(found[String(format: node, "sensor", "rain_1")])
        #expect(rain["unit_of_measurement"] as? String == "mm/h")
        #expect(rain["device_class"] as? String == "precipitation_intensity")
        #expect(rain["state_topic"] as? String == "klimavagt/koege-havn/sensors/rain-1/state")
        #expect(rain["availability_topic"] as? String == "klimavagt/koege-havn/status")
        #expect((rain["device"] as? [String: Any])?["identifiers"] as? [String] == ["klimavagt_koege_havn"])
        let total = try #require(found[String(format: node, "sensor", "rain_1_total")])
        #expect(total["state_class"] as? String == "total_increasing")
        #expect(total["unit_of_measurement"] as? String == "mm")
        #expect(total["value_template"] as? String == "{{ value_json.total }}")
        let level = try #require(found[String(format: node, "sensor", "level_1")])
        #expect(level["device_class"] as? String == "distance")
        #expect(level["state_class"] as? String == "measurement")
        let energy = try #require(found[String(format: node, "sensor", "pumps")])
        #expect(energy["state_class"] as? String == "total_increasing")
        #expect(energy["device_class"] as? String == "energy")
        let sump = try #require(found[String(format: node, "binary_sensor", "sump_high")])
        #expect(sump["unit_of_measurement"] == nil)
        let alert = try #require(found[String(format: node, "binary_sensor", "alert_skybrud")])
        #expect(alert["device_class"] as? String == "problem")
        #expect(alert["json_attributes_topic"] as? String == "klimavagt/koege-havn/alerts/skybrud/state")
        #expect(found[String(format: node, "binary_sensor", "alert_stormflod")] != nil)
    }

    @Test("discovery can be turned off")
    func off() async throws {
        let found = try await configs(discovery: false)
        #expect(found.isEmpty)
    }
}
