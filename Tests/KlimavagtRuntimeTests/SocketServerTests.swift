import Foundation
import KlimavagtMQTT
@testable import KlimavagtRuntime
import KlimavagtSystem
import KlimavagtTestSupport
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
        private let count = Locked(0)

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

    @Test("the running agent refuses overflowing queries, and answers status and a scrape within 1 s behind crowds")
    func agent() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let port = try MosquittoBroker.freePort()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-sockets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try """
            site: sockets
            mqtt: {host: 127.0.0.1, port: \(broker.port)}
            metrics: {port: \(port)}
            sensors:
              - id: l1
                unit: cm
                input: {mqtt: {topic: site/level}}
            """.write(to: folder.appendingPathComponent("agent.yaml"), atomically: true, encoding: .utf8)
        let socket = folder.appendingPathComponent("control.sock").path
        let agent = try Klimavagt.start(["run", "--config", folder.appendingPathComponent("agent.yaml").path,
                                          "--state-dir", folder.appendingPathComponent("state").path,
                                          "--control-socket", socket])
        defer { agent.signal(SIGKILL); agent.wait() }
        let device = try MQTTClient(MQTTOptions(port: broker.port, clientID: "sockets-device"))
        defer { device.close() }
        try await device.connect()
        // Until l1 is in the store, so that a query reaches the arithmetic that trapped.
        var answer = ""
        for _ in 0..<100 where !answer.hasPrefix("[") {
            try await device.publish("site/level", payload: Array(#"{"value": 120}"#.utf8))
            try await Task.sleep(for: .milliseconds(50))
            answer = (try? ControlClient.ask("query l1 3600 60", at: socket)) ?? ""
        }
        try #require(answer.hasPrefix("["), "\(answer)\n\(agent.output)")
        for request in ["query l1 10000000000 60", "query l1 -1 1", "query l1 9223372036854775807 1",
                        "query l1 60 -9223372036854775808", "query l1 " + String(repeating: "9", count: 4000) + " 1"] {
            let refused = try ControlClient.ask(request, at: socket)
            #expect(refused.hasPrefix(#"{"error":"query: "#), "\(request.prefix(40)): \(refused)")
        }
        #expect(try ControlClient.ask("ping", at: socket) == "pong")
        #expect(agent.isRunning)

        do {
            let crowd = try await Crowd(connect: { Self.connectUnix(socket) }, request: Array("status\n".utf8))
            defer { crowd.disperse() }
            let (elapsed, status) = await Self.timedExchange(connect: { Self.connectUnix(socket) },
                                                              request: Array("status\n".utf8))
            #expect(String(decoding: status, as: UTF8.self).hasPrefix(#"{"alerts":"#))
            #expect(elapsed < TestTiming.duration(.seconds(1)), "status answered in \(elapsed)")
            print("agent control socket: status answered in \(elapsed)")
            let stayed = await crowd.slow.value
            #expect(stayed.map { $0 < .seconds(2) } == true, "the slow client stayed \(String(describing: stayed))")
        }
        do {
            let scrape = Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
            let crowd = try await Crowd(connect: { Self.connectTCP(UInt16(port)) }, request: scrape)
            defer { crowd.disperse() }
            let (elapsed, metrics) = await Self.timedExchange(connect: { Self.connectTCP(UInt16(port)) }, request: scrape)
            #expect(String(decoding: metrics, as: UTF8.self).hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(elapsed < TestTiming.duration(.seconds(1)), "scrape answered in \(elapsed)")
            print("agent metrics: scrape answered in \(elapsed)")
            let stayed = await crowd.slow.value
            #expect(stayed.map { $0 < .seconds(2) } == true, "the slow client stayed \(String(describing: stayed))")
        }
        #expect(try ControlClient.ask("ping", at: socket) == "pong")
        agent.signal(SIGTERM)
        #expect(await agent.wait(seconds: 15) == 0)
    }

    /// Serves `listener` with a 1 MB answer, crowds it, and returns how long a well-behaved client took for its
    /// answer; fails if that was 1 s or more.
    func crowd(listener: Int32, terminator: [UInt8], request: [UInt8],
               connect: @escaping @Sendable () -> Int32) async throws -> Duration
    {
        let answered = Counter()
        let server = try SocketServer(listener: listener, name: "test-socket", terminator: terminator) { _ in
            answered.increment()
            return [UInt8](repeating: 0x78, count: Self.answerBytes)
        }
        let crowd = try await Crowd(connect: connect, request: request)
        defer { crowd.disperse() }
        #expect(answered.value == 1)
        let (elapsed, answer) = await Self.timedExchange(connect: connect, request: request)
        #expect(answer.count == Self.answerBytes)
        #expect(elapsed < TestTiming.duration(.seconds(1)), "answered in \(elapsed)")
        // The silent client holds most of its answer back on the server's side: the crowd was real.
        var waiting: Int32 = 0
        _ = ioctl(crowd.silent, UInt(FIONREAD), &waiting)
        #expect(Int(waiting) < Self.answerBytes)
        let stayed = await crowd.slow.value
        #expect(stayed.map { $0 < .seconds(2) } == true, "the slow client stayed \(String(describing: stayed))")
        await server.stop()
        await server.stop()
        return elapsed
    }

    /// How long a client took to connect, ask and read the whole answer, and the answer.
    static func timedExchange(connect: @escaping @Sendable () -> Int32, request: [UInt8]) async -> (Duration, [UInt8]) {
        await onThread { () -> (Duration, [UInt8]) in
            let start = ContinuousClock.now
            let fd = connect()
            defer { if fd >= 0 { close(fd) } }
            let answer = fd >= 0 ? exchange(fd, request) : []
            return (start.duration(to: .now), answer)
        }
    }

    /// Clients that try to hold a server: 1000 idle connections, one that sends a byte every 0.9 s, and one that
    /// asks (with a small receive buffer) and never reads. Made in that order, so once the silent one has an
    /// answer waiting, the server has accepted every one of them.
    struct Crowd {
        let idle: [Int32]
        let silent: Int32
        /// How long the slow client was let stay before the server closed it; nil if it was not.
        let slow: Task<Duration?, Never>

        init(connect: @escaping @Sendable () -> Int32, request: [UInt8]) async throws {
            // The idle clients live at descriptors 4096 and up: tests running alongside keep the low ones, and
            // libmosquitto's select(2) refuses a socket numbered 1024 (FD_SETSIZE) or more.
            let high = try raiseFileLimit(to: 4096 + 1200) >= 4096 + 1200
            idle = await onThread {
                (0..<1000).map { _ in
                    let fd = connect()
                    guard high, fd >= 0 else { return fd }
                    let moved = fcntl(fd, F_DUPFD_CLOEXEC, 4096)
                    close(fd)
                    return moved
                }
            }
            #expect(idle.allSatisfy { $0 >= 0 })
            // One byte every 0.9 s, at most five, until the server closes it.
            slow = Task {
                await onThread { () -> Duration? in
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
            silent = connect()
            var small: Int32 = 4096
            setsockopt(silent, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            _ = request.withUnsafeBytes { send(silent, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            // Waits (5 s at most) for the first bytes of the silent client's answer, without reading them.
            let answered = await onThread { [silent] in
                var entry = pollfd(fd: silent, events: Int16(POLLIN), revents: 0)
                return poll(&entry, 1, 5000)
            }
            try #require(answered == 1, "the silent client got no answer")
        }

        /// Closes the idle and the silent clients (the slow one closes itself).
        func disperse() {
            for fd in idle where fd >= 0 { close(fd) }
            if silent >= 0 { close(silent) }
        }
    }

    /// Raises the soft limit on open files towards `wanted`, up to the hard limit, and returns the limit; fails if
    /// it stays too low for a crowd of 1000 (1200 with the test's own).
    @discardableResult
    static func raiseFileLimit(to wanted: rlim_t) throws -> rlim_t {
        var limit = rlimit()
        try #require(getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0)
        if limit.rlim_cur < wanted {
            limit.rlim_cur = min(wanted, limit.rlim_max)
            try #require(setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0)
        }
        try #require(limit.rlim_cur >= 1200, "the hard limit on open files is \(limit.rlim_max)")
        return limit.rlim_cur
    }

    /// Runs blocking socket work on a thread of its own, not on the task pool.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }

    /// A blocking connection to the Unix socket at `path`, or -1.
    static func connectUnix(_ path: String) -> Int32 {
        guard let address = UnixSocketAddress(path) else { return -1 }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        let connected = address.withSocketAddress { Glibc.connect(fd, $0, $1) }
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
