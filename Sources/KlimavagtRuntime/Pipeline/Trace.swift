import Foundation
import KlimavagtCore

/// A CSV trace of readings with the header `time,sensor,value` (RFC 3339 times, sorted), with `\n` or `\r\n` line
/// ends; blank lines and lines starting with `#` are skipped.
///
/// `forEachReading` reads a file as a stream, a block at a time, so replaying a trace takes memory independent of
/// its length; `load` keeps every reading (for the simulated input, whose traces are demos).
public struct Trace: Sendable {
    public var readings: [Reading]

    /// A bad line, reported as `FILE:LINE: reason`.
    public struct LineError: Error, CustomStringConvertible, Sendable {
        public var file: String
        public var line: Int
        public var reason: String
        public var description: String { "\(file):\(line): \(reason)" }
    }

    /// The longest line a trace may have, in bytes; a longer one is refused rather than held in memory.
    public static let maximumLineBytes = 4096

    public init(readings: [Reading]) {
        self.readings = readings
    }

    public static func load(_ file: String, sensors: Set<String>? = nil) throws(LineError) -> Trace {
        var readings: [Reading] = []
        try forEachReading(in: file, sensors: sensors) { reading, _ in readings.append(reading) }
        return Trace(readings: readings)
    }

    /// Parses trace text; `sensors`, when given, lists the sensor ids a line may name, and a value for one of
    /// `pulseSensors` must be a whole pulse count within `Limits` (as `forEachReading` checks them).
    public static func parse(_ text: String, file: String, sensors: Set<String>? = nil,
                             pulseSensors: Set<String> = []) throws(LineError) -> Trace {
        var parser = LineParser(file: file, sensors: sensors, pulseSensors: pulseSensors)
        var readings: [Reading] = []
        for line in Array(text.utf8).split(separator: 0x0A, omittingEmptySubsequences: false) {
            if let reading = try parser.parse(line) { readings.append(reading) }
        }
        try parser.finish()
        return Trace(readings: readings)
    }

    /// Calls `body` with each reading and its line number, in file order, reading the file a block at a time.
    ///
    /// `sensors`, when given, lists the sensor ids a line may name; a value for one of `pulseSensors` must be a
    /// whole pulse count within `Limits`. The first bad line is thrown, after the readings before it were passed on.
    public static func forEachReading(in file: String, sensors: Set<String>? = nil, pulseSensors: Set<String> = [],
                                      _ body: (Reading, Int) -> Void) throws(LineError)
    {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw LineError(file: file, line: 0, reason: "cannot read the file: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var parser = LineParser(file: file, sensors: sensors, pulseSensors: pulseSensors)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var pending: [UInt8] = []
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw LineError(file: file, line: parser.lineNumber + 1,
                                reason: "cannot read the file: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            var start = 0
            for index in 0..<count where buffer[index] == 0x0A {
                pending.append(contentsOf: buffer[start..<index])
                if let reading = try parser.parse(pending[...]) { body(reading, parser.lineNumber) }
                pending.removeAll(keepingCapacity: true)
                start = index + 1
            }
            pending.append(contentsOf: buffer[start..<count])
            if pending.count > maximumLineBytes {
                throw LineError(file: file, line: parser.lineNumber + 1,
                                reason: "the line is longer than \(maximumLineBytes) bytes")
            }
        }
        if !pending.isEmpty, let reading = try parser.parse(pending[...]) { body(reading, parser.lineNumber) }
        try parser.finish()
    }

    /// Turns lines into readings, one at a time, checking the header, the fields, the ranges and the order.
    struct LineParser {
        let file: String
        let sensors: Set<String>?
        let pulseSensors: Set<String>
        private(set) var lineNumber = 0
        private var sawHeader = false
        private var previous: Timestamp?

        init(file: String, sensors: Set<String>?, pulseSensors: Set<String>) {
            self.file = file
            self.sensors = sensors
            self.pulseSensors = pulseSensors
        }

        private func failure(_ reason: String) -> LineError {
            LineError(file: file, line: lineNumber, reason: reason)
        }

        /// The reading on the next line, or nil for the header, a blank line or a comment.
        mutating func parse(_ raw: ArraySlice<UInt8>) throws(LineError) -> Reading? {
            lineNumber += 1
            guard raw.count <= Trace.maximumLineBytes else {
                throw failure("the line is longer than \(Trace.maximumLineBytes) bytes")
            }
            let bytes = raw.last == 0x0D ? raw.dropLast() : raw
            let line = String(decoding: bytes, as: UTF8.self)
            if line.trimmingCharacters(in: .whitespaces).isEmpty || line.hasPrefix("#") { return nil }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if !sawHeader {
                guard fields == ["time", "sensor", "value"] else { throw failure("expected the header 'time,sensor,value'") }
                sawHeader = true
                return nil
            }
            guard fields.count == 3 else { throw failure("expected 3 fields, found \(fields.count)") }
            guard let time = Timestamp(rfc3339: fields[0]) else {
                throw failure("'\(PayloadRejection.excerpt(fields[0]))' is not an RFC 3339 time in 1900–2099")
            }
            guard !fields[1].isEmpty else { throw failure("the sensor is empty") }
            if let sensors, !sensors.contains(fields[1]) {
                throw failure("unknown sensor '\(PayloadRejection.excerpt(fields[1]))'")
            }
            guard let value = Double(fields[2]), value.isFinite else {
                throw failure("'\(PayloadRejection.excerpt(fields[2]))' is not a finite number")
            }
            guard Limits.contains(value: value) else { throw failure("\(fields[2]) is beyond ±1e15") }
            if pulseSensors.contains(fields[1]), Limits.pulses(value) == nil {
                throw failure("\(fields[2]) is not a pulse count from 0 to 1e9 for pulse sensor '\(fields[1])'")
            }
            if let previous, time < previous {
                throw failure("time \(fields[0]) is before the previous line's; the trace must be sorted")
            }
            previous = time
            return Reading(sensor: fields[1], time: time, value: value)
        }

        /// Checks the end of the file: a trace holds at least its header.
        func finish() throws(LineError) {
            guard sawHeader else { throw LineError(file: file, line: 1, reason: "the file is empty") }
        }
    }
}
