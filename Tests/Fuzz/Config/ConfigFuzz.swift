// libFuzzer harness (b): configuration text through ConfigurationLoader and what `check-config` and the agent's
// start then do with the result: the rule engine is built and started, every duration and number is formatted as
// check-config prints it, Home Assistant discovery and the inactive alert states are written, the MQTT feed's topic
// filters are worked out, and the rules' clock runs a day on.
//
// The input is the YAML file. It is written to a scratch folder, beside copies of the repository's traces (so
// `simulated: {file: skybrud-2011-07-02.csv}` loads); device profiles come from the repository's Devices/.
// Inputs naming `devices_dir` are skipped: the fuzzer would otherwise walk the host's file system.
import Foundation
import KlimavagtCore
import KlimavagtFuzzSupport
@testable import KlimavagtRuntime

let prepared: Bool = {
    for trace in ["demo/skybrud-2011-07-02.csv", "rain-gauges/fixtures/rimco-0.2mm.csv"] {
        let source = FuzzSupport.devicesDirectory + "/" + trace
        if let data = FileManager.default.contents(atPath: source) {
            _ = FuzzSupport.write(String(decoding: data, as: UTF8.self), to: (trace as NSString).lastPathComponent)
        }
    }
    return true
}()

func number(_ value: Double) -> String {   // CheckConfig.number
    value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
}

func fuzzConfig(_ bytes: [UInt8]) {
    _ = prepared
    let text = String(decoding: bytes, as: UTF8.self)
    guard !text.contains("devices_dir") else { return }
    let file = FuzzSupport.write(text, to: "config.yaml")
    let configuration: Configuration
    do {
        configuration = try ConfigurationLoader.load(file, devicesDirectory: FuzzSupport.devicesDirectory)
    } catch {
        _ = error.description
        return
    }
    // What check-config prints.
    _ = DurationText.format(configuration.telemetryInterval)
    _ = DurationText.format(configuration.storeFlushInterval)
    _ = DurationText.format(configuration.mqtt.keepalive)
    for sensor in configuration.sensors {
        if case .pulses(let perPulse) = sensor.spec.measure { _ = number(Double(perPulse) / 1e9) }
        switch sensor.input {
        case .gpio(let gpio):
            switch gpio.mode {
            case .pulse(let minimum, let maximum): _ = DurationText.format(minimum) + DurationText.format(maximum)
            case .level(let hold): _ = DurationText.format(hold)
            }
        case .mqtt(let mqtt):
            if let datum = mqtt.datum { _ = number(datum) }
            if let skew = mqtt.maximumClockSkew { _ = DurationText.format(skew) }
        case .simulated(let simulated): _ = number(simulated.speed)
        case nil: break
        }
        let limits = sensor.spec.plausible
        for limit in [limits.minimum, limits.maximum, limits.maximumStep].compactMap({ $0 }) { _ = number(limit) }
        if let flatline = limits.flatline { _ = DurationText.format(flatline) }
        if let stale = sensor.spec.staleAfter { _ = DurationText.format(stale) }
        if let rate = sensor.rate { _ = DurationText.format(rate.timeout) }
    }
    for rule in configuration.rules {
        _ = DurationText.format(rule.window) + DurationText.format(rule.hold) + DurationText.format(rule.pendingFor)
        if let renotify = rule.renotify { _ = DurationText.format(renotify) }
        _ = rule.levels.ordered.map { number($0.threshold) }
        _ = number(rule.hysteresis)
    }
    // What the agent's start does: the rules (Pipeline.init), the MQTT feed's filters, discovery and inactive states.
    var byID: [String: Configuration.Sensor] = [:]
    for sensor in configuration.sensors where !sensor.isTemplate { byID[sensor.id] = sensor }
    var engine: RuleEngine
    do {
        engine = try RuleEngine(site: configuration.site, sensors: byID.values.map(\.spec), rules: configuration.rules,
                                makeID: { rule, seq in "\(rule)-\(seq)" })
    } catch {
        _ = error.description
        return
    }
    _ = PayloadRouter(sensors: configuration.sensors).filters
    let discovery = HomeAssistantDiscovery(prefix: configuration.prefix,
                                           discoveryPrefix: configuration.homeAssistantPrefix,
                                           site: configuration.site, version: "fuzz")
    let now = Timestamp(seconds: 1_719_943_200)
    for sensor in configuration.sensors where !sensor.isTemplate { _ = discovery.configs(for: sensor) }
    _ = discovery.agentConfig(rules: configuration.rules)
    _ = discovery.legacyTopics(sensors: configuration.sensors, rules: configuration.rules)
    for rule in configuration.rules {
        if let sensor = engine.sensors[rule.sensor] { _ = rule.inactiveStateJSON(site: configuration.site, sensor: sensor, since: now) }
    }
    engine.start(at: now)
    _ = engine.nextDeadline
    for event in engine.advance(to: now + .seconds(86_400)) { _ = event.json }
}

/// libFuzzer's entry point (also under this name for tools that look for it).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzConfig(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

@main
enum ConfigFuzzMain {
    static func main() {
        #if FUZZING
        FuzzSupport.libFuzzerMain(fuzzerTestOneInput)
        #else
        FuzzSupport.replayMain(fuzzConfig)
        #endif
    }
}
