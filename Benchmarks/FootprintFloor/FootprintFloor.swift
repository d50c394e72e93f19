import ArgumentParser
import CMosquittoFloor
import Glibc
import Logging
import ServiceLifecycle

/// The least the design card's stack costs when idle, as a reference for the agent's footprint: an argument parser,
/// a logger, a service group that waits for SIGTERM, and a libmosquitto session kept by libmosquitto's own thread.
/// No configuration, store, rules or outbox.
@main
struct FootprintFloor: AsyncParsableCommand {
    @Option(help: "The broker's port on 127.0.0.1.")
    var port: Int32 = 1883

    func run() async throws {
        let logger = Logger(label: "footprint-floor")
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: BrokerSession(port: port))], gracefulShutdownSignals: [.sigterm],
            logger: logger))
        try await group.run()
    }
}

/// A libmosquitto session from start to SIGTERM.
struct BrokerSession: Service {
    let port: Int32

    func run() async throws {
        mosquitto_lib_init()
        guard let handle = mosquitto_new("footprint-floor", true, nil) else { throw ExitCode.failure }
        guard mosquitto_connect(handle, "127.0.0.1", port, 60) == MOSQ_ERR_SUCCESS.rawValue,
              mosquitto_loop_start(handle) == MOSQ_ERR_SUCCESS.rawValue
        else {
            mosquitto_destroy(handle)
            throw ExitCode.failure
        }
        try? await gracefulShutdown()
        mosquitto_disconnect(handle)
        mosquitto_loop_stop(handle, false)
        mosquitto_destroy(handle)
        mosquitto_lib_cleanup()
    }
}
