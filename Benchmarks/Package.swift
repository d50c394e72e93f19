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
    ],
    targets: [
        .target(name: "BenchmarkSupport", path: "BenchmarkSupport"),
        .executableTarget(
            name: "AlertLatency",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KlimavagtRuntime", package: "klimavagt"),
            ],
            path: "AlertLatency",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "MQTTLoad",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KlimavagtRuntime", package: "klimavagt"),
            ],
            path: "MQTTLoad",
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
            dependencies: ["BenchmarkSupport", .product(name: "Benchmark", package: "benchmark")],
            path: "Footprint",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
