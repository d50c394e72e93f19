import Glibc

/// The pages of this program's own machine code.
///
/// An agent touches most of its code once, at start: loading and checking its configuration (YAML, the device
/// catalogue, Foundation's and ICU's parsers), the command line, the service set-up. Measured on the static binary
/// under the users' MQTT workload (`Benchmarks/MQTTLoad`): 16.8 MB of its code resident, 2.2 MB of it used again once
/// it runs. The kernel keeps the rest mapped, and counted in the agent's resident memory, until memory runs short.
public enum ProgramCode {
    /// Asks the kernel to reclaim the pages of the program's code segment now (`madvise(MADV_PAGEOUT)`, Linux 5.4
    /// and later); the pages the agent then runs fault back in from the file as they are needed. Code is never
    /// written, so nothing is lost. Returns the bytes of the segment, or nil if it was not found or the kernel refused.
    @discardableResult
    public static func releaseResidentPages() -> Int? {
        guard let segment = codeSegment(),
              let address = UnsafeMutableRawPointer(bitPattern: segment.start)
        else { return nil }
        guard let length = Int(exactly: segment.end - segment.start) else { return nil }
        return madvise(address, length, MADV_PAGEOUT) == 0 ? length : nil
    }

    /// The executable, readable code mapping of the program's own file in `/proc/self/maps`, as
    /// `START-END r-xp OFFSET DEV INODE PATH`.
    static func codeSegment() -> (start: UInt, end: UInt)? {
        guard let executable = realPath("/proc/self/exe"), let maps = readFile("/proc/self/maps") else { return nil }
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "r-xp", fields[5...].joined(separator: " ") == executable else {
                continue
            }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16),
                  end > start
            else { return nil }
            return (start, end)
        }
        return nil
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// A small file of /proc, read whole (its size is not known before: stat(2) says 0).
    private static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while bytes.count < 4 << 20 {
            let count = read(fd, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            bytes.append(contentsOf: buffer.prefix(count))
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
