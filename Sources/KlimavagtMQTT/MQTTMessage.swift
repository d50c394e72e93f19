/// A message received from the broker, copied out of libmosquitto's buffers.
public struct MQTTMessage: Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: Int32
    public var retain: Bool

    public init(topic: String, payload: [UInt8], qos: Int32, retain: Bool) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }

    /// The payload as UTF-8 text (invalid sequences repaired).
    public var text: String {
        String(decoding: payload, as: UTF8.self)
    }
}

/// A change of the client's broker session.
public enum MQTTConnectionEvent: Sendable, Equatable {
    case connected(sessionPresent: Bool)
    case disconnected(MQTTError?)
    /// An attempt to connect failed before a session was up (the broker unreachable, or it refused the CONNECT).
    case connectFailed(MQTTError)
    /// The broker answered a subscription (made by `subscribe` or again after a reconnect): granted or refused.
    case subscribed(filter: String, granted: Bool)
}
