import ArgumentParser
import Foundation
import KlimavagtMQTT
import KlimavagtRuntime
import KlimavagtSystem

extension Klimavagt {
    /// MQTT diagnostics.
    struct MQTT: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "mqtt", abstract: "Check the broker the configuration names.", subcommands: [Probe.self])

        /// Connects, publishes and receives on a test topic, and reports the round trip or what went wrong.
        struct Probe: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Connect with the configuration's broker settings, publish and receive on a test topic, and report the round-trip time or the failure in plain words.")

            @OptionGroup var options: ConfigOptions

            @Option(help: "How many messages to send.")
            var count = 5

            func validate() throws {
                guard (1...1000).contains(count) else { throw ValidationError("--count must be between 1 and 1000") }
            }

            func run() async throws {
                let configuration = try options.load()
                var mqtt = configuration.mqtt
                mqtt.clientID = "\(mqtt.clientID)-probe-\(UUID().uuidString.prefix(6).lowercased())"
                mqtt.will = nil
                let target = "\(mqtt.host):\(mqtt.port) (MQTT \(mqtt.protocolVersion.rawValue)\(mqtt.tls == nil ? "" : ", TLS"))"
                let client: MQTTClient
                do {
                    client = try MQTTClient(mqtt)
                } catch {
                    fail("broker \(target): \(Self.explain(error))")
                }
                defer { client.close() }
                let started = ContinuousClock.now
                do {
                    try await client.connect()
                } catch {
                    fail("broker \(target): \(Self.explain(error))")
                }
                print("broker \(target): connected in \(Self.milliseconds(ContinuousClock.now - started))")
                let topic = configuration.topics.probe(String(UUID().uuidString.prefix(8).lowercased()))
                var roundTrips: [Duration] = []
                do {
                    try await client.subscribe(topic)
                    let messages = client.messages
                    for index in 0..<count {
                        let sent = ContinuousClock.now
                        try await client.publish(topic, payload: Array("probe \(index)".utf8), qos: .atLeastOnce)
                        let received = await Self.arrives(on: topic, text: "probe \(index)", in: messages, within: .seconds(5))
                        guard received else { break }
                        roundTrips.append(ContinuousClock.now - sent)
                    }
                } catch {
                    fail("on \(topic): \(Self.explain(error))")
                }
                guard roundTrips.count == count else {
                    fail("on \(topic): \(roundTrips.count) of \(count) messages came back within 5 s; the broker may not let this client subscribe or publish there (an ACL)")
                }
                let sorted = roundTrips.sorted()
                print("round trip on \(topic): \(sorted.count) messages, min \(Self.milliseconds(sorted.first!)), median \(Self.milliseconds(sorted[sorted.count / 2])), max \(Self.milliseconds(sorted.last!))")
            }

            /// Whether the message arrives before the time is up.
            static func arrives(on topic: String, text: String, in messages: MQTTInbox, within limit: Duration) async -> Bool {
                await first(within: limit) {
                    for await message in messages where message.topic == topic && message.text == text { return true }
                    return false
                } ?? false
            }

            func fail(_ message: String) -> Never {
                FileHandle.standardError.write(Data("klimavagt: \(message)\n".utf8))
                Foundation.exit(ExitStatus.unavailable)
            }

            static func milliseconds(_ duration: Duration) -> String {
                let ms = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
                return String(format: "%.1f ms", ms)
            }

            /// The failure in a technician's words, with libmosquitto's text after it.
            static func explain(_ error: MQTTError) -> String {
                let advice: String
                switch error.kind {
                case .unreachable: advice = "cannot reach the broker: check the host, the port, the network and that the broker runs"
                case .notAuthorized: advice = "the broker refused the user name or password (or this client is not allowed)"
                case .connectionRefused: advice = "the broker refused the connection (protocol version or client id)"
                case .tls: advice = "TLS failed: check ca_file, the broker's certificate and its host name, cert_file and key_file"
                case .timeout: advice = "the broker did not answer in time"
                default: advice = "the MQTT client failed"
                }
                return "\(advice) (\(error.text))"
            }
        }
    }
}
