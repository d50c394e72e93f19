import Foundation

/// A GPIO failure, worded so that a technician knows what to do next.
public enum GPIOError: Error, Equatable, CustomStringConvertible, Sendable {
    case noSuchChip(String, available: [String])
    case noSuchLine(String, chip: String, available: String)
    case lineBusy(line: String, chip: String, consumer: String?)
    case permissionDenied(path: String)
    case closed
    case system(operation: String, errno: Int32, text: String)

    public var description: String {
        switch self {
        case .noSuchChip(let name, let available):
            let list = available.isEmpty ? "none (does this kernel have GPIO support?)" : available.joined(separator: ", ")
            return "no GPIO chip '\(name)'; chips present: \(list)"
        case .noSuchLine(let line, let chip, let available):
            return "chip \(chip) has no line '\(line)'; it has \(available)"
        case .lineBusy(let line, let chip, let consumer):
            let owner = consumer.map { "'\($0)'" } ?? "another process (no consumer name given)"
            return "line \(line) of \(chip) is busy: it is held by \(owner); stop that user or pick another line"
        case .permissionDenied(let path):
            return "permission denied on \(path); add the service user to the 'gpio' group "
                + "(usermod -aG gpio USER) or run with SupplementaryGroups=gpio"
        case .closed:
            return "the GPIO line was closed"
        case .system(let operation, let code, let text):
            return "GPIO \(operation) failed: \(text) (errno \(code))"
        }
    }

    /// Maps a libgpiod failure (a -1 or NULL return with `errno` set) to a typed error.
    static func fromErrno(_ code: Int32, operation: String, chip: String, line: String? = nil,
                          consumer: @autoclosure () -> String? = nil) -> GPIOError
    {
        switch code {
        case ENOENT, ENODEV, ENOTTY:
            if let line { return .noSuchLine(line, chip: chip, available: "other lines (see klimavagt gpio list)") }
            return .noSuchChip(chip, available: GPIOChip.list().map { "\($0.name) [\($0.label)]" })
        case EBUSY:
            return .lineBusy(line: line ?? "?", chip: chip, consumer: consumer())
        case EACCES, EPERM:
            return .permissionDenied(path: chip.hasPrefix("/") ? chip : "/dev/\(chip)")
        default:
            return .system(operation: operation, errno: code, text: String(cString: strerror(code)))
        }
    }
}
