/// How to reach and authenticate with a broker, and how the session behaves.
public struct MQTTOptions: Sendable, Equatable {
    public enum ProtocolVersion: String, Sendable, Equatable {
        case v311 = "3.1.1"
        case v5 = "5"
    }

    /// TLS settings; verification of the server's certificate and host name is on unless `verifyServer` is false.
    public struct TLS: Sendable, Equatable {
        public var caFile: String?
        public var caPath: String?
        public var certificateFile: String?
        public var keyFile: String?
        public var verifyServer: Bool

        public init(
            caFile: String? = nil, caPath: String? = nil, certificateFile: String? = nil, keyFile: String? = nil,
            verifyServer: Bool = true
        ) {
            self.caFile = caFile
            self.caPath = caPath
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.verifyServer = verifyServer
        }
    }

    /// The message the broker publishes for the client when its session ends without a clean disconnect.
    public struct Will: Sendable, Equatable {
        public var topic: String
        public var payload: [UInt8]
        public var qos: MQTTQoS
        public var retain: Bool

        public init(topic: String, payload: [UInt8], qos: MQTTQoS = .atLeastOnce, retain: Bool = true) {
            self.topic = topic
            self.payload = payload
            self.qos = qos
            self.retain = retain
        }
    }

    public var host: String
    public var port: Int
    public var clientID: String
    public var keepalive: Duration
    public var username: String?
    public var password: String?
    public var tls: TLS?
    public var protocolVersion: ProtocolVersion
    public var cleanSession: Bool
    public var will: Will?
    /// The first wait before reconnecting; it doubles after each failed attempt up to `reconnectMaximum`.
    public var reconnectInitial: Duration
    public var reconnectMaximum: Duration
    /// The longest the network thread waits in one pass when nothing arrives; the keepalive shortens it when due.
    ///
    /// A publish from another thread wakes it at once, so this bounds only how often an idle client wakes and how
    /// soon `networkLoopPasses` moves, which a watchdog reads as the thread being alive.
    public var idleWait: Duration

    public init(
        host: String = "127.0.0.1", port: Int = 1883, clientID: String, keepalive: Duration = .seconds(60),
        username: String? = nil, password: String? = nil, tls: TLS? = nil, protocolVersion: ProtocolVersion = .v311,
        cleanSession: Bool = true, will: Will? = nil, reconnectInitial: Duration = .seconds(1),
        reconnectMaximum: Duration = .seconds(60), idleWait: Duration = .seconds(1)
    ) {
        self.host = host
        self.port = port
        self.clientID = clientID
        self.keepalive = keepalive
        self.username = username
        self.password = password
        self.tls = tls
        self.protocolVersion = protocolVersion
        self.cleanSession = cleanSession
        self.will = will
        self.reconnectInitial = reconnectInitial
        self.reconnectMaximum = reconnectMaximum
        self.idleWait = idleWait
    }
}

/// The MQTT delivery guarantees the client offers.
public enum MQTTQoS: Int32, Sendable, Equatable {
    case atMostOnce = 0
    case atLeastOnce = 1
}
