import Foundation
import KlimavagtCore

/// A CSV trace of readings with the header `time,sensor,value` (RFC 3339 UTC times, sorted).
public struct Trace: Sendable {
    public var readings: [Reading]

    /// A bad line, reported as `FILE:LINE: reason`.
    public struct LineError: Error, CustomStringConvertible, Sendable {
        public var file: String
        public var line: Int
        public var reason: String
        public var description: String { "\(file):\(line): \(reason)" }
    }

    public init(readings: [Reading]) {
        self.readings = readings
    }

    public static func load(_ file: String, sensors: Set<String>? = nil) throws(LineError) -> Trace {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw LineError(file: file, line: 0, reason: "cannot read the file")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: file, sensors: sensors)
    }

    /// Parses trace text; `sensors`, when given, lists the sensor ids a line may name.
    public static func parse(_ text: String, file: String, sensors: Set<String>? = nil) throws(LineError) -> Trace {
        var readings: [Reading] = []
        var sawHeader = false
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.trimmingCharacters(in: .whitespaces).isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if !sawHeader {
                guard fields == ["time", "sensor", "value"] else {
                    throw LineError(file: file, line: lineNumber, reason: "expected the header 'time,sensor,value'")
                }
                sawHeader = true
                continue
            }
            guard fields.count == 3 else {
                throw LineError(file: file, line: lineNumber, reason: "expected 3 fields, found \(fields.count)")
            }
            guard let time = Timestamp(rfc3339: fields[0]) else {
                throw LineError(file: file, line: lineNumber, reason: "'\(fields[0])' is not an RFC 3339 time")
            }
            guard !fields[1].isEmpty else {
                throw LineError(file: file, line: lineNumber, reason: "the sensor is empty")
            }
            if let sensors, !sensors.contains(fields[1]) {
                throw LineError(file: file, line: lineNumber, reason: "unknown sensor '\(fields[1])'")
            }
            guard let value = Double(fields[2]), value.isFinite else {
                throw LineError(file: file, line: lineNumber, reason: "'\(fields[2])' is not a finite number")
            }
            if let previous = readings.last, time < previous.time {
                throw LineError(file: file, line: lineNumber,
                                reason: "time \(fields[0]) is before the previous line's; the trace must be sorted")
            }
            readings.append(Reading(sensor: fields[1], time: time, value: value))
        }
        guard sawHeader else { throw LineError(file: file, line: 1, reason: "the file is empty") }
        return Trace(readings: readings)
    }
}
