import CGPIOD
import Foundation

/// An open GPIO chip (a `/dev/gpiochipN` character device).
///
/// Lifetime: `close()` releases the chip; it is safe to call twice and is called on deinit.
public final class GPIOChip: @unchecked Sendable {   // unchecked: libgpiod's chip handle, a C pointer, guarded by `lock`
    public let name: String
    public let label: String
    public let lineCount: Int
    private let lock = NSLock()
    private var handle: OpaquePointer?

    /// Opens a chip by path (`/dev/gpiochip0`), name (`gpiochip0`), label (`pinctrl-bcm2711`) or number.
    public init(_ descriptor: String) throws(GPIOError) {
        errno = 0
        guard let handle = klimavagt_gpio_chip_open(descriptor) else {
            let code = errno == 0 ? ENOENT : errno
            throw GPIOError.fromErrno(code, operation: "open chip", chip: descriptor)
        }
        self.handle = handle
        var described = klimavagt_gpio_chip_info()
        klimavagt_gpio_chip_describe(handle, &described)
        name = Self.text(&described.name)
        label = Self.text(&described.label)
        lineCount = Int(described.lines)
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
        if let handle { klimavagt_gpio_chip_close(handle) }
    }

    /// Which libgpiod API the package was built against: 1 (1.6) or 2 (2.x).
    public static var libraryAPI: Int { Int(klimavagt_gpio_api_version()) }

    /// A NUL-terminated C string held in a fixed-size array (a tuple to Swift).
    static func text<T>(_ tuple: inout T) -> String {
        withUnsafeBytes(of: &tuple) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// Every line of the chip with its name, consumer, direction, polarity and bias.
    public func info() throws(GPIOError) -> GPIOChipInfo {
        try withHandle { handle throws(GPIOError) in try info(handle) }
    }

    private func info(_ handle: OpaquePointer) throws(GPIOError) -> GPIOChipInfo {
        var lines: [GPIOLineInfo] = []
        for offset in 0..<lineCount {
            guard let line = Self.lineInfo(handle, offset: offset) else {
                throw GPIOError.fromErrno(errno, operation: "read line info", chip: name, line: String(offset))
            }
            lines.append(line)
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
        guard let own = klimavagt_gpio_chip_open("/dev/\(name)") else {
            throw GPIOError.fromErrno(errno == 0 ? ENOENT : errno, operation: "open chip", chip: name)
        }
        let offset: Int
        if let number = Int(line) {
            guard number >= 0, number < lineCount else {
                klimavagt_gpio_chip_close(own)
                throw GPIOError.noSuchLine(line, chip: name, available: "lines 0 to \(lineCount - 1)")
            }
            offset = number
        } else {
            errno = 0
            let found = klimavagt_gpio_line_find(own, line)
            guard found >= 0 else {
                let names = (try? info(own).lines.compactMap(\.name)) ?? []
                klimavagt_gpio_chip_close(own)
                let available = names.isEmpty
                    ? "no named lines (use an offset 0 to \(lineCount - 1))"
                    : "named lines " + names.joined(separator: ", ")
                throw GPIOError.noSuchLine(line, chip: name, available: available)
            }
            offset = Int(found)
        }
        do {
            return try GPIOLineMonitor(chip: own, offset: offset, chipName: name, lineName: line, bias: bias,
                                       activeLow: activeLow, consumer: consumer)
        } catch {
            klimavagt_gpio_chip_close(own)
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

    /// The line at `offset` as the kernel describes it now, or nil with errno set.
    static func lineInfo(_ chip: OpaquePointer, offset: Int) -> GPIOLineInfo? {
        var described = klimavagt_gpio_line_info()
        guard let unsigned = UInt32(exactly: offset), klimavagt_gpio_line_describe(chip, unsigned, &described) == 0 else {
            return nil
        }
        let bias: GPIOBias?
        switch described.bias {
        case 1: bias = .disabled
        case 2: bias = .pullUp
        case 3: bias = .pullDown
        default: bias = nil
        }
        return GPIOLineInfo(
            offset: offset,
            name: described.has_name ? text(&described.name) : nil,
            consumer: described.has_consumer ? text(&described.consumer) : nil,
            direction: described.output ? .output : .input,
            activeLow: described.active_low,
            bias: bias,
            used: described.used)
    }
}
