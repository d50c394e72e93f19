import CGPIOD
import Foundation

/// An open GPIO chip (a `/dev/gpiochipN` character device).
///
/// Lifetime: `close()` releases the chip; it is safe to call twice and is called on deinit.
public final class GPIOChip: @unchecked Sendable {
    public let name: String
    public let label: String
    public let lineCount: Int
    private let lock = NSLock()
    private var handle: OpaquePointer?

    /// Opens a chip by path (`/dev/gpiochip0`), name (`gpiochip0`), label (`pinctrl-bcm2711`) or number.
    public init(_ descriptor: String) throws(GPIOError) {
        errno = 0
        guard let handle = gpiod_chip_open_lookup(descriptor) else {
            let code = errno == 0 ? ENOENT : errno
            throw GPIOError.fromErrno(code, operation: "open chip", chip: descriptor)
        }
        self.handle = handle
        name = String(cString: gpiod_chip_name(handle))
        label = String(cString: gpiod_chip_label(handle))
        lineCount = Int(gpiod_chip_num_lines(handle))
    }

    deinit {
        close()
    }

    /// Releases the chip; monitors made from it own a chip handle of their own and stay valid until their `close()`.
    public func close() {
        lock.lock()
        let handle = self.handle
        self.handle = nil
        lock.unlock()
        if let handle { gpiod_chip_close(handle) }
    }

    /// Every line of the chip with its name, consumer, direction, polarity and bias.
    public func info() throws(GPIOError) -> GPIOChipInfo {
        try withHandle { handle throws(GPIOError) in try info(handle) }
    }

    private func info(_ handle: OpaquePointer) throws(GPIOError) -> GPIOChipInfo {
        var lines: [GPIOLineInfo] = []
        for offset in 0..<lineCount {
            guard let line = gpiod_chip_get_line(handle, UInt32(offset)) else {
                throw GPIOError.fromErrno(errno, operation: "read line info", chip: name, line: String(offset))
            }
            lines.append(Self.lineInfo(line, offset: offset))
        }
        return GPIOChipInfo(name: name, label: label, path: "/dev/\(name)", lines: lines)
    }

    /// Requests edge events on a line by offset (`17`) or by its name (`GPIO17`).
    public func monitor(
        line: String, bias: GPIOBias? = nil, activeLow: Bool = false, consumer: String = "klimavagt"
    ) throws(GPIOError) -> GPIOLineMonitor {
        // libgpiod 1.6 frees a chip's lines and their requests when the chip is closed, so the monitor gets a handle
        // of its own, which it closes after releasing its line.
        try withHandle { _ throws(GPIOError) in }
        errno = 0
        guard let own = gpiod_chip_open("/dev/\(name)") else {
            throw GPIOError.fromErrno(errno == 0 ? ENOENT : errno, operation: "open chip", chip: name)
        }
        let found: OpaquePointer?
        if let offset = Int(line) {
            guard offset >= 0, offset < lineCount else {
                gpiod_chip_close(own)
                throw GPIOError.noSuchLine(line, chip: name, available: "lines 0 to \(lineCount - 1)")
            }
            found = gpiod_chip_get_line(own, UInt32(offset))
        } else {
            found = gpiod_chip_find_line(own, line)
            if found == nil {
                let names = (try? info(own).lines.compactMap(\.name)) ?? []
                gpiod_chip_close(own)
                let available = names.isEmpty
                    ? "no named lines (use an offset 0 to \(lineCount - 1))"
                    : "named lines " + names.joined(separator: ", ")
                throw GPIOError.noSuchLine(line, chip: name, available: available)
            }
        }
        guard let found else {
            let code = errno
            gpiod_chip_close(own)
            throw GPIOError.fromErrno(code, operation: "get line", chip: name, line: line)
        }
        do {
            return try GPIOLineMonitor(chip: own, line: found, chipName: name, lineName: line, bias: bias,
                                       activeLow: activeLow, consumer: consumer)
        } catch {
            gpiod_chip_close(own)
            throw error
        }
    }

    /// Every GPIO chip the kernel offers, in name order.
    public static func list() -> [GPIOChipInfo] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: "/dev")) ?? [])
            .filter { $0.hasPrefix("gpiochip") }
            .sorted { $0.localizedStandardCompare($1) == .orderedAscending }
        return names.compactMap { name in
            guard let chip = try? GPIOChip("/dev/\(name)") else { return nil }
            defer { chip.close() }
            return try? chip.info()
        }
    }

    private func withHandle<T>(_ body: (OpaquePointer) throws(GPIOError) -> T) throws(GPIOError) -> T {
        lock.lock()
        defer { lock.unlock() }
        guard let handle else { throw GPIOError.closed }
        return try body(handle)
    }

    static func lineInfo(_ line: OpaquePointer, offset: Int) -> GPIOLineInfo {
        let bias: GPIOBias?
        switch Int(gpiod_line_bias(line)) {
        case Int(GPIOD_LINE_BIAS_PULL_UP): bias = .pullUp
        case Int(GPIOD_LINE_BIAS_PULL_DOWN): bias = .pullDown
        case Int(GPIOD_LINE_BIAS_DISABLE): bias = .disabled
        default: bias = nil
        }
        return GPIOLineInfo(
            offset: offset,
            name: gpiod_line_name(line).map { String(cString: $0) },
            consumer: gpiod_line_consumer(line).map { String(cString: $0) },
            direction: Int(gpiod_line_direction(line)) == Int(GPIOD_LINE_DIRECTION_OUTPUT) ? .output : .input,
            activeLow: Int(gpiod_line_active_state(line)) == Int(GPIOD_LINE_ACTIVE_STATE_LOW),
            bias: bias,
            used: gpiod_line_is_used(line))
    }
}
