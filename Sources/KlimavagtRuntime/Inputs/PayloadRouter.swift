import Foundation
import KlimavagtCore
import KlimavagtSystem

/// Turns MQTT messages into readings for the sensors whose topic filters match, and says why a payload gave none.
///
/// One payload is parsed once however many sensors read it. A sensor id with placeholders (`power-{1}`) is a template:
/// each new topic it matches makes a sensor of its own. Readings older than the sensor's latest are refused, and so
/// are payload times further from the arrival time than the input allows (a device whose clock was never set).
struct PayloadRouter {
    /// A class, so that taking one for a message retains it once instead of copying its fields (a sensor's whole
    /// configuration) for every target of every message.
    final class Route {
        init(filter: TopicFilter, sensor: Configuration.Sensor, template: SensorTemplate?, mapping: PayloadMapping,
             maximumClockSkew: Duration?) {
            self.filter = filter
            self.sensor = sensor
            self.template = template
            self.mapping = mapping
            self.maximumClockSkew = maximumClockSkew
        }

        let filter: TopicFilter
        let sensor: Configuration.Sensor
        let template: SensorTemplate?
        let mapping: PayloadMapping
        let maximumClockSkew: Duration?
    }

    /// What one message gave.
    struct Outcome {
        var readings: [Reading] = []
        var rejections: [(sensor: String, rejection: PayloadRejection)] = []
        /// Sensors made from templates by this message, to register before their readings.
        var newSensors: [Configuration.Sensor] = []
    }

    let routes: [Route]
    /// Every field a route reads (its value and its time): a payload is checked whole, but only these are built.
    let interest: JSONInterest
    /// Sensors configured by name; a template never makes a second sensor of the same id.
    private let named: Set<String>
    private var latest: [String: Timestamp] = [:]
    private var instances: [String: Configuration.Sensor] = [:]
    /// Sensors each template route has made, by route index.
    private var madeByRoute: [Int: Int] = [:]
    private var targetsByTopic: [String: [Target]] = [:]
    /// The bounds on sensors: in all (configured ones included), and made from one template.
    let maximumSensors: Int
    let maximumSensorsPerTemplate: Int

    init(sensors: [Configuration.Sensor], maximumSensors: Int = 1000, maximumSensorsPerTemplate: Int = 256) {
        self.maximumSensors = maximumSensors
        self.maximumSensorsPerTemplate = maximumSensorsPerTemplate
        named = Set(sensors.filter { !$0.isTemplate }.map(\.id))
        routes = sensors.compactMap { sensor in
            guard case .mqtt(let input) = sensor.input, let filter = TopicFilter(input.topic) else { return nil }
            return Route(filter: filter, sensor: sensor, template: SensorTemplate(sensor.id),
                         mapping: Self.mapping(for: input, unit: sensor.spec.unit), maximumClockSkew: input.maximumClockSkew)
        }
        interest = JSONInterest(routes.flatMap(\.mapping.paths))
    }

    /// The distinct topic filters to subscribe to.
    var filters: [String] {
        var seen: Set<String> = []
        return routes.map(\.filter.description).filter { seen.insert($0).inserted }
    }

    static func mapping(for input: Configuration.MQTTInput, unit: String) -> PayloadMapping {
        var time: (path: JSONPath, format: PayloadMapping.TimeFormat)?
        if let pathText = input.timePath, let path = JSONPath(pathText) {
            switch input.timeFormat {
            case "rfc3339": time = (path, .rfc3339)
            case "unix_seconds": time = (path, .unixSeconds)
            case "unix_ms": time = (path, .unixMilliseconds)
            case "local":
                let zone = TimeZone(identifier: input.timeZone ?? "UTC") ?? TimeZone(identifier: "UTC")!
                let cache = LocalTimeCache(zone: zone)
                time = (path, .local(toUTC: { civil in cache.utc(civil) }))
            default: time = nil
            }
        }
        let states: [String: Double] = unit == "state" ? ["ON": 1, "OFF": 0, "on": 1, "off": 0, "open": 0, "closed": 1] : [:]
        return PayloadMapping(
            value: JSONPath(input.path) ?? JSONPath("value")!, scale: input.scale, offset: input.offset,
            datum: input.datum, states: states, time: time,
            maximumBytes: input.maximumBytes)
    }

    /// UTC seconds of a civil time in `zone`, counted as if it were UTC; in the hour repeated when clocks go back, the
    /// earlier instant.
    static func localToUTC(_ civil: Int64, in zone: TimeZone) -> Int64? {
        // The offset at the civil time read as UTC is right except within a few hours of a change; refine once.
        let guess = civil - Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(civil))))
        let refined = civil - Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(guess))))
        let earlier = min(guess, refined)
        for candidate in [earlier, max(guess, refined)] {
            let offset = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(candidate))))
            if candidate + offset == civil { return candidate }
        }
        return nil   // a time skipped when clocks go forward
    }

    /// `localToUTC` for one zone, remembering the offset of the last quarter hour of civil time it was asked about:
    /// a device's readings come minutes apart, and the time zone database costs more than the rest of a payload.
    /// A quarter hour is taken from the cache only when its first and last second have the same offset, so one with
    /// a change of the clocks in it (or a skipped or repeated hour) is always worked out second by second.
    final class LocalTimeCache: Sendable {
        let zone: TimeZone
        /// The quarter hour last worked out (its first civil second ÷ 900) and its offset, always the two together.
        private let known = Locked((quarter: Int64.min, offset: Int64(0)))

        init(zone: TimeZone) {
            self.zone = zone
        }

        func utc(_ civil: Int64) -> Int64? {
            let (bucket, remainder) = civil.quotientAndRemainder(dividingBy: 900)
            let start = remainder < 0 ? bucket - 1 : bucket
            if let offset = known.withLock({ $0.quarter == start ? $0.offset : nil }) { return civil - offset }
            let (first, firstOverflow) = start.multipliedReportingOverflow(by: 900)
            guard !firstOverflow, let firstUTC = PayloadRouter.localToUTC(first, in: zone),
                  let lastUTC = PayloadRouter.localToUTC(first + 899, in: zone), first - firstUTC == first + 899 - lastUTC
            else { return PayloadRouter.localToUTC(civil, in: zone) }
            known.withLock { $0 = (start, first - firstUTC) }
            return civil - (first - firstUTC)
        }
    }

    /// The routes a topic matches and the sensor each gives it, worked out once per topic and then remembered (a
    /// site's devices publish on the same few topics for months); new template sensors are made here.
    private mutating func targets(of topic: String, newSensors: inout [Configuration.Sensor]) -> [Target] {
        if let known = targetsByTopic[topic] { return known }
        var found: [Target] = []
        for (index, route) in routes.enumerated() {
            guard let levels = route.filter.match(topic) else { continue }
            guard let template = route.template else {
                found.append(Target(route: index, sensor: route.sensor.id))
                continue
            }
            guard let id = template.fill(levels), !named.contains(id) else { continue }
            if instances[id] == nil {
                // Refusals of a sensor never made are counted under the template's id, so the counts stay bounded.
                guard ConfigurationLoader.isIdentifier(id) else {
                    found.append(Target(route: index, sensor: route.sensor.id, refusal: .badSensorID(
                        id: id, reason: "is not letters, digits, '-' and '_' of at most \(ConfigurationLoader.maximumIDBytes) bytes")))
                    continue
                }
                let made = madeByRoute[index, default: 0]
                guard made < maximumSensorsPerTemplate, named.count + instances.count < maximumSensors else {
                    let bound = made >= maximumSensorsPerTemplate
                        ? "\(made) sensors made from \(route.sensor.id) already, the most limits.sensors_per_template allows"
                        : "\(named.count + instances.count) sensors already, the most limits.sensors allows"
                    found.append(Target(route: index, sensor: route.sensor.id,
                                        refusal: .sensorLimit("no sensor \(id) made: \(bound)")))
                    continue
                }
                madeByRoute[index] = made + 1
                var sensor = route.sensor
                sensor.id = id
                sensor.spec.id = id
                instances[id] = sensor
                newSensors.append(sensor)
            }
            found.append(Target(route: index, sensor: id))
        }
        // Bounded, so a flood of one-off topics cannot grow it without end.
        if targetsByTopic.count >= 4096 { targetsByTopic.removeAll(keepingCapacity: true) }
        targetsByTopic[topic] = found
        return found
    }

    struct Target {
        let route: Int
        let sensor: String
        /// Why this topic gives the route no sensor (an id the rules refuse, a bound reached), counted each time.
        var refusal: PayloadRejection? = nil
    }

    mutating func route(topic: String, payload: [UInt8], arrival: Timestamp) -> Outcome {
        var outcome = Outcome()
        let targets = targets(of: topic, newSensors: &outcome.newSensors)
        var document: Result<JSONValue, JSONParser.Failure>?
        for target in targets {
            let route = routes[target.route]
            let sensor = target.sensor
            if let refusal = target.refusal {
                outcome.rejections.append((sensor, refusal))
                continue
            }
            guard payload.count <= route.mapping.maximumBytes else {
                outcome.rejections.append((sensor, .tooLarge(bytes: payload.count, limit: route.mapping.maximumBytes)))
                continue
            }
            if document == nil {
                do {
                    document = .success(try JSONParser.parse(payload, keeping: interest))
                } catch {
                    document = .failure(error)
                }
            }
            let parsed: JSONValue
            switch document! {
            case .failure(let error):
                outcome.rejections.append((sensor, route.mapping.rejection(for: error)))
                continue
            case .success(let value): parsed = value
            }
            switch route.mapping.reading(sensor: sensor, document: parsed, arrival: arrival) {
            case .failure(let rejection):
                outcome.rejections.append((sensor, rejection))
            case .success(let reading):
                if let skew = route.maximumClockSkew, reading.time > arrival + skew || reading.time < arrival - skew {
                    outcome.rejections.append((sensor, .badTime(
                        path: route.mapping.time?.path.description ?? "time",
                        text: "\(reading.time.rfc3339), more than \(DurationText.format(skew)) from its arrival at "
                            + arrival.rfc3339)))
                    continue
                }
                if let last = latest[sensor], reading.time < last {
                    outcome.rejections.append((sensor, .outOfOrder(time: reading.time, latest: last)))
                    continue
                }
                latest[sensor] = reading.time
                outcome.readings.append(reading)
            }
        }
        return outcome
    }
}
