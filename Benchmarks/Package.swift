// swift-tools-version:6.1
// Benchmarks live in their own package so that CI's build of klimavagt does not build the benchmark tooling.
// Run: cd Benchmarks && swift package --allow-writing-to-package-directory benchmark
import PackageDescription

let package = Package(
    name: "klimavagt-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "klimavagt", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .executableTarget(
            name: "AlertLatency",
            dependencies: [
                .product(name: "KlimavagtTestSupport", package: "klimavagt"),
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KlimavagtRuntime", package: "klimavagt"),
            ],
            path: "AlertLatency",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "MQTTLoad",
            dependencies: [
                .product(name: "KlimavagtTestSupport", package: "klimavagt"),
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KlimavagtRuntime", package: "klimavagt"),
            ],
            path: "MQTTLoad",
            exclude: ["peer.py", "collectd-root"],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
            .executableTarget(
            name: "Store",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KlimavagtRuntime", package: "klimavagt"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Store",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
            .executableTarget(
            name: "Footprint",
            dependencies: [.product(name: "KlimavagtTestSupport", package: "klimavagt"), .product(name: "Benchmark", package: "benchmark")],
            path: "Footprint",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The floor the Footprint benchmark compares the agent with: only what the design card fixes, idle.
        .systemLibrary(name: "CMosquittoFloor", path: "CMosquittoFloor", pkgConfig: "libmosquitto",
                       providers: [.apt(["libmosquitto-dev"])]),
        .executableTarget(
            name: "footprint-floor",
            dependencies: [
                "CMosquittoFloor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "FootprintFloor"
        ),
    ]
)
