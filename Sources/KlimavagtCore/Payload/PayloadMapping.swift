/// How one reading is taken from a JSON payload: where the value and its time are, and how to scale them.
public struct PayloadMapping: Sendable {
    /// How a payload writes its event time.
    public enum TimeFormat: Sendable {
        /// RFC 3339 with an offset or `Z` (TTN's `received_at`).
        case rfc3339
        /// A date-time without an offset (Tasmota's `Time`), in a zone the caller converts with `toUTC`, which
        /// maps seconds of a civil time counted as if it were UTC to true UTC seconds, or nil for a time that does
        /// not exist in that zone.
        case local(toUTC: @Sendable (Int64) -> Int64?)
        /// Seconds since 1970 (a number).
        case unixSeconds
        /// Milliseconds since 1970 (a number).
        case unixMilliseconds
    }

    public var value: JSONPath
    public var scale: Double
    public var offset: Double
    /// For a down-looking distance sensor: the reading is `datum − (raw × scale + offset)`.
    public var datum: Double?
    /// For a sensor of states: what each state word stands for (`ON: 1`, `OFF: 0`); with any, `true` and `false` are
    /// 1 and 0 too. Without, only numbers are readings.
    public var states: [String: Double]
    public var time: (path: JSONPath, format: TimeFormat)?

    /// The paths of the document this mapping reads: its value's and its time's.
    public var paths: [JSONPath] { [value] + (time.map { [$0.path] } ?? []) }
    public var maximumBytes: Int

    public init(value: JSONPath, scale: Double = 1, offset: Double = 0, datum: Double? = nil,
                states: [String: Double] = [:], time: (path: JSONPath, format: TimeFormat)? = nil,
                maximumBytes: Int = 64 * 1024)
    {
        self.value = value
        self.scale = scale
        self.offset = offset
        self.datum = datum
        self.states = states
        self.time = time
        self.maximumBytes = maximumBytes
    }

    /// The reading a payload holds; `arrival` is its time when the payload names none.
    public func reading(sensor: String, payload: [UInt8], arrival: Timestamp) -> Result<Reading, PayloadRejection> {
        guard payload.count <= maximumBytes else {
            return .failure(.tooLarge(bytes: payload.count, limit: maximumBytes))
        }
        let document: JSONValue
        do {
            document = try JSONParser.parse(payload)
        } catch {
            return .failure(rejection(for: error))
        }
        return reading(sensor: sensor, document: document, arrival: arrival)
    }

    /// Why a payload that does not parse gives this mapping no reading: NaN or infinity, or not JSON at all.
    public func rejection(for failure: JSONParser.Failure) -> PayloadRejection {
        failure.reason == .notANumber ? .notANumber(path: value.description) : .notJSON(failure.description)
    }

    /// The reading a parsed document holds, so several sensors on one topic parse the payload once.
    public func reading(sensor: String, document: JSONValue, arrival: Timestamp) -> Result<Reading, PayloadRejection> {
        let raw: Double
        switch value.resolve(in: document) {
        case .failure: return .failure(.missingField(path: value.description))
        case .success(.number(let number)): raw = number
        case .success(.bool(let flag)) where !states.isEmpty: raw = flag ? 1 : 0
        case .success(.string(let text)):
            if let state = states[text] {
                raw = state
            } else if ["nan", "NaN", "inf", "-inf", "Infinity", "-Infinity"].contains(text) {
                return .failure(.notANumber(path: value.description))
            } else {
                return .failure(.wrongType(path: value.description, found: "string"))
            }
        case .success(let other): return .failure(.wrongType(path: value.description, found: other.typeName))
        }
        var reading = raw * scale + offset
        if let datum { reading = datum - reading }
        guard reading.isFinite else { return .failure(.notANumber(path: value.description)) }
        guard Limits.contains(value: reading) else {
            return .failure(.outOfRange("\(value.description) gives \(reading), beyond ±1e15"))
        }
        if scale != 1 || offset != 0 || datum != nil {
            // Scaling leaves binary noise (1234 × 0.1 is 123.40000000000001); readings keep millionths of the unit.
            reading = (reading * 1e6).rounded() / 1e6
        }
        var time = arrival
        if let field = self.time {
            switch eventTime(field.path, field.format, in: document) {
            case .success(let stamp): time = stamp
            case .failure(let rejection): return .failure(rejection)
            }
        }
        return .success(Reading(sensor: sensor, time: time, value: reading))
    }

    private func eventTime(_ path: JSONPath, _ format: TimeFormat, in document: JSONValue)
        -> Result<Timestamp, PayloadRejection>
    {
        let node: JSONValue
        switch path.resolve(in: document) {
        case .failure: return .failure(.missingField(path: path.description))
        case .success(let found): node = found
        }
        switch (format, node) {
        case (.rfc3339, .string(let text)):
            guard let stamp = Timestamp(rfc3339: text) else { return .failure(.badTime(path: path.description, text: text)) }
            return .success(stamp)
        case (.local(let toUTC), .string(let text)):
            if let stamp = Timestamp(rfc3339: text) { return .success(stamp) }
            guard let civil = Timestamp(rfc3339: text + "Z"), let utc = toUTC(civil.seconds) else {
                return .failure(.badTime(path: path.description, text: text))
            }
            let stamp = Timestamp(seconds: utc, nanoseconds: civil.nanosecondsOfSecond)
            guard Limits.contains(stamp) else { return .failure(.badTime(path: path.description, text: text)) }
            return .success(stamp)
        case (.unixSeconds, .number(let seconds)):
            guard let stamp = Limits.time(seconds, unitNanoseconds: 1_000_000_000) else {
                return .failure(.outOfRange("\(path.description) \(seconds) s is not a time in 1900–2099"))
            }
            return .success(stamp)
        case (.unixMilliseconds, .number(let millis)):
            guard let stamp = Limits.time(millis, unitNanoseconds: 1_000_000) else {
                return .failure(.outOfRange("\(path.description) \(millis) ms is not a time in 1900–2099"))
            }
            return .success(stamp)
        case (_, .string(let text)):
            return .failure(.badTime(path: path.description, text: text))
        default:
            return .failure(.wrongType(path: path.description, found: node.typeName))
        }
    }
}
