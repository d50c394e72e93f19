import Foundation
@testable import KlimavagtRuntime
import Synchronization
import Testing

/// The socket server behind the control socket and the metrics endpoint, in process, against clients that try to
/// hold it: a thousand idle connections, one that sends a byte every 0.9 s, one that asks and never reads.
@Suite("socket server", .serialized)
struct SocketServerTests {
    /// What every request is answered: 1 MB, more than a socket's buffers take, so a client that does not read
    /// leaves the server with an answer in hand.
    static let answerBytes = 1_000_000

    /// Requests answered so far, counted on the server's thread.
    final class Counter: Sendable {
        /// Invariant: only grows, by one per answered request.
        private let count = Mutex(0)

        func increment() { count.withLock { $0 += 1 } }
        var value: Int { count.withLock { $0 } }
    }

    @Test("a Unix-socket client is answered within 1 s behind 1000 idle, one slow and one non-reading client")
    func unixCrowd() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-sockets-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("control.sock").path
        let listener = try ControlServer.listen(at: path)
        let elapsed = try await crowd(listener: listener, terminator: [0x0A], request: Array("status\n".utf8)) {
            Self.connectUnix(path)
        }
        print("unix: answered in \(elapsed)")
    }

    @Test("a TCP client on 127.0.0.1 is answered within 1 s behind 1000 idle, one slow and one non-reading client")
    func tcpCrowd() async throws {
        let listener = try MetricsServer.listen(port: 0)
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        try #require(named == 0)
        let port = UInt16(bigEndian: address.sin_port)
        let elapsed = try await crowd(listener: listener, terminator: Array("\r\n\r\n".utf8),
                                      request: Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)) {
            Self.connectTCP(port)
        }
        print("tcp: answered in \(elapsed)")
    }

    @Test("stop() closes the listener and may be called twice; a request over 4096 bytes is answered on its start")
    func stopTwice() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-sockets-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("control.sock").path
        let server = try SocketServer(listener: try ControlServer.listen(at: path), name: "test-socket", terminator: [0x0A]) {
            Array("\($0.count)\n".utf8)
        }
        let answer = await Self.onThread { () -> [UInt8] in
            let fd = Self.connectUnix(path)
            defer { close(fd) }
            return Self.exchange(fd, Array(repeating: 0x61, count: 10_000))
        }
        #expect(String(decoding: answer, as: UTF8.self) == "4096\n")
        await server.stop()
        await server.stop()
        let fd = Self.connectUnix(path)
        if fd >= 0 { close(fd) }
        #expect(fd < 0)
    }

    /// Serves `listener` with a 1 MB answer, crowds it, and returns how long a well-behaved client took for its
    /// answer; fails if that was 1 s or more.
    func crowd(listener: Int32, terminator: [UInt8], request: [UInt8],
               connect: @escaping @Sendable () -> Int32) async throws -> Duration
    {
        try Self.raiseFileLimit(to: 1200)
        let answered = Counter()
        let server = try SocketServer(listener: listener, name: "test-socket", terminator: terminator) { _ in
            answered.increment()
            return [UInt8](repeating: 0x78, count: Self.answerBytes)
        }
        let idle = await Self.onThread { (0..<1000).map { _ in connect() } }
        defer { for fd in idle where fd >= 0 { close(fd) } }
        #expect(idle.allSatisfy { $0 >= 0 })
        // One byte every 0.9 s, at most five, until the server closes it; how long it was let stay.
        let slow = Task {
            await Self.onThread { () -> Duration? in
                let start = ContinuousClock.now
                let fd = connect()
                guard fd >= 0 else { return nil }
                defer { close(fd) }
                var byte: UInt8 = 0x73
                for _ in 0..<5 {
                    guard send(fd, &byte, 1, Int32(MSG_NOSIGNAL)) == 1 else { return start.duration(to: .now) }
                    var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    if poll(&entry, 1, 900) > 0 { return start.duration(to: .now) }   // closed by the server
                }
                return nil
            }
        }
        // Asks, with a small receive buffer, and never reads.
        let silent = connect()
        defer { if silent >= 0 { close(silent) } }
        var small: Int32 = 4096
        setsockopt(silent, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        _ = request.withUnsafeBytes { send(silent, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        // The silent client came after every idle one, so once it is answered they have all been accepted.
        for _ in 0..<500 where answered.value < 1 { try await Task.sleep(for: .milliseconds(10)) }
        try #require(answered.value == 1)

        let (elapsed, answer) = await Self.onThread { () -> (Duration, [UInt8]) in
            let start = ContinuousClock.now
            let fd = connect()
            defer { if fd >= 0 { close(fd) } }
            let answer = fd >= 0 ? Self.exchange(fd, request) : []
            return (start.duration(to: .now), answer)
        }
        #expect(answer.count == Self.answerBytes)
        #expect(elapsed < .seconds(1), "answered in \(elapsed)")
        // The silent client holds most of its answer back on the server's side: the crowd was real.
        var waiting: Int32 = 0
        _ = ioctl(silent, UInt(FIONREAD), &waiting)
        #expect(Int(waiting) < Self.answerBytes)
        let stayed = await slow.value
        #expect(stayed.map { $0 < .seconds(2) } == true, "the slow client stayed \(String(describing: stayed))")
        await server.stop()
        await server.stop()
        return elapsed
    }

    /// Raises the soft limit on open files to `wanted`, up to the hard limit, if it is below.
    static func raiseFileLimit(to wanted: rlim_t) throws {
        var limit = rlimit()
        try #require(getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0)
        guard limit.rlim_cur < wanted else { return }
        limit.rlim_cur = min(wanted, limit.rlim_max)
        try #require(setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0)
        try #require(limit.rlim_cur >= wanted, "the hard limit on open files is \(limit.rlim_max)")
    }

    /// Runs blocking socket work on a thread of its own, not on the task pool.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }

    /// A blocking connection to the Unix socket at `path`, or -1.
    static func connectUnix(_ path: String) -> Int32 {
        guard var address = ControlClient.address(path) else { return -1 }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            return -1
        }
        return fd
    }

    /// A blocking connection to 127.0.0.1:`port`, or -1.
    static func connectTCP(_ port: UInt16) -> Int32 {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(port.bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            return -1
        }
        return fd
    }

    /// Sends `request` and reads until the server closes, giving up after 5 s without a byte.
    static func exchange(_ fd: Int32, _ request: [UInt8]) -> [UInt8] {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count <= 0 { break }
            reply.append(contentsOf: buffer.prefix(count))
        }
        return reply
    }
}
