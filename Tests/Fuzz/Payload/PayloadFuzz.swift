// libFuzzer harness (a): an MQTT message through what MQTTSensorFeed and Pipeline do with it.
//
// Input: one or more messages separated by NUL bytes (at most 16). Each message is `TOPIC\nPAYLOAD`; the topic line
// may end in ` @SECONDS`, the arrival time as seconds from 2024-07-02T18:00:00Z (clamped to 1970...2100, the range a
// board's wall clock can show), else each message arrives a minute after the one before. Every message is routed
// (topic filters, templates, JSON, paths, time formats, clock skew, order; the parse that builds only the routes'
// fields is checked against the whole parse, a difference being a finding), each reading is conditioned (plausibility)
// and ingested by the rules (a message on `klimavagt/fuzz/alerts/RULE/state` is read as a retained alert state and
// restored into the rules, as a start does), its state and any alert event are formatted as the agent publishes them, and the rules'
// clock is advanced to the arrival time; after the last message, two days on.
import Foundation
import KlimavagtCore
import KlimavagtFuzzSupport
@testable import KlimavagtRuntime

/// Several device profiles from Devices/, templates on wildcard topics, every time format, and every level rule kind.
let payloadConfiguration = """
    site: fuzz
    mqtt: {host: 127.0.0.1, port: 1883}
    sensors:
      - id: pump-3-power
        device: tasmota-energy
        input: {mqtt: {topic: tele/pump-3/SENSOR, max_clock_skew: never}}
      - id: pump-3-energy
        device: tasmota-energy
        field: energy_total
        input: {mqtt: {topic: tele/pump-3/SENSOR, max_clock_skew: never}}
      - id: "plug-{1}"
        device: tasmota-energy
        input: {mqtt: {}}
      - id: "{1}-power"
        device: shelly-gen2-switch
        input: {mqtt: {}}
      - id: "{1}-energy"
        device: shelly-gen2-switch
        field: energy_total
        input: {mqtt: {}}
      - id: level-1
        device: milesight-em500-udl
        datum_cm: 250
        input: {mqtt: {topic: "v3/koege@ttn/devices/wl-1/up", max_clock_skew: never}}
      - id: "level-{2}"
        device: milesight-em500-udl
        datum_cm: 250
        input: {mqtt: {}}
      - id: well-temp
        device: generic-json
        unit: °C
        stale_after: 1h
        input: {mqtt: {topic: site/well/temperature, path: "readings[0].t", time_path: ts, time_format: unix_seconds, max_clock_skew: never}}
      - id: well-ms
        device: generic-json
        unit: °C
        input: {mqtt: {topic: site/well/temperature, path: "readings[1].t", time_path: ms, time_format: unix_ms, max_clock_skew: 1h}}
      - id: pump-current
        device: generic-json
        unit: A
        plausible: {min: 0, max: 100, max_step: 20, flatline: 1h}
        input: {mqtt: {topic: site/pump/current, path: "$", max_bytes: 64}}
      - id: gate
        unit: state
        input: {mqtt: {topic: "site/+/gate", path: state}}
      - id: "any-{1}"
        unit: cm
        input: {mqtt: {topic: "fuzz/#", path: "v", time_path: t, time_format: rfc3339, max_clock_skew: never}}
      - id: local-level
        unit: cm
        input: {mqtt: {topic: local/level, path: "v", scale: 0.1, offset: -3, time_path: t, time_format: local, time_zone: Europe/Copenhagen, max_clock_skew: never}}
    rules:
      - {id: stormflod, kind: storm_surge, sensor: level-1, levels: {warning: 125, severe: 150, extreme: 180}, renotify: 10m}
      - {id: stigning, kind: rate_of_rise, sensor: level-1, window: 10m, levels: {warning: 20}}
      - {id: pumper, kind: threshold, sensor: plug-pump-3, levels: {warning: 500}, for: 5m, renotify: 1h}
      - {id: strom, kind: threshold, sensor: pump-current, levels: {warning: 10, severe: 50}, hysteresis: 1, hold: 1m}
      - {id: frost, kind: threshold, sensor: well-temp, direction: below, levels: {warning: 2}}
      - {id: brond-stale, kind: stale, sensor: well-temp}
      - {id: gate-open, kind: threshold, sensor: gate, levels: {warning: 0.5}}
      - {id: any-level, kind: threshold, sensor: any-x, levels: {warning: 100}, renotify: 1h}
      - {id: local-rise, kind: rate_of_rise, sensor: local-level, levels: {warning: 5}}

    """

let configuration: Configuration = {
    let file = FuzzSupport.write(payloadConfiguration, to: "payload.yaml")
    do {
        return try ConfigurationLoader.load(file, devicesDirectory: FuzzSupport.devicesDirectory)
    } catch {
        fatalError("the payload harness's configuration does not load: \(error)")
    }
}()

let discovery = HomeAssistantDiscovery(prefix: configuration.prefix, discoveryPrefix: "homeassistant",
                                       site: configuration.site, version: "fuzz")

/// 2024-07-02T18:00:00Z
let base: Int64 = 1_719_943_200
let latestClock: Int64 = 4_102_444_800   // 2100-01-01

func fuzzPayload(_ bytes: [UInt8]) {
    var router = PayloadRouter(sensors: configuration.sensors)
    var sensors: [String: Configuration.Sensor] = [:]
    for sensor in configuration.sensors where !sensor.isTemplate { sensors[sensor.id] = sensor }
    var engine: RuleEngine
    do {
        engine = try RuleEngine(site: configuration.site, sensors: sensors.values.map(\.spec),
                                rules: configuration.rules, makeID: { rule, seq in "\(rule)-\(seq)" })
    } catch {
        fatalError("the payload harness's rules do not set up: \(error)")
    }
    engine.renotificationCatchUp = 1   // as the live pipeline sets it
    var now = Timestamp(seconds: base)
    engine.start(at: now)

    func emit(_ events: [AlertEvent]) {
        for event in events {
            _ = event.json
            _ = event.stateJSON(since: engine.lifecycles[event.rule]?.since ?? event.eventTime)
        }
    }

    for record in bytes.split(separator: 0, maxSplits: 15, omittingEmptySubsequences: false) {
        let newline = record.firstIndex(of: UInt8(ascii: "\n")) ?? record.endIndex
        var topic = String(decoding: record[record.startIndex..<newline], as: UTF8.self)
        let payload = newline < record.endIndex ? Array(record[(newline + 1)...]) : []
        if let at = topic.range(of: " @", options: .backwards), let offset = Int64(topic[at.upperBound...]) {
            topic = String(topic[..<at.lowerBound])
            now = Timestamp(seconds: base + min(max(offset, -base), latestClock - base))
        } else {
            now = now + .seconds(60)
        }
        // The agent's own retained alert states, as the start reads them back from the broker (RetainedAlertStates).
        if topic.hasPrefix("\(configuration.prefix)/alerts/"), topic.hasSuffix("/state") {
            if let lifecycle = AlertLifecycle.fromStateJSON(payload), let rule = lifecycle.lastEvent?.rule {
                let merged = RetainedAlertStates.merge(local: engine.lifecycles, retained: [rule: lifecycle])
                engine.restore(merged.lifecycles)
            }
            continue
        }
        let outcome = router.route(topic: topic, payload: payload, arrival: now)
        checkKeptParse(payload, keeping: router)
        for sensor in outcome.newSensors where sensors[sensor.id] == nil {   // Pipeline.register
            sensors[sensor.id] = sensor
            engine.register(sensor.spec)
            _ = discovery.configs(for: sensor)
        }
        for (sensor, rejection) in outcome.rejections {   // what MQTTSensorFeed logs
            _ = "MQTT input \(sensor): payload on \(topic) refused, \(rejection.reason): \(rejection)"
        }
        for reading in outcome.readings {   // Pipeline.accept
            guard let sensor = sensors[reading.sensor] else { continue }
            let (conditioned, verdict) = engine.condition(reading)
            _ = "sensor \(reading.sensor): reading \(reading.value) at \(reading.time.rfc3339) is suspect (\(verdict.rawValue))"
            emit(engine.ingest(conditioned))
            var state = JSONText()   // SensorStates.state(of:) of a level sensor
            state.add("sensor", sensor.id)
            state.add("value", conditioned.value)
            state.add("unit", sensor.spec.unit)
            state.add("time", conditioned.time.rfc3339)
            state.add("quality", verdict == .ok ? "ok" : "suspect")
            _ = state.text
        }
        emit(engine.advance(to: now))   // the pipeline's timer, on the agent's clock
        _ = engine.nextDeadline
    }
    emit(engine.advance(to: now + .seconds(2 * 86_400)))
}

/// The router parses only the fields its routes read: that parse must fail as the whole parse does, at the same
/// byte, and give the same value on every route's path. A difference is a finding.
func checkKeptParse(_ payload: [UInt8], keeping router: PayloadRouter) {
    let whole = Result { () throws(JSONParser.Failure) in try JSONParser.parse(payload) }
    let kept = Result { () throws(JSONParser.Failure) in try JSONParser.parse(payload, keeping: router.interest) }
    switch (whole, kept) {
    case (.failure(let a), .failure(let b)) where a == b: return
    case (.success(let a), .success(let b)):
        for route in router.routes {
            for path in route.mapping.paths {
                switch (path.resolve(in: a), path.resolve(in: b)) {
                case (.success(let x), .success(let y)) where x == y: continue
                case (.failure, .failure): continue
                default: fatalError("the kept parse differs from the whole parse on \(path)")
                }
            }
        }
    default:
        fatalError("the kept parse fails otherwise than the whole parse")
    }
}

/// libFuzzer's entry point (also under this name for tools that look for it).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzPayload(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

@main
enum PayloadFuzzMain {
    static func main() {
        #if FUZZING
        FuzzSupport.libFuzzerMain(fuzzerTestOneInput)
        #else
        FuzzSupport.replayMain(fuzzPayload)
        #endif
    }
}
