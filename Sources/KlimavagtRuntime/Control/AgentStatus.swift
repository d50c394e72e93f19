import Foundation
import KlimavagtCore
import KlimavagtMQTT

/// What the running agent tells `klimavagt status` through its control socket.
public struct AgentStatus: Codable, Sendable {
    public var version: String
    public var pid: Int32
    public var startedAt: String
    public var uptimeSeconds: Int64
    public var site: String
    public var broker: Broker
    public var clockSynchronised: Bool?
    public var stateDirectory: String
    public var stateFreeBytes: Int64?
    public var outbox: Outbox
    public var store: Store
    public var sensors: [Sensor]
    public var alerts: [Alert]

    public struct Broker: Codable, Sendable {
        public var host: String
        public var port: Int
        public var connected: Bool
        public var lastError: String?
    }

    public struct Outbox: Codable, Sendable {
        public var alertsWaiting: Int
        public var telemetryWaiting: Int
        public var telemetryDropped: Int
        public var journalBytes: UInt64
        public var journalWriteErrors: Int
        public var lastJournalError: String?
    }

    public struct Store: Codable, Sendable {
        public var series: Int
        public var samples: Int
        public var compressedBytes: Int
        public var journalBytesWritten: Int
        public var rejectedLate: Int64
    }

    public struct Sensor: Codable, Sendable {
        public var id: String
        public var unit: String
        public var value: Double?
        public var time: String?
        public var ageSeconds: Int64?
        public var quality: String?
        public var refused: [String: Int]
    }

    public struct Alert: Codable, Sendable {
        public var rule: String
        public var state: String
        public var severity: String?
        public var since: String?
        public var seq: Int64
    }
}

/// One step of a `query`: the readings in it, consolidated, in the sensor's unit (pulses turned into what they
/// measure).
public struct QueryPoint: Codable, Sendable {
    public var time: String
    public var count: Int64
    public var sum: Double
    public var minimum: Double
    public var maximum: Double
    public var average: Double
    public var last: Double
    public var unit: String
}

/// Gathers an `AgentStatus` from the running parts; every part it reads is thread-safe.
public struct StatusReporter: Sendable {
    let configuration: Configuration
    let client: MQTTClient
    let outbox: Outbox
    let pipeline: Pipeline
    let store: TimeSeriesStore
    let health: InputHealth
    let clock: any AgentClock
    let stateDirectory: String
    let started: Date
    let version: String

    public init(configuration: Configuration, client: MQTTClient, outbox: Outbox, pipeline: Pipeline,
                store: TimeSeriesStore, health: InputHealth, clock: any AgentClock, stateDirectory: String,
                started: Date, version: String)
    {
        self.configuration = configuration
        self.client = client
        self.outbox = outbox
        self.pipeline = pipeline
        self.store = store
        self.health = health
        self.clock = clock
        self.stateDirectory = stateDirectory
        self.started = started
        self.version = version
    }

    public func status() -> AgentStatus {
        let now = clock.now()
        let snapshot = pipeline.statusSnapshot
        let depth = outbox.depth
        let journal = outbox.journalHealth
        let refused = health.rejectedCounts
        var samples = 0
        var compressed = 0
        var rejectedLate: Int64 = 0
        for id in store.sensorIDs {
            guard let series = store.series(id) else { continue }
            samples += series.retainedSampleCount
            compressed += series.compressedBytes
            rejectedLate += series.counters.rejectedTooLate
        }
        var specs: [String: SensorSpec] = [:]
        for sensor in configuration.sensors { specs[sensor.id] = sensor.spec }
        let sensors = snapshot.sensors.map { id -> AgentStatus.Sensor in
            let latest = snapshot.readings[id]
            let spec = specs[id] ?? templateSpec(id)
            // A pulse counter's reading is a number of pulses; shown as what they measure.
            let value = latest.map { spec?.amount(ofPulses: Int64($0.reading.value.rounded())) ?? $0.reading.value }
            let isPulses: Bool
            if case .pulses = spec?.measure { isPulses = true } else { isPulses = false }
            return AgentStatus.Sensor(
                id: id, unit: spec?.unit ?? "", value: isPulses ? value : latest?.reading.value,
                time: latest?.reading.time.rfc3339,
                ageSeconds: latest.map { (now - $0.reading.time).components.seconds },
                quality: latest.map { $0.verdict == .ok ? "ok" : "suspect (\($0.verdict.rawValue))" },
                refused: refused[id] ?? [:])
        }
        let alerts = configuration.rules.map { rule -> AgentStatus.Alert in
            let lifecycle = snapshot.lifecycles[rule.id]
            return AgentStatus.Alert(
                rule: rule.id, state: lifecycle?.state.rawValue ?? "inactive",
                severity: lifecycle?.lastEvent?.severity.rawValue, since: lifecycle?.since?.rfc3339,
                seq: lifecycle?.seq ?? 0)
        }
        var free: Int64?
        var stats = statvfs()
        if statvfs(stateDirectory, &stats) == 0 { free = Int64(stats.f_bavail) * Int64(stats.f_frsize) }
        return AgentStatus(
            version: version, pid: getpid(),
            startedAt: Timestamp(nanoseconds: Int64(started.timeIntervalSince1970 * 1e9)).rfc3339,
            uptimeSeconds: Int64(Date().timeIntervalSince(started)), site: configuration.site,
            broker: .init(host: configuration.mqtt.host, port: configuration.mqtt.port, connected: client.connected,
                          lastError: client.lastError.map { "\($0)" }),
            clockSynchronised: Self.clockSynchronised(), stateDirectory: stateDirectory, stateFreeBytes: free,
            outbox: .init(alertsWaiting: depth.alerts, telemetryWaiting: depth.telemetry,
                          telemetryDropped: depth.droppedTelemetry, journalBytes: journal.bytes,
                          journalWriteErrors: journal.writeErrors, lastJournalError: journal.lastError),
            store: .init(series: store.sensorIDs.count, samples: samples, compressedBytes: compressed,
                         journalBytesWritten: store.statistics.journalBytesWritten, rejectedLate: rejectedLate),
            sensors: sensors, alerts: alerts)
    }

    /// The answer to a control request (see `ControlRequest`): one line of JSON, or `pong` to `ping`; a refused
    /// request, or a query that reaches outside the clock's range, is answered `{"error": "..."}`.
    public func answer(_ request: String) -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = .sortedKeys
        func encode(_ value: some Encodable) -> String {
            (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? #"{"error":"cannot encode"}"#
        }
        switch ControlRequest.parse(request) {
        case .failure(let refusal): return encode(["error": refusal.message])
        case .success(.ping): return "pong"
        case .success(.status): return encode(status())
        case .success(.sensors): return encode(status().sensors)
        case .success(.alerts): return encode(status().alerts)
        case .success(.history): return "[" + pipeline.recentEvents.map { $0.json }.joined(separator: ",") + "]"
        case .success(.query(let sensor, let since, let step)):
            guard let series = store.series(sensor) else {
                return encode(["error": "no sensor '\(sensor)' in the store; known: \(store.sensorIDs.joined(separator: ", "))"])
            }
            // The parser bounds `since` to 10 years, so the product fits; the clock's reading is not bounded.
            let now = clock.now().nanoseconds
            let (back, overMultiply) = since.multipliedReportingOverflow(by: 1_000_000_000)
            let (from, overSubtract) = now.subtractingReportingOverflow(back)
            let (to, overAdd) = now.addingReportingOverflow(1)
            guard !overMultiply, !overSubtract, !overAdd else {
                return encode(["error": "query: \(since) s back from the agent's clock is out of range"])
            }
            let points = series.downsampled(from: from, to: to, step: .seconds(step))
            let spec = configuration.sensors.first { $0.id == sensor }?.spec ?? templateSpec(sensor)
            // Pulses become what they measure through integer nanounits, so 3 tips of 0.2 mm are 0.6 mm exactly.
            func amount(_ value: Double) -> Double {
                guard case .pulses(let perPulse) = spec?.measure else { return value }
                if value == value.rounded(), abs(value) < 1e9 {
                    let (product, overflow) = Int64(value).multipliedReportingOverflow(by: perPulse)
                    if !overflow { return Double(product) / 1e9 }
                }
                return value * Double(perPulse) / 1e9
            }
            return encode(points.map { point in
                QueryPoint(time: Timestamp(nanoseconds: point.start).rfc3339, count: point.count, sum: amount(point.sum),
                           minimum: amount(point.minimum), maximum: amount(point.maximum),
                           average: amount(point.average), last: amount(point.last), unit: spec?.unit ?? "")
            })
        }
    }

    private func templateSpec(_ id: String) -> SensorSpec? {
        configuration.sensors.first { $0.isTemplate && SensorTemplate($0.id)?.match(id) != nil }?.spec
    }

    /// Whether the kernel says the clock is synchronised (NTP), from adjtimex(2) in read-only mode; nil if it cannot
    /// be asked. Glibc's module does not export <sys/timex.h>, so the call goes through dlsym with a zeroed buffer
    /// larger than `struct timex` (whose first field, `modes` = 0, asks for nothing to change).
    public static func clockSynchronised() -> Bool? {
        typealias AdjustTime = @convention(c) (UnsafeMutableRawPointer) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "adjtimex") else { return nil }
        let adjust = unsafeBitCast(symbol, to: AdjustTime.self)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 512, alignment: 16)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: 512)
        let state = adjust(buffer)
        guard state >= 0 else { return timesyncdSynchronised() }
        return state != 5   // TIME_ERROR: the clock is not synchronised
    }

    /// Under the unit's `ProtectClock=yes` even a read-only adjtimex(2) is refused by the system-call filter; then
    /// systemd-timesyncd's own flag answers: it creates `/run/systemd/timesync/synchronized` once the clock is
    /// synchronised. Nil when timesyncd does not run (chrony or ntpd without the filter are asked through adjtimex).
    static func timesyncdSynchronised(directory: String = "/run/systemd/timesync") -> Bool? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            return nil
        }
        return FileManager.default.fileExists(atPath: directory + "/synchronized")
    }
}
