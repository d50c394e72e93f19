import Foundation
import KlimavagtMQTT
@testable import KlimavagtRuntime
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
        defer { try? FileManager.default.removeItem(at: folder) }
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

    /// The components of the device message at `homeassistant/device/ID/config`, by key, and the message itself.
    func device(_ id: String, in found: [String: [String: Any]]) throws -> (message: [String: Any], components: [String: [String: Any]]) {
        let message = try #require(found["homeassistant/device/\(id)/config"], "no device \(id) in \(found.keys.sorted())")
        let components = try #require(message["components"] as? [String: [String: Any]])
        return (message, components)
    }

    @Test("one device per sensor via the agent's device, classes from the profiles, alerts unavailable in nodata, diagnostics, origin")
    func discovery() async throws {
        let found = try await configs(discovery: true)
        #expect(found.keys.allSatisfy { $0.hasPrefix("homeassistant/device/") }, "device-based discovery only: \(found.keys.sorted())")
        let agent = try device("klimavagt_koege_havn", in: found)
        let agentDevice = try #require(agent.message["device"] as? [String: Any])
        #expect(agentDevice["identifiers"] as? [String] == ["klimavagt_koege_havn"])
        let origin = try #require(agent.message["origin"] as? [String: Any])
        #expect(origin["name"] as? String == "klimavagt" && origin["support_url"] != nil && origin["sw_version"] != nil)

        let rain = try device("klimavagt_koege_havn_rain_1", in: found)
        let rainDevice = try #require(rain.message["device"] as? [String: Any])
        #expect(rainDevice["via_device"] as? String == "klimavagt_koege_havn")
        #expect(rainDevice["model"] as? String == "RIMCO 7499 tipping bucket (SVK network)")
        let rate = try #require(rain.components["rain_1"])
        #expect(rate["platform"] as? String == "sensor")
        #expect(rate["unit_of_measurement"] as? String == "mm/h")
        #expect(rate["device_class"] as? String == "precipitation_intensity")
        #expect(rate["suggested_display_precision"] as? Int == 1)
        #expect(rate["default_entity_id"] as? String == "sensor.klimavagt_koege_havn_rain_1")
        #expect(rate["object_id"] == nil, "object_id is deprecated in Home Assistant")
        #expect(rate["json_attributes_topic"] as? String == "klimavagt/koege-havn/sensors/rain-1/state")
        let total = try #require(rain.components["rain_1_total"])
        #expect(total["state_class"] as? String == "total_increasing")
        #expect(total["device_class"] as? String == "precipitation")
        #expect(total["unit_of_measurement"] as? String == "mm")
        #expect(total["value_template"] as? String == "{{ value_json.total }}")
        let availability = try #require(rate["availability"] as? [[String: Any]])
        #expect(availability.first?["topic"] as? String == "klimavagt/koege-havn/status")

        let level = try #require(try device("klimavagt_koege_havn_level_1", in: found).components["level_1"])
        #expect(level["device_class"] as? String == "distance")
        #expect(level["state_class"] as? String == "measurement")
        #expect(level["expire_after"] as? Int == 900, "a level sensor's value expires after its stale_after (15 min)")
        #expect((level["json_attributes_template"] as? String)?.contains("quality") == true)
        let energy = try #require(try device("klimavagt_koege_havn_pumps", in: found).components["pumps"])
        #expect(energy["state_class"] as? String == "total_increasing")
        #expect(energy["device_class"] as? String == "energy")
        #expect(energy["suggested_display_precision"] as? Int == 3)
        let sump = try #require(try device("klimavagt_koege_havn_sump_high", in: found).components["sump_high"])
        #expect(sump["platform"] as? String == "binary_sensor")
        #expect(sump["unit_of_measurement"] == nil)

        let alert = try #require(agent.components["alert_skybrud"])
        #expect(alert["device_class"] as? String == "problem")
        #expect(alert["json_attributes_topic"] as? String == "klimavagt/koege-havn/alerts/skybrud/state")
        let attributes = try #require(alert["json_attributes_template"] as? String)
        #expect(attributes.contains("'alert_state': value_json.state"), "Home Assistant blocks an attribute named state")
        let alertAvailability = try #require(alert["availability"] as? [[String: Any]])
        #expect(alertAvailability.count == 2 && alert["availability_mode"] as? String == "all")
        #expect((alertAvailability.last?["value_template"] as? String)?.contains("nodata") == true,
                "nodata makes the alert unavailable, never OFF")
        #expect(agent.components["alert_stormflod"] != nil)
        let broker = try #require(agent.components["broker_connection"])
        #expect(broker["device_class"] as? String == "connectivity" && broker["entity_category"] as? String == "diagnostic")
        #expect(broker["availability"] == nil)
        for key in ["alerts_waiting", "payloads_refused", "last_start"] {
            let entity = try #require(agent.components[key], "diagnostic \(key)")
            #expect(entity["entity_category"] as? String == "diagnostic")
            #expect(entity["state_topic"] as? String == "klimavagt/koege-havn/health")
        }
    }

    @Test("classes Home Assistant would refuse are never announced: kWh that is not a total, %, m³")
    func classFallbacks() {
        #expect(HomeAssistantHints.fallback(unit: "kWh", isTotal: false).deviceClass == nil)
        #expect(HomeAssistantHints.fallback(unit: "kWh", isTotal: true).deviceClass == "energy")
        #expect(HomeAssistantHints.fallback(unit: "%", isTotal: false).deviceClass == nil, "battery or humidity: the profile says")
        #expect(HomeAssistantHints.fallback(unit: "m³", isTotal: true).deviceClass == "water")
        #expect(HomeAssistantHints.fallback(unit: "m³", isTotal: false).deviceClass == "volume_storage")
        #expect(HomeAssistantHints.fallback(unit: "cm", isTotal: true).deviceClass == nil)
        #expect(HomeAssistantHints(deviceClass: "energy", stateClass: "measurement").refusal(unit: "kWh", binary: false) != nil)
        #expect(HomeAssistantHints(deviceClass: "battery").refusal(unit: "cm", binary: false) != nil)
        #expect(HomeAssistantHints(deviceClass: "humidity", stateClass: "measurement").refusal(unit: "%", binary: false) == nil)
    }

    @Test("a home_assistant: combination Home Assistant refuses is a configuration error at its line and column")
    func refusedCombination() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-ha-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("agent.yaml").path
        try """
            site: s
            mqtt: {host: 127.0.0.1, port: 1883}
            sensors:
              - id: humidity-1
                unit: "%"
                home_assistant: {device_class: humidity}
              - id: meter
                unit: kWh
                home_assistant: {device_class: energy, state_class: measurement}
            """.write(toFile: file, atomically: true, encoding: .utf8)
        do {
            _ = try ConfigurationLoader.load(file, devicesDirectory: repositoryRoot.appendingPathComponent("Devices").path)
            Issue.record("loaded a state class Home Assistant refuses")
        } catch {
            #expect(error.description.hasPrefix("\(file):9:"), "\(error.description)")
            #expect(error.description.contains("energy takes state class total or total_increasing"), "\(error.description)")
        }
    }

    @Test("discovery can be turned off")
    func off() async throws {
        let found = try await configs(discovery: false)
        #expect(found.isEmpty)
    }
}
