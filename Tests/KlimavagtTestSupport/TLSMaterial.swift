import Foundation

/// A certificate authority and a server certificate for 127.0.0.1, made by `openssl` for one test.
public struct TLSMaterial: Sendable {
    public let directory: URL
    public var caCertificate: URL { directory.appendingPathComponent("ca.crt") }
    public var serverCertificate: URL { directory.appendingPathComponent("server.crt") }
    public var serverKey: URL { directory.appendingPathComponent("server.key") }

    /// Generates a fresh CA (named `caName`) and a server certificate it signed, valid for 127.0.0.1 and localhost.
    public static func generate(caName: String = "klimavagt test CA") throws -> TLSMaterial {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("klimavagt-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let openssl = "/usr/bin/openssl"
        func d(_ name: String) -> String { directory.appendingPathComponent(name).path }
        try run(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=\(caName)",
                          "-keyout", d("ca.key"), "-out", d("ca.crt")])
        try run(openssl, ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                          "-keyout", d("server.key"), "-out", d("server.csr")])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(
            to: URL(fileURLWithPath: d("san.ext")), atomically: true, encoding: .utf8)
        try run(openssl, ["x509", "-req", "-in", d("server.csr"), "-CA", d("ca.crt"), "-CAkey", d("ca.key"), "-CAserial", d("ca.srl"), "-CAcreateserial",
                          "-days", "2", "-extfile", d("san.ext"), "-out", d("server.crt")])
        // mosquitto drops root privileges to its own user before it reads the key, so the test key must be readable.
        for name in ["ca.crt", "server.crt", "server.key"] {
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: d(name))
        }
        return TLSMaterial(directory: directory)
    }
}
