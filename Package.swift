// swift-tools-version:6.1
import PackageDescription

// Dependency direction: executables → Core → Neural and the C shims. Neural imports only NeuralVNNI (its
// run-time-dispatched AVX-512 kernels), which imports only the CPrefetch shim.
let package = Package(
    name: "Twin",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "twin", targets: ["Producer"]),
        .executable(name: "twin-worker", targets: ["Worker"]),
        .executable(name: "twin-scheduler", targets: ["Scheduler"]),
        .library(name: "Core", targets: ["Core"]),
        .library(name: "Neural", targets: ["Neural"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-numerics.git", from: "1.1.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // C shims: system libraries found through pkg-config; ops/install installs the apt packages.
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLibXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),
        .target(name: "CCurl", linkerSettings: [.linkedLibrary("curl"), .linkedLibrary("z")]),  // z: gunzip of saved pages

        // The decoder's AVX-512 VNNI loops, compiled for the earliest VNNI target; Neural calls them only
        // after checking the CPU at run time, so the binaries still run on any AVX2 CPU.
        .target(name: "CPrefetch"),
        .target(
            name: "NeuralVNNI",
            dependencies: ["CPrefetch"],
            swiftSettings: [
                .unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release)),
                .unsafeFlags(["-target-cpu", "cascadelake"], .when(platforms: [.linux], configuration: .release)),
                .define("NEURAL_VNNI", .when(platforms: [.linux], configuration: .release)),
            ]
        ),
        .target(
            name: "Neural",
            dependencies: ["COpenBLAS", "NeuralVNNI", .product(name: "Numerics", package: "swift-numerics")],
            swiftSettings: [
                .unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release)),
                // AVX2/FMA (x86-64 Linux, the deployment target): the decoder's quantised kernels run 3.8×
                // faster than on baseline SSE2; the binary then needs a Haswell-or-later CPU.
                .unsafeFlags(["-target-cpu", "haswell"], .when(platforms: [.linux], configuration: .release)),
                // The decoder's quantised dot products use AVX2 intrinsics only where haswell is targeted.
                .define("NEURAL_AVX2", .when(platforms: [.linux], configuration: .release)),
            ]
        ),
        .target(
            name: "Core",
            dependencies: [
                "CHiredis", "CLibPQ", "CCurl", "CLibXML2", "Neural",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "Producer",
            dependencies: ["Core", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "Worker",
            dependencies: ["Core", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "Scheduler",
            dependencies: ["Core", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "NeuralTests", dependencies: ["Neural"], resources: [.copy("Fixtures")]),
        .testTarget(name: "CoreTests", dependencies: ["Core"]),
    ]
)
