import Foundation
import KlimavagtMQTT
import KlimavagtTestSupport
import Testing

/// The libmosquitto client against a real mosquitto broker on a random loopback port.
@Suite("MQTT client against a real broker", .serialized)
struct MQTTClientBrokerTests {
    func options(_ broker: MosquittoBroker, _ id: String, version: MQTTOptions.ProtocolVersion = .v311) -> MQTTOptions {
        MQTTOptions(host: "127.0.0.1", port: broker.port, clientID: "\(id)-\(UUID().uuidString.prefix(8))",
                    keepalive: .seconds(10), protocolVersion: version, reconnectInitial: .milliseconds(100),
                    reconnectMaximum: .milliseconds(400))
    }

    func nextMessage(_ client: MQTTClient, within seconds: Double = 5) async throws -> MQTTMessage {
        let messages = client.messages
        return try await within(seconds, "a message") {
            var iterator = messages.makeAsyncIterator()
            guard let message = await iterator.next() else { throw BrokerError("message stream ended") }
            return message
        }
    }

    @Test("publish and subscribe round trip with wildcards", arguments: [MQTTOptions.ProtocolVersion.v311, .v5])
    func roundTrip(version: MQTTOptions.ProtocolVersion) async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let subscriber = try MQTTClient(options(broker, "sub", version: version))
        let publisher = try MQTTClient(options(broker, "pub", version: version))
        defer { subscriber.close(); publisher.close() }
        try await subscriber.connect()
        try await publisher.connect()
        try await subscriber.subscribe("tele/+/SENSOR")
        try await subscriber.subscribe("v3/#", qos: .atMostOnce)
        let payload = Array(#"{"ENERGY":{"Total":12.5}}"#.utf8)
        try await publisher.publish("tele/pump-1/SENSOR", payload: payload, qos: .atLeastOnce)
        let message = try await nextMessage(subscriber)
        #expect(message.topic == "tele/pump-1/SENSOR")
        #expect(message.payload == payload)
        #expect(message.retain == false)
        try await publisher.publish("v3/app@ttn/devices/wl-1/up", payload: [0, 255, 1], qos: .atMostOnce)
        let binary = try await nextMessage(subscriber)
        #expect(binary.topic == "v3/app@ttn/devices/wl-1/up")
        #expect(binary.payload == [0, 255, 1])
    }

    @Test("a QoS 1 publish completes only when the broker's PUBACK arrives")
    func qos1WaitsForPuback() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let client = try MQTTClient(options(broker, "qos1"))
        defer { client.close(); broker.resume() }
        try await client.connect()
        broker.pause()
        let done = Flag()
        let publishing = Task {
            try await client.publish("klimavagt/test/qos1", payload: Array("x".utf8), qos: .atLeastOnce)
            await done.set()
        }
        try await Task.sleep(for: .milliseconds(800))   // a window in which the publish must not return
        #expect(await done.value == false, "the publish returned while the broker could not acknowledge it")
        broker.resume()
        try await within(5, "the acknowledged publish") { try await publishing.value }
        #expect(await done.value == true)
    }

    @Test("after a broker restart the client reconnects and its subscriptions work again")
    func reconnectAndResubscribe() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let client = try MQTTClient(options(broker, "resub"))
        defer { client.close() }
        try await client.connect()
        try await client.subscribe("klimavagt/+/alerts/#")
        broker.stop()
        #expect(await eventually(5) { !client.connected && client.lastError != nil })
        try broker.start()
        try #require(await eventually(10) { client.connected }, "reconnection")
        // Retained, so that it reaches the subscription whether it is renewed before or after the publish.
        let publisher = try MQTTClient(options(broker, "pub"))
        defer { publisher.close() }
        try await publisher.connect()
        try await publisher.publish("klimavagt/site/alerts/skybrud/event", payload: Array("{}".utf8), retain: true)
        let message = try await nextMessage(client)
        #expect(message.topic == "klimavagt/site/alerts/skybrud/event")
    }

    @Test("a QoS 1 message published while the broker is down is delivered after it returns")
    func publishWhileDown() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let client = try MQTTClient(options(broker, "queued"))
        defer { client.close() }
        try await client.connect()
        broker.stop()
        #expect(await eventually(5) { !client.connected })
        let publishing = Task {
            try await client.publish("klimavagt/test/queued", payload: Array("kept".utf8), qos: .atLeastOnce, retain: true)
        }
        try broker.start()
        try await within(10, "the queued publish") { try await publishing.value }
        let reader = try MQTTClient(options(broker, "reader"))
        defer { reader.close() }
        try await reader.connect()
        try await reader.subscribe("klimavagt/test/queued")
        let message = try await nextMessage(reader)
        #expect(message.text == "kept")
        #expect(message.retain)
    }

    @Test("TLS with a CA generated for the test connects; a wrong CA is refused with a TLS error")
    func tls() async throws {
        let material = try TLSMaterial.generate()
        let other = try TLSMaterial.generate(caName: "some other CA")
        defer {
            try? FileManager.default.removeItem(at: material.directory)
            try? FileManager.default.removeItem(at: other.directory)
        }
        let broker = try MosquittoBroker(tls: material)
        defer { broker.stop() }
        var good = options(broker, "tls")
        good.tls = .init(caFile: material.caCertificate.path)
        let client = try MQTTClient(good)
        defer { client.close() }
        try await client.connect()
        try await client.subscribe("secure/#")
        try await client.publish("secure/x", payload: Array("over TLS".utf8))
        #expect(try await nextMessage(client).text == "over TLS")

        var wrong = options(broker, "tls-wrong")
        wrong.tls = .init(caFile: other.caCertificate.path)
        let refused = try MQTTClient(wrong)
        defer { refused.close() }
        let error = await #expect(throws: MQTTError.self) { try await refused.connect() }
        #expect(error?.kind == .tls)
        #expect(error?.text.isEmpty == false)

        var unverified = options(broker, "tls-noverify")
        unverified.tls = .init(caFile: other.caCertificate.path, verifyServer: false)
        let insecure = try MQTTClient(unverified)
        defer { insecure.close() }
        try await insecure.connect()
    }

    @Test("wrong credentials give a typed not-authorised error", arguments: [MQTTOptions.ProtocolVersion.v311, .v5])
    func wrongCredentials(version: MQTTOptions.ProtocolVersion) async throws {
        let broker = try MosquittoBroker(credentials: .init(username: "klimavagt", password: "rigtigt"))
        defer { broker.stop() }
        var bad = options(broker, "auth", version: version)
        bad.username = "klimavagt"
        bad.password = "forkert"
        let client = try MQTTClient(bad)
        defer { client.close() }
        let error = await #expect(throws: MQTTError.self) { try await client.connect() }
        #expect(error?.kind == .notAuthorized)
        #expect(error?.text.lowercased().contains("authori") == true)

        var good = bad
        good.password = "rigtigt"
        good.clientID += "-ok"
        let accepted = try MQTTClient(good)
        defer { accepted.close() }
        try await accepted.connect()
        #expect(accepted.connected)
    }

    @Test("with no broker listening, connect() fails with an unreachable error and start() keeps trying calmly")
    func brokerDown() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        broker.stop()
        let client = try MQTTClient(options(broker, "down"))
        let error = await #expect(throws: MQTTError.self) { try await client.connect() }
        #expect(error?.kind == .unreachable)
        client.close()
        client.close()

        var calm = options(broker, "calm")
        calm.reconnectInitial = .milliseconds(200)
        calm.reconnectMaximum = .seconds(1)
        let retrying = try MQTTClient(calm)
        let before = processCPUSeconds()
        retrying.start()
        try await Task.sleep(for: .seconds(2))   // the window whose CPU time is measured
        let spent = processCPUSeconds() - before
        #expect(retrying.connected == false)
        #expect(retrying.lastError?.kind == .unreachable)
        // Natively a few attempts cost milliseconds; the budget is in native CPU time, scaled under emulation.
        #expect(spent < TestTiming.seconds(0.5), "reconnecting to a missing broker used \(spent) s of CPU in 2 s")
        try broker.start()
        try #require(await eventually(10) { retrying.connected }, "connection once the broker is back")
        retrying.close()
        await #expect(throws: MQTTError.self) { try await retrying.publish("x", payload: []) }
    }
}

actor Flag {
    var value = false
    func set() { value = true }
}

func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}
