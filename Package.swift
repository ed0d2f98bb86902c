// swift-tools-version:6.1
// Shiftgate: a PagerDuty on-call cache (sync) and a cache-only access-approval webhook (serve).
// Data flows one way: PagerDuty -> Sync -> OnCallStore -> Approval -> Server; Drift reads the store.
import PackageDescription

let package = Package(
    name: "shiftgate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "shiftgate", targets: ["shiftgate"]),
        .executable(name: "pagerduty-simulator", targets: ["pagerduty-simulator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // RFC 3339 in and out (PagerDuty's, Indent's and Shiftgate's own times), and times for people.
        .target(name: "Timestamps"),
        // JSON: a strict reader, a compact writer and the value they share (the webhook's bodies and
        // replies, the simulator's replies).
        .target(name: "JSON"),
        // Untrusted text made safe to print: one line, nothing a terminal acts on (log lines, text output).
        .target(name: "SafeText"),
        // swift-log's StreamLogHandler line, cheaper, with an optional background writer (serve).
        .target(name: "LineLog", dependencies: [
            "SafeText",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // What every client of a rate-limited API needs: pacing (a token bucket a 429 can pause),
        // at most N in flight, backoff with jitter, Retry-After, a time budget. Knows no API.
        .target(name: "Pacing"),
        // REST client for PagerDuty: wire types, pagination, retries, pacing. Knows no SQLite.
        .target(name: "PagerDuty", dependencies: [
            "Timestamps", "Pacing",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The cache's value types and the CacheStore protocol every engine implements. Knows no engine.
        .target(name: "OnCallStore"),
        // The SQLite engine (GRDB): migrations, records, one write per snapshot, focused reads.
        .target(name: "SQLiteStore", dependencies: [
            "OnCallStore",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // The PostgreSQL cache behind OnCallStore's CacheStore: several `serve` replicas and one
        // `sync` sharing one cache and one audit log.
        .target(name: "PostgresStore", dependencies: [
            "OnCallStore",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // PagerDuty -> OnCallStore, as one snapshot.
        .target(name: "Sync", dependencies: [
            "PagerDuty", "Pacing", "OnCallStore",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The approval decision (pure), the rules file it follows, and Indent's webhook protocol.
        .target(name: "Approval", dependencies: [
            "OnCallStore", "JSON", "Timestamps",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Yams", package: "Yams"),
        ]),
        // Grants (pure core): who belongs in each grant's group at an instant, the next instant that
        // changes, and the plan of adds and removes against a target's members and the ledger.
        .target(name: "Grants", dependencies: ["OnCallStore", "Approval", "Timestamps"]),
        // Snapshot diff (pure) and its renderers.
        .target(name: "Drift", dependencies: ["OnCallStore", "Timestamps", "SafeText"], exclude: ["DRIFT-JSON.md"]),
        // The Hummingbird webhook application.
        .target(name: "Server", dependencies: [
            "Approval", "JSON", "OnCallStore", "Timestamps",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // A stand-in PagerDuty REST API for tests, the demo and benchmarks.
        .target(name: "PagerDutySimulator", dependencies: [
            "PagerDuty", "JSON", "Timestamps",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "pagerduty-simulator", dependencies: [
            "PagerDutySimulator",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Hummingbird", package: "hummingbird"),
        ]),
        .executableTarget(name: "shiftgate", dependencies: [
            "PagerDuty", "OnCallStore", "SQLiteStore", "PostgresStore", "Sync", "Approval", "Drift", "Server", "PagerDutySimulator", "LineLog", "Timestamps", "SafeText",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),

        // Benchmarks: not tests; they print numbers (see BENCHMARKS.md). The per-request PagerDuty
        // baseline lives here, not in the product.
        .executableTarget(name: "shiftgate-bench", dependencies: [
            "Timestamps", "JSON", "PagerDuty", "OnCallStore", "SQLiteStore", "PostgresStore", "Approval", "Drift", "PagerDutySimulator",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
        ], path: "Benchmarks/shiftgate-bench"),

        // Sets the test bundle's default parallelization width before Swift Testing starts (C: a
        // constructor runs before the runner reads its environment). See TestEnvironment.c.
        .target(name: "TestEnvironment", path: "Tests/TestEnvironment"),
        // Fixtures shared by the test targets: a live simulator on loopback, temporary databases.
        .target(name: "TestSupport", dependencies: [
            "TestEnvironment",
            "PagerDutySimulator", "OnCallStore", "SQLiteStore", "Approval", "Server", "Timestamps",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Tests/TestSupport"),
        .testTarget(name: "TimestampsTests", dependencies: ["Timestamps"]),
        .testTarget(name: "PacingTests", dependencies: ["Pacing"]),
        .testTarget(name: "JSONTests", dependencies: ["JSON", "TestSupport"]),
        .testTarget(name: "PagerDutyTests", dependencies: ["PagerDuty", "Timestamps", "TestSupport"]),
        .testTarget(name: "PagerDutySimulatorTests", dependencies: ["Timestamps", "PagerDutySimulator", "PagerDuty", "TestSupport"]),
        .testTarget(name: "SQLiteStoreTests", dependencies: ["SQLiteStore", "OnCallStore", "TestSupport"]),
        .testTarget(name: "PostgresStoreTests", dependencies: [
            "PostgresStore", "SQLiteStore", "OnCallStore", "TestSupport",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // What every CacheStore engine promises, run against SQLite and PostgreSQL alike.
        .testTarget(name: "StoreContractTests", dependencies: [
            "OnCallStore", "SQLiteStore", "PostgresStore", "TestSupport",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SyncTests", dependencies: ["SQLiteStore", "Timestamps", "Sync", "PagerDuty", "PagerDutySimulator", "OnCallStore", "Drift", "Approval", "TestSupport"]),
        .testTarget(name: "ApprovalTests", dependencies: ["JSON", "Timestamps", "Approval", "OnCallStore", "TestSupport"]),
        .testTarget(name: "GrantsTests", dependencies: ["Grants", "Approval", "OnCallStore", "Timestamps"]),
        .testTarget(name: "DriftTests", dependencies: ["Drift", "OnCallStore"]),
        .testTarget(name: "LineLogTests", dependencies: [
            "LineLog", "SafeText",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "ServerTests", dependencies: [
            "SQLiteStore", "Timestamps", "Server", "Approval", "OnCallStore", "Sync", "PagerDuty", "PagerDutySimulator", "TestSupport",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
        ]),
        .testTarget(name: "ReliabilityTests", dependencies: [
            "SQLiteStore", "PostgresStore", "Timestamps", "JSON", "Server", "Approval", "OnCallStore", "Sync", "PagerDuty", "PagerDutySimulator", "TestSupport",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
        .testTarget(name: "ShiftgateCLITests", dependencies: [
            "SQLiteStore", "PostgresStore", "shiftgate", "TestSupport", "OnCallStore", "PagerDutySimulator", "Timestamps", "Approval",
            .product(name: "Logging", package: "swift-log"),
        ]),
    ]
)
