import Foundation
import KlimavagtCore
import KlimavagtMQTT

/// The `mqtt:` section: the broker, the session, TLS and credentials.
extension ConfigurationLoader {
    static func readMQTT(_ reader: YAMLReader?, site: String, prefix: String, baseFolder: String)
        throws(ConfigurationError) -> MQTTOptions
    {
        var options = MQTTOptions(
            clientID: "klimavagt-\(site)",
            will: .init(topic: ContractTopics(prefix: prefix).status, payload: Array("offline".utf8), qos: .atLeastOnce, retain: true))
        guard let reader else { return options }
        let map = try reader.mapping(allowed: [
            "host", "port", "client_id", "keepalive", "username", "password", "password_file", "protocol", "tls",
            "reconnect",
        ])
        if let host = map["host"] {
            options.host = try host.string()
            guard !options.host.isEmpty, options.host.utf8.count <= 253,
                  !options.host.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F })
            else { throw host.error("a host name or address of 1 to 253 characters without spaces") }
        }
        if let port = map["port"] { options.port = try port.int(in: 1...65535) }
        if let id = map["client_id"] {
            options.clientID = try id.string()
            guard !options.clientID.isEmpty, options.clientID.utf8.count <= 256,
                  topicProblem(options.clientID, filter: true) == nil
            else { throw id.error("a client id has 1 to 256 bytes and no control characters") }
        }
        if let keepalive = map["keepalive"] {
            options.keepalive = try keepalive.duration()
            guard options.keepalive >= .seconds(5), options.keepalive <= .seconds(65535) else {
                throw keepalive.error("must be between 5s and 65535s")
            }
        }
        if let username = map["username"] { options.username = try username.string() }
        if let password = map["password"], let file = map["password_file"] {
            _ = password
            throw file.error("give either password or password_file, not both")
        }
        if let password = map["password"] { options.password = try password.string() }
        if let fileReader = map["password_file"] {
            var written = try fileReader.string()
            // systemd's LoadCredential= puts the secret in $CREDENTIALS_DIRECTORY.
            if written.contains("${CREDENTIALS_DIRECTORY}") {
                guard let credentials = ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"] else {
                    throw fileReader.error("CREDENTIALS_DIRECTORY is not set: start the agent with systemd's LoadCredential=, or name the file itself")
                }
                written = written.replacingOccurrences(of: "${CREDENTIALS_DIRECTORY}", with: credentials)
            }
            let path = resolve(written, against: baseFolder)
            guard let secret = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw fileReader.error("cannot read the password file \(path)")
            }
            options.password = secret.trimmingCharacters(in: .newlines)
        }
        if let version = map["protocol"] {
            let text = try version.string()
            guard let parsed = MQTTOptions.ProtocolVersion(rawValue: text) else {
                throw version.error("expected \"3.1.1\" or \"5\", found '\(text)'")
            }
            options.protocolVersion = parsed
        }
        if let tlsReader = map["tls"] {
            let tls = try tlsReader.mapping(allowed: ["ca_file", "cert_file", "key_file", "verify"])
            var settings = MQTTOptions.TLS()
            if let ca = tls["ca_file"] { settings.caFile = resolve(try ca.string(), against: baseFolder) }
            if let cert = tls["cert_file"] { settings.certificateFile = resolve(try cert.string(), against: baseFolder) }
            if let key = tls["key_file"] { settings.keyFile = resolve(try key.string(), against: baseFolder) }
            if let verify = tls["verify"] { settings.verifyServer = try verify.bool() }
            if (settings.certificateFile == nil) != (settings.keyFile == nil) {
                throw tlsReader.error("cert_file and key_file go together")
            }
            options.tls = settings
        }
        if let reconnectReader = map["reconnect"] {
            let reconnect = try reconnectReader.mapping(allowed: ["initial", "max"])
            if let initial = reconnect["initial"] { options.reconnectInitial = try initial.duration() }
            if let maximum = reconnect["max"] { options.reconnectMaximum = try maximum.duration() }
            guard options.reconnectInitial > .zero, options.reconnectInitial <= options.reconnectMaximum else {
                throw reconnectReader.error("initial must be above zero and no longer than max")
            }
        }
        return options
    }
}
