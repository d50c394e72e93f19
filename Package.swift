// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "klimavagt",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "klimavagt", targets: ["klimavagt"]),
        // For the separate benchmark package in Benchmarks/.
        .library(name: "KlimavagtRuntime", targets: ["KlimavagtRuntime", "KlimavagtCore", "KlimavagtMQTT"]),
        // The tests' harness (a private broker, child processes), shared with the benchmarks.
        .library(name: "KlimavagtTestSupport", targets: ["KlimavagtTestSupport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
    ],
    targets: [
        // System libraries: headers and link flags come from pkg-config; Debian's -dev packages provide them.
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),
        .systemLibrary(
            name: "CGPIOD",
            pkgConfig: "libgpiod",
            providers: [.apt(["libgpiod-dev"])]
        ),
        // Pure Swift: samples, rolling windows, rules and alert lifecycle. No C, no I/O, no wall clock.
        .target(name: "KlimavagtCore"),
        // The small system layer over Glibc: errno as an error, Unix socket addresses, the stop pipe of a poll thread.
        .target(name: "KlimavagtSystem"),
        .target(
            name: "KlimavagtMQTT",
            dependencies: ["CMosquitto", "KlimavagtSystem"]
        ),
        .target(
            name: "KlimavagtGPIO",
            dependencies: ["CGPIOD", "KlimavagtSystem"]
        ),
        .target(
            name: "KlimavagtRuntime",
            dependencies: [
                "KlimavagtCore",
                "KlimavagtMQTT",
                "KlimavagtGPIO",
                "KlimavagtSystem",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        .executableTarget(
            name: "klimavagt",
            dependencies: [
                "KlimavagtRuntime",
                "KlimavagtSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Real test peers: a private mosquitto broker on a random loopback port and TLS material made by openssl.
        .target(name: "KlimavagtTestSupport", path: "Tests/KlimavagtTestSupport"),
        // Writes to a store until it is killed: the store's crash test runs it.
        .executableTarget(
            name: "klimavagt-store-soak",
            dependencies: ["KlimavagtRuntime", "KlimavagtCore", .product(name: "Logging", package: "swift-log")],
            path: "Tests/StoreSoak"
        ),
        .testTarget(
            name: "KlimavagtCoreTests",
            dependencies: ["KlimavagtCore", "KlimavagtTestSupport",
                           .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(name: "KlimavagtMQTTTests", dependencies: ["KlimavagtMQTT", "KlimavagtTestSupport"]),
        .testTarget(name: "KlimavagtGPIOTests", dependencies: ["KlimavagtGPIO", "KlimavagtCore"]),
        .testTarget(
            name: "KlimavagtRuntimeTests",
            dependencies: [
                "KlimavagtRuntime", "KlimavagtMQTT", "KlimavagtCore", "KlimavagtSystem", "KlimavagtTestSupport",
                .product(name: "Yams", package: "Yams"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// MARK: - Fuzzing (`make fuzz`, Tests/Fuzz/): libFuzzer harnesses, one executable each.
// An ordinary `swift build` builds them too: their main runs corpus files given as arguments once each (a regression
// check). Built with `-Xswiftc -DFUZZING -Xswiftc -sanitize=fuzzer,address` their main runs libFuzzer's driver.
let fuzzHarnesses = ["payload", "config", "trace", "control"]
package.targets.append(.target(name: "KlimavagtFuzzSupport", path: "Tests/Fuzz/Support"))
for harness in fuzzHarnesses {   // Tests/Fuzz/Payload/ holds PayloadFuzz.swift, its seeds/ and payload.dict
    package.targets.append(.executableTarget(
        name: "klimavagt-fuzz-\(harness)", dependencies: ["KlimavagtRuntime", "KlimavagtCore", "KlimavagtFuzzSupport"],
        path: "Tests/Fuzz/\(harness.prefix(1).uppercased() + harness.dropFirst())", exclude: ["seeds", "\(harness).dict"]))
}
// The acceptance run over a real broker: mutated payloads published to a private mosquitto and a running agent.
package.targets.append(.executableTarget(
    name: "klimavagt-broker-fuzz", dependencies: ["KlimavagtMQTT", "KlimavagtRuntime", "KlimavagtTestSupport", "KlimavagtFuzzSupport"],
    path: "Tests/BrokerFuzz"))
