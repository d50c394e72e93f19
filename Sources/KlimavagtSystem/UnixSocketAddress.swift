import Glibc

/// The address of a Unix socket, for the control socket (its server and `ControlClient`) and systemd's notify
/// socket: a path, or with a leading `@` a name in the abstract namespace (a leading NUL and no terminator).
public struct UnixSocketAddress {
    private var storage = sockaddr_un()
    /// The address's length as bind(2), connect(2) and sendto(2) take it.
    public let length: socklen_t

    /// Nil if `path` is too long for a Unix socket (107 bytes).
    public init?(_ path: String) {
        storage.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: storage.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &storage.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
    }

    /// Calls `body` with the address as a `sockaddr` and its length.
    public func withSocketAddress<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
        withUnsafePointer(to: storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}
