import CMosquitto

/// A failure of the MQTT client, with libmosquitto's own words for it.
public struct MQTTError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The broker could not be reached (refused, unreachable, name lookup failed, connection lost).
        case unreachable
        /// The broker refused the credentials or the client is not authorised.
        case notAuthorized
        /// The broker refused the connection for another reason (protocol version, client id, server busy).
        case connectionRefused
        /// TLS failed: handshake, certificate verification or the TLS files.
        case tls
        /// An argument was invalid (topic, QoS, payload size, option).
        case invalidArgument
        /// The operation needs a broker session and there is none.
        case notConnected
        /// The client was closed.
        case closed
        /// The operation did not finish in time.
        case timeout
        /// The task waiting for the broker was cancelled; a message may still reach the broker.
        case cancelled
        /// Any other libmosquitto failure.
        case other
    }

    public var kind: Kind
    /// libmosquitto's return code (`MOSQ_ERR_*`) or the broker's CONNACK reason code.
    public var code: Int32
    /// What the client was doing.
    public var operation: String
    /// The library's text for the code (`mosquitto_strerror` or the CONNACK reason string).
    public var text: String

    public init(kind: Kind, code: Int32, operation: String, text: String) {
        self.kind = kind
        self.code = code
        self.operation = operation
        self.text = text
    }

    public var description: String {
        "MQTT \(operation) failed: \(text)"
    }

    /// Maps a libmosquitto return code to a typed error; success maps to `nil`.
    static func check(_ rc: Int32, _ operation: String) throws(MQTTError) {
        if let error = MQTTError(returnCode: rc, operation: operation) { throw error }
    }

    /// The error for a libmosquitto return code, or `nil` for success.
    init?(returnCode rc: Int32, operation: String) {
        guard rc != MOSQ_ERR_SUCCESS.rawValue else { return nil }
        let text: String
        let saved = errno
        if rc == MOSQ_ERR_ERRNO.rawValue {
            text = String(cString: strerror(saved))
        } else {
            text = String(cString: mosquitto_strerror(rc))
        }
        let kind: Kind
        let code = saved
        switch mosq_err_t(rawValue: rc) {
        // libmosquitto 2.0.21 (Debian 13) reports a failed TLS handshake or certificate check as an errno failure with
        // EPROTO, which TCP itself never gives: it is a TLS failure, as MOSQ_ERR_TLS is on 2.0.11 (Debian 12).
        case MOSQ_ERR_ERRNO where code == EPROTO: kind = .tls
        case MOSQ_ERR_NO_CONN: kind = .notConnected
        case MOSQ_ERR_CONN_LOST, MOSQ_ERR_ERRNO, MOSQ_ERR_EAI, MOSQ_ERR_LOOKUP, MOSQ_ERR_KEEPALIVE: kind = .unreachable
        case MOSQ_ERR_CONN_REFUSED: kind = .connectionRefused
        case MOSQ_ERR_AUTH, MOSQ_ERR_ACL_DENIED: kind = .notAuthorized
        case MOSQ_ERR_TLS, MOSQ_ERR_TLS_HANDSHAKE, MOSQ_ERR_OCSP: kind = .tls
        case MOSQ_ERR_INVAL, MOSQ_ERR_PAYLOAD_SIZE, MOSQ_ERR_MALFORMED_UTF8, MOSQ_ERR_OVERSIZE_PACKET,
            MOSQ_ERR_QOS_NOT_SUPPORTED, MOSQ_ERR_NOT_SUPPORTED:
            kind = .invalidArgument
        case MOSQ_ERR_TIMEOUT: kind = .timeout
        default: kind = .other
        }
        self.init(kind: kind, code: rc, operation: operation, text: text)
    }

    /// The error for a CONNACK that refused the session, in MQTT 3.1.1 or MQTT 5 reason codes.
    init(connackReason reason: Int32, protocolVersion: MQTTOptions.ProtocolVersion) {
        let text: String
        let kind: Kind
        switch protocolVersion {
        case .v311:
            text = String(cString: mosquitto_connack_string(reason))
            kind = (reason == 4 || reason == 5) ? .notAuthorized : .connectionRefused
        case .v5:
            text = String(cString: mosquitto_reason_string(reason))
            kind = (reason == 134 || reason == 135) ? .notAuthorized : .connectionRefused
        }
        self.init(kind: kind, code: reason, operation: "connect", text: text)
    }

    static func cancelled(_ operation: String) -> MQTTError {
        MQTTError(kind: .cancelled, code: 0, operation: operation, text: "the waiting task was cancelled")
    }

    static func closed(_ operation: String) -> MQTTError {
        MQTTError(kind: .closed, code: 0, operation: operation, text: "the client is closed")
    }
}

#if canImport(Glibc)
import Glibc
#endif
