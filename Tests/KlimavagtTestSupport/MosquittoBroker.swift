import Foundation

/// A private mosquitto broker on a random loopback port, started and stopped by a test.
public final class MosquittoBroker: @unchecked Sendable {
    public struct Credentials: Sendable {
        public var username: String
        public var password: String
        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }
    }

    public private(set) var port: Int
    public let directory: URL
    public let tls: TLSMaterial?
    private var process: ChildProcess?

    /// Creates the broker's folder and configuration and starts it; `credentials` turns anonymous access off.
    /// `persistent` keeps sessions and queued messages across a restart of the broker. `unlimitedQueues` lifts
    /// mosquitto's 1000 messages queued and 20 in flight per client, so a slow subscriber under a benchmark's flood is
    /// measured rather than dropped.
    public init(tls: TLSMaterial? = nil, credentials: Credentials? = nil, persistent: Bool = false,
                unlimitedQueues: Bool = false) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-broker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try Self.freePort()
        self.tls = tls
        var config = "log_dest stderr\nlog_type error\nlog_type warning\n"
        if persistent {
            try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: directory.path)
            config += "persistence true\npersistence_location \(directory.path)/\nautosave_interval 1\n"
        } else {
            config += "persistence false\n"
        }
        if unlimitedQueues { config += "max_queued_messages 0\nmax_inflight_messages 0\n" }
        if let tls {
            config += "cafile \(tls.caCertificate.path)\ncertfile \(tls.serverCertificate.path)\nkeyfile \(tls.serverKey.path)\n"
        }
        if let credentials {
            let passwords = directory.appendingPathComponent("passwords")
            try run("/usr/bin/mosquitto_passwd", ["-b", "-c", passwords.path, credentials.username, credentials.password])
            // Started as root, mosquitto 2.0.21 (Debian 13) opens the password file after dropping to its own user,
            // and mosquitto_passwd wrote it root-owned with mode 0600: it is given to that user.
            if geteuid() == 0, let user = getpwnam("mosquitto") {
                chown(passwords.path, user.pointee.pw_uid, user.pointee.pw_gid)
            }
            config += "allow_anonymous false\npassword_file \(passwords.path)\n"
        } else {
            config += "allow_anonymous true\n"
        }
        // A port found free can be taken before mosquitto binds it (by another test's broker, or as the local port of
        // a connection): then another port, a few times.
        for attempt in 1...5 {
            try ("listener \(port) 127.0.0.1\n" + config)
                .write(to: directory.appendingPathComponent("mosquitto.conf"), atomically: true, encoding: .utf8)
            do {
                try start()
                return
            } catch let error as BrokerError where error.description.contains("Address already in use") && attempt < 5 {
                port = try Self.freePort()
            }
        }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts (or starts again) the broker on the same port and waits until it accepts connections.
    public func start() throws {
        let process = try ChildProcess(
            "/usr/sbin/mosquitto", ["-c", directory.appendingPathComponent("mosquitto.conf").path],
            outputFile: directory.appendingPathComponent("broker.log").path)
        self.process = process
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if Self.accepts(port: port) { return }
            guard process.isRunning else { break }
            usleep(20_000)
        }
        throw BrokerError("mosquitto did not start listening on 127.0.0.1:\(port): \(process.output)")
    }

    /// Stops the broker (SIGTERM) and waits for it to exit.
    public func stop() {
        guard let process else { return }
        process.signal(SIGCONT)
        process.signal(SIGTERM)
        process.wait()
        self.process = nil
    }

    /// Freezes the broker (SIGSTOP) so that it accepts nothing and answers nothing until `resume()`.
    public func pause() {
        process?.signal(SIGSTOP)
    }

    public func resume() {
        process?.signal(SIGCONT)
    }

    /// A loopback port nothing listens on: a random one below the kernel's range of local ports for outgoing
    /// connections (`ip_local_port_range`), which no client's connection can take meanwhile, else one the kernel picks.
    public static func freePort() throws -> Int {
        let range = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))?
            .split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) } ?? []
        if let low = range.first, low > 12_000 {
            for _ in 0..<50 {
                let candidate = Int.random(in: 10_000..<low)
                if bindable(candidate) { return candidate }
            }
        }
        return try kernelPickedPort()
    }

    /// Whether a socket can bind `port` on 127.0.0.1 now.
    static func bindable(_ port: Int) -> Bool {
        withLoopbackSocket(port: port) { fd, address, length in bind(fd, address, length) == 0 }
    }

    static func kernelPickedPort() throws -> Int {
        let port = withLoopbackSocket(port: 0) { fd, address, length -> Int? in
            var length = length
            guard bind(fd, address, length) == 0, getsockname(fd, address, &length) == 0 else { return nil }
            return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
        guard let port else { throw BrokerError("no free loopback port") }
        return port
    }

    static func accepts(port: Int) -> Bool {
        withLoopbackSocket(port: port) { fd, address, length in connect(fd, address, length) == 0 }
    }

    /// Runs `body` with a new TCP socket and the address 127.0.0.1:`port`, and closes the socket after it.
    private static func withLoopbackSocket<T>(
        port: Int, _ body: (Int32, UnsafeMutablePointer<sockaddr>, socklen_t) -> T
    ) -> T {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}

public struct BrokerError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

