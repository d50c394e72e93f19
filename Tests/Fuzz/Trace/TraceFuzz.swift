// libFuzzer harness (c): trace text (CSV `time,sensor,value`) through Trace.parse, as `klimavagt replay` reads it,
// then Replay.events with a fixed configuration, every event formatted as the JSON line replay prints.
//
// The configuration has the sensors the repository's traces name (rain-1, level-1) and a few more, with every rule
// kind: window rules on pulse counters, level rules, rate of rise, staleness, `for` and re-notification.
import Foundation
import KlimavagtCore
import KlimavagtFuzzSupport
@testable import KlimavagtRuntime

let traceConfiguration = """
    site: fuzz
    sensors:
      - id: rain-1
        device: rimco-0.2mm
      - id: rain-2
        device: davis-0.01in
        stale_after: 1h
      - id: pumps-kwh
        device: kamstrup-s0-1000
      - id: sump-high
        device: float-switch-no
      - id: level-1
        unit: cm
        stale_after: 1h
        plausible: {min: -100, max: 400, max_step: 50, flatline: 12h}
      - id: level-2
        unit: cm
    rules:
      - {id: skybrud, kind: cloudburst, sensor: rain-1}
      - {id: kraftig-regn, kind: heavy_rain, sensor: rain-1}
      - {id: skybrud-2, kind: cloudburst, sensor: rain-2, window: 10m}
      - {id: stormflod, kind: storm_surge, sensor: level-1, levels: {warning: 125, severe: 150, extreme: 180}, hysteresis: 10, hold: 30m}
      - {id: stigning, kind: rate_of_rise, sensor: level-1, levels: {warning: 10, severe: 20}, hysteresis: 2}
      - {id: stille, kind: stale, sensor: level-1}
      - {id: regn-stille, kind: stale, sensor: rain-2}
      - {id: lav, kind: threshold, sensor: level-2, direction: below, levels: {warning: -50}, for: 10m, renotify: 1h}
      - {id: sump, kind: threshold, sensor: sump-high, levels: {warning: 0.5}}

    """

let configuration: Configuration = {
    let file = FuzzSupport.write(traceConfiguration, to: "trace.yaml")
    do {
        return try ConfigurationLoader.load(file, devicesDirectory: FuzzSupport.devicesDirectory)
    } catch {
        fatalError("the trace harness's configuration does not load: \(error)")
    }
}()

/// The same sensor sets `klimavagt replay` checks trace lines against.
let (sensorIDs, pulseSensorIDs) = Replay.traceSensors(of: configuration)

func fuzzTrace(_ bytes: [UInt8]) {
    let trace: Trace
    do {
        trace = try Trace.parse(String(decoding: bytes, as: UTF8.self), file: "fuzz.csv", sensors: sensorIDs,
                             pulseSensors: pulseSensorIDs)
    } catch {
        _ = error.description
        return
    }
    do {
        for event in try Replay.events(configuration: configuration, trace: trace) { _ = event.json }
    } catch {
        fatalError("the trace harness's rules do not set up: \(error)")
    }
}

/// libFuzzer's entry point (also under this name for tools that look for it).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzTrace(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

@main
enum TraceFuzzMain {
    static func main() {
        #if FUZZING
        FuzzSupport.libFuzzerMain(fuzzerTestOneInput)
        #else
        FuzzSupport.replayMain(fuzzTrace)
        #endif
    }
}
