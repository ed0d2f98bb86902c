import Approval
import ArgumentParser
import Foundation
import OnCallStore
import Testing
import TestSupport
@testable import shiftgate

/// The deploy files (cron/, deploy/) hold shiftgate command lines that no compiler checks. These tests
/// read each one — systemd `Exec*=` lines, crontab lines, the Containerfile's ENTRYPOINT and CMD, the
/// Kubernetes containers' command and args — and parse it with shiftgate's own argument parser, so a
/// renamed or removed flag fails here rather than in production. They also hold the files to the
/// decisions that make them work together: one cache file and one owner for sync and serve, the
/// documented variables, the hardening the units promise.
struct DeployFilesTests {
    @Test(arguments: DeployFiles.invocations)
    func commandLineParses(_ invocation: DeployedInvocation) {
        do {
            let command = try Shiftgate.parseAsRoot(invocation.arguments)
            #expect(type(of: command).configuration.commandName == invocation.arguments.first,
                    "\(invocation.source): `\(invocation.arguments.joined(separator: " "))` parsed as another command")
        } catch {
            let subcommands = Shiftgate.configuration.subcommands.compactMap { $0.configuration.commandName }
            let hint = subcommands.contains(invocation.arguments.first ?? "") ? "" : " (`\(invocation.arguments.first ?? "")` is not among Shiftgate's subcommands: \(subcommands.joined(separator: ", ")))"
            Issue.record("\(invocation.source): `shiftgate \(invocation.arguments.joined(separator: " "))` does not parse: \(Shiftgate.message(for: error))\(hint)")
        }
    }

    @Test func everyDeployFileCommandLineIsFound() {
        let found = Set(DeployFiles.invocations.map { "\($0.file) \($0.arguments.first ?? "")" })
        let expected: Set = [
            "cron/shiftgate-sync.service sync", "cron/shiftgate-drift.service sync", "cron/shiftgate-drift.service drift",
            "cron/shiftgate.cron sync", "cron/shiftgate.cron drift",
            "deploy/shiftgate-serve.service serve",
            "deploy/Containerfile serve",
            "deploy/kubernetes/deployment.yaml serve", "deploy/kubernetes/deployment.yaml sync",
            "deploy/kubernetes/deployment.yaml status",
            "deploy/kubernetes/postgres/webhook.yaml serve", "deploy/kubernetes/postgres/sync.yaml sync",
        ]
        #expect(expected.subtracting(found).isEmpty, "not found: \(expected.subtracting(found).sorted())")
        #expect(DeployFiles.invocations.filter { $0.file == "cron/shiftgate.cron" && $0.arguments.first == "sync" }.count == 2,
                "the crontab syncs every 5 minutes and before the daily drift report")
    }

    /// The daily drift compares with the snapshot of a day ago (by default drift compares the last two
    /// snapshots, 5 minutes apart), so every sync on the host keeps a day of 5-minute snapshots; they
    /// agree on --keep because each sync prunes to its own.
    @Test func hostSyncsKeepADayOfSnapshotsForTheDailyDrift() throws {
        let host = DeployFiles.invocations.filter { $0.file.hasPrefix("cron/") }
        var keeps: Set<Int> = []
        for invocation in host where invocation.arguments.first == "sync" {
            let sync = try #require(try Shiftgate.parseAsRoot(invocation.arguments) as? SyncCommand, "\(invocation.source)")
            keeps.insert(sync.keep)
        }
        #expect(keeps.count == 1, "cron/ syncs prune to different --keep values: \(keeps.sorted())")
        let drifts = host.filter { $0.arguments.first == "drift" }
        #expect(drifts.count == 2)
        for invocation in drifts {
            let drift = try #require(try Shiftgate.parseAsRoot(invocation.arguments) as? DriftCommand, "\(invocation.source)")
            let since = try #require(drift.since, "\(invocation.source): a daily report needs --since 24h")
            #expect(since.seconds >= 86_400, "\(invocation.source)")
            #expect(Double(keeps.min() ?? 0) * 300 > since.seconds, "\(invocation.source): --keep \(keeps.min() ?? 0) five-minute snapshots do not reach back \(since)")
        }
    }

    /// Sync and serve open one SQLite file (WAL), so every way of running them names the same file,
    /// and the systemd units and cron run as the one static user that owns it.
    @Test func syncAndServeShareOneCacheAndOneOwner() throws {
        let cache = "/var/lib/shiftgate/shiftgate.sqlite"
        let units = try DeployFiles.units().filter { unit in unit.values("ExecStart").contains { $0.contains(DeployFiles.binary) } }
        #expect(units.count >= 3)
        for unit in units {
            #expect(unit.values("User") == ["shiftgate"], "\(unit.path): User=")
            #expect(unit.values("Group") == ["shiftgate"], "\(unit.path): Group=")
            #expect(unit.values("StateDirectory") == ["shiftgate"], "\(unit.path): StateDirectory=")
            #expect(!unit.values("DynamicUser").contains("yes"), "\(unit.path): a dynamic user would not own the other units' cache")
            #expect(unit.values("Environment").contains("SHIFTGATE_DATABASE=\(cache)"), "\(unit.path): SHIFTGATE_DATABASE")
        }

        let crontab = try DeployFiles.text("cron/shiftgate.cron")
        #expect(crontab.split(separator: "\n").contains("SHIFTGATE_DATABASE=\(cache)"))
        for line in DeployFiles.cronEntries(crontab) {
            let fields = line.split(whereSeparator: \.isWhitespace)
            #expect(fields.count > 6 && fields[5] == "shiftgate", "cron/shiftgate.cron: '\(line)' is not `m h dom mon dow shiftgate command`")
            #expect(line.contains("\(fields[6]) --env-file /etc/shiftgate/shiftgate.env ") && fields[6] == "/usr/local/bin/shiftgate-cron",
                    "cron/shiftgate.cron: '\(line)' does not run through shiftgate-cron with the units' env file")
        }

        #expect(try DeployFiles.text("deploy/Containerfile").contains("SHIFTGATE_DATABASE=\(cache)"))
        let deployment = try DeployFiles.text("deploy/kubernetes/deployment.yaml")
        #expect(deployment.components(separatedBy: "value: \(cache)").count - 1 == 2, "both containers name the cache")
    }

    @Test func unitsCarryTheHardeningAndCredentials() throws {
        let hardening = [
            "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes", "CapabilityBoundingSet=",
            "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service",
            "EnvironmentFile=-/etc/shiftgate/shiftgate.env",
        ]
        let units = Dictionary(uniqueKeysWithValues: try DeployFiles.units().map { ($0.path, $0) })
        for path in ["cron/shiftgate-sync.service", "cron/shiftgate-drift.service", "deploy/shiftgate-serve.service"] {
            let unit = try #require(units[path], "\(path) is missing")
            for setting in hardening {
                #expect(unit.settings.contains(setting), "\(path): \(setting)")
            }
        }
        // The credential names are the ones SyncCommand and ServeCommand look for in $CREDENTIALS_DIRECTORY.
        #expect(units["cron/shiftgate-sync.service"]?.settings.contains("LoadCredential=pagerduty-key:/etc/shiftgate/pagerduty-key") == true)
        #expect(units["cron/shiftgate-drift.service"]?.settings.contains("LoadCredential=pagerduty-key:/etc/shiftgate/pagerduty-key") == true)
        #expect(units["deploy/shiftgate-serve.service"]?.settings.contains("LoadCredential=indent-webhook-secret:/etc/shiftgate/indent-webhook-secret") == true)
        #expect(units["deploy/shiftgate-serve.service"]?.settings.contains("Restart=on-failure") == true)
        for timer in ["cron/shiftgate-sync.timer", "cron/shiftgate-drift.timer"] {
            #expect(units[timer]?.settings.contains("Persistent=true") == true, "\(timer): Persistent=true")
            #expect(units[timer]?.values("RandomizedDelaySec").isEmpty == false, "\(timer): RandomizedDelaySec=")
        }
        // Drift found (exit 3) fails the unit; OnFailure= turns that into the alert.
        let onFailure = try #require(units["cron/shiftgate-drift.service"]?.values("OnFailure").first)
        let template = onFailure.replacingOccurrences(of: #"@[^.]*\.service$"#, with: "@.service", options: .regularExpression)
        #expect(units["cron/\(template)"] != nil, "OnFailure=\(onFailure) has no unit file in cron/")
    }

    /// The install steps build a release binary (cron/README.md's common setup); wherever the unit
    /// check is shown, it is run on that binary, and the script's own hint builds the same.
    @Test func verifyUnitsIsShownWithTheBinaryTheInstallStepsBuild() throws {
        let setup = try DeployFiles.text("cron/README.md")
        let build = try #require(setup.components(separatedBy: "\n").first { $0.hasPrefix("swift build ") })
        #expect(build.contains("-c release"))
        #expect(setup.contains("install -m 0755 .build/release/shiftgate /usr/local/bin/shiftgate"))
        var shown = 0
        for path in ["cron/README.md", "deploy/README.md", "deploy/verify-units.sh"] {
            let text = try DeployFiles.text(path)
            for piece in text.components(separatedBy: "verify-units.sh .build/").dropFirst() {
                shown += 1
                #expect(piece.hasPrefix("release/shiftgate"), "\(path): verify-units.sh .build/\(piece.prefix(20))… is not the release binary")
            }
        }
        #expect(shown >= 3)
        #expect(try DeployFiles.text("deploy/verify-units.sh").contains("(build it with: \(build.split(separator: "#")[0].trimmingCharacters(in: .whitespaces)))"))
    }

    @Test func dockerfileIsTheContainerfile() throws {
        #expect(try DeployFiles.text("deploy/Dockerfile") == DeployFiles.text("deploy/Containerfile"))
    }

    /// The example lists every variable shiftgate reads, and its commented values are the real defaults.
    @Test func environmentExampleDocumentsEveryVariable() throws {
        let example = DeployFiles.assignments(try DeployFiles.text("deploy/shiftgate.env.example"), commented: true)
        let documented = Set(example.map(\.name))
        let required: Set = ["SHIFTGATE_DATABASE", "PAGERDUTY_KEY", "PAGERDUTY_API_URL", "INDENT_WEBHOOK_SECRET", "LOG_LEVEL"]
        let read = try DeployFiles.variablesReadBySources().subtracting(["CREDENTIALS_DIRECTORY"])
        let missing = required.union(ApprovalPolicy.variables).union(read).subtracting(documented)
        #expect(missing.isEmpty, "deploy/shiftgate.env.example does not document \(missing.sorted())")
        #expect(example.allSatisfy { $0.commented }, "every line of the example stays commented out (the units set SHIFTGATE_DATABASE)")

        let values = Dictionary(example.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        #expect(values["SHIFTGATE_DATABASE"] == DatabaseOptions.defaultPath)
        #expect(values["LOG_LEVEL"] == "info")
        #expect(values["PAGERDUTY_API_URL"] == "https://api.pagerduty.com")
        #expect(try ApprovalPolicy(environment: values) == ApprovalPolicy(), "the example's AUTO_APPROVAL_* values are the defaults")
    }

    @Test func kubernetesConfigAndSecretMatchTheDeployment() throws {
        let configMap = DeployFiles.yamlStrings(try DeployFiles.text("deploy/kubernetes/configmap.yaml"), under: "data:")
        let known = Set(DeployFiles.assignments(try DeployFiles.text("deploy/shiftgate.env.example"), commented: true).map(\.name))
        #expect(Set(configMap.keys).subtracting(known).isEmpty, "unknown variables in configmap.yaml: \(Set(configMap.keys).subtracting(known).sorted())")
        #expect(Set(ApprovalPolicy.variables).isSubset(of: configMap.keys))
        #expect(throws: Never.self) { try ApprovalPolicy(environment: configMap) }

        let secret = DeployFiles.yamlStrings(try DeployFiles.text("deploy/kubernetes/secret.example.yaml"), under: "stringData:")
        #expect(Set(secret.keys) == ["PAGERDUTY_KEY", "INDENT_WEBHOOK_SECRET"])
        let deployment = try DeployFiles.text("deploy/kubernetes/deployment.yaml")
        let referenced = DeployFiles.matches(of: #"(?m)^\s*key:\s*(\S+)\s*$"#, in: deployment)
        #expect(Set(referenced) == Set(secret.keys), "secretKeyRef keys \(referenced) vs secret.example.yaml")
    }
    /// The PostgreSQL variant: three webhook replicas kept available through drains, one sync at a
    /// time, every secret from its Secret, and a database URL that parses and holds no password.
    @Test func kubernetesPostgresVariantSharesOneDatabase() throws {
        let webhook = try DeployFiles.text("deploy/kubernetes/postgres/webhook.yaml")
        let sync = try DeployFiles.text("deploy/kubernetes/postgres/sync.yaml")
        #expect(webhook.contains("kind: Deployment") && webhook.contains("\n  replicas: 3\n"))
        #expect(webhook.contains("kind: PodDisruptionBudget") && webhook.contains("minAvailable: 2"))
        #expect(sync.contains("kind: CronJob") && sync.contains("concurrencyPolicy: Forbid"))

        var urls: Set<String> = []
        for manifest in [webhook, sync] {
            let lines = manifest.components(separatedBy: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            for (index, line) in lines.enumerated() where line == "- name: SHIFTGATE_DATABASE" {
                let value = lines[index + 1].replacingOccurrences(of: "value: ", with: "")
                urls.insert(value)
            }
        }
        #expect(urls.count == 1, "the webhook and the sync name one database: \(urls.sorted())")
        for url in urls {
            guard case .postgres(let address) = try StoreAddress(url) else {
                Issue.record("\(url) is not a PostgreSQL URL")
                continue
            }
            #expect(address.tls == .verifyFull)
        }

        let secret = DeployFiles.yamlStrings(try DeployFiles.text("deploy/kubernetes/postgres/secret.example.yaml"), under: "stringData:")
        #expect(Set(secret.keys) == ["PGPASSWORD", "PAGERDUTY_KEY", "INDENT_WEBHOOK_SECRET"])
        let webhookKeys = Set(DeployFiles.matches(of: #"(?m)^\s*key:\s*(\S+)\s*$"#, in: webhook))
        let syncKeys = Set(DeployFiles.matches(of: #"(?m)^\s*key:\s*(\S+)\s*$"#, in: sync))
        #expect(webhookKeys == ["PGPASSWORD", "INDENT_WEBHOOK_SECRET"], "the webhook gets only what it needs")
        #expect(syncKeys == ["PGPASSWORD", "PAGERDUTY_KEY"], "the sync gets only what it needs")
        #expect(!webhook.contains("volumeMounts:\n            - name: cache"), "no cache volume: the cache is the database")
    }
}

/// A shiftgate command line found in a deploy file: where it is, and its arguments after the program.
struct DeployedInvocation: CustomTestStringConvertible, Sendable {
    var file: String
    var line: Int
    var arguments: [String]

    var source: String { "\(file):\(line)" }
    var testDescription: String { "\(source): shiftgate \(arguments.joined(separator: " "))" }
}

/// The crontab's jobs run as cron runs them: `sh -c` with the crontab's variables and nothing else,
/// through cron/shiftgate-cron, with a stub `shiftgate` that records what reaches it and exits as
/// told, a stub `logger` that records what is logged, and /etc/shiftgate and /var/lib/shiftgate moved
/// into a temporary directory.
@Suite(.serialized) struct CronJobTests {
    struct Outcome {
        var status: Int32
        var logged: [String]
        var seen: String
        var output: String
    }

    /// The two jobs of cron/shiftgate.cron, by the shiftgate command they start with.
    static func job(_ name: String) throws -> String {
        let crontab = try DeployFiles.text("cron/shiftgate.cron")
        return try #require(DeployFiles.cronEntries(crontab).first { $0.contains("shiftgate-cron") && $0.contains(" \(name) flock ") })
    }

    /// An env file as an operator writes it on Windows: CRLF, comments, a quoted value, names with spaces.
    static let envFile = "# shiftgate settings\r\nPAGERDUTY_API_URL=https://api.eu.pagerduty.com\r\n\r\n#LOG_LEVEL=trace\r\n"
        + "LOG_LEVEL=\"debug\"\r\nAUTO_APPROVAL_PAGERDUTY_SCHEDULES=SRE Primary, SRE Secondary\r\n; a comment\r\nnot a setting\r\n"

    func run(_ line: String, exits: [String: Int32] = [:], envFile: String? = CronJobTests.envFile,
             whileLockHeld: Bool = false) async throws -> Outcome {
        let directory = try TemporaryDirectory("shiftgate-cron")
        defer { directory.cleanup() }
        let fileManager = FileManager.default
        for folder in ["bin", "etc", "var"] { try fileManager.createDirectory(atPath: directory.path(folder), withIntermediateDirectories: true) }
        let seen = directory.path("seen")
        let stub = """
            #!/bin/sh
            {
                printf 'shiftgate %s\\n' "$*"
                printf 'PAGERDUTY_API_URL=[%s]\\n' "${PAGERDUTY_API_URL-unset}"
                printf 'LOG_LEVEL=[%s]\\n' "${LOG_LEVEL-unset}"
                printf 'SHIFTGATE_DATABASE=[%s]\\n' "${SHIFTGATE_DATABASE-unset}"
                printf 'AUTO_APPROVAL_PAGERDUTY_SCHEDULES=[%s]\\n' "${AUTO_APPROVAL_PAGERDUTY_SCHEDULES-unset}"
            } >> \(seen)
            echo "report of shiftgate $1"
            exit $(cat \(directory.path("exit-"))$1 2>/dev/null || echo 0)
            """
        let logger = "#!/bin/sh\nprintf '%s\\n' \"$*\" >> \(directory.path("logged"))\n"
        for (name, text) in [("bin/shiftgate", stub), ("bin/logger", logger)] {
            try text.write(toFile: directory.path(name), atomically: true, encoding: .utf8)
            try fileManager.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path(name))
        }
        for (command, code) in exits { try "\(code)".write(toFile: directory.path("exit-\(command)"), atomically: true, encoding: .utf8) }
        if let envFile { try envFile.write(toFile: directory.path("etc/shiftgate.env"), atomically: true, encoding: .utf8) }

        func moved(_ text: String) -> String {
            text.replacingOccurrences(of: "/usr/local/bin/shiftgate-cron", with: DeployFiles.root.appendingPathComponent("cron/shiftgate-cron").path)
                .replacingOccurrences(of: "/usr/local/bin/shiftgate", with: directory.path("bin/shiftgate"))
                .replacingOccurrences(of: "/etc/shiftgate/", with: directory.path("etc") + "/")
                .replacingOccurrences(of: "/var/lib/shiftgate", with: directory.path("var"))
        }
        // m h dom mon dow user, then the command.
        var rest = Substring(line)
        for _ in 0..<6 { rest = rest.drop { $0 == " " }.drop { $0 != " " } }
        let command = moved(String(rest.drop { $0 == " " }))
        var environment: [String: String] = [:]
        for assignment in DeployFiles.assignments(try DeployFiles.text("cron/shiftgate.cron"), commented: false) {
            environment[assignment.name] = moved(assignment.value)
        }
        environment["PATH"] = directory.path("bin") + ":/usr/bin:/bin"

        var holder: Process?
        if whileLockHeld {
            let process = Process()
            // One process holding the lock itself (no child of flock's left behind when it is ended).
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "exec 9>\"$0\" && flock 9 && exec sleep 30", directory.path("var/cron.lock")]
            try process.run()
            holder = process
            while !fileManager.fileExists(atPath: directory.path("var/cron.lock")) { try await Task.sleep(nanoseconds: 20_000_000) }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        defer { holder?.terminate() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let output = await readToEnd(out)
        await waitForExit(process)
        func read(_ name: String) -> String { (try? String(contentsOfFile: directory.path(name), encoding: .utf8)) ?? "" }
        return Outcome(status: process.terminationStatus, logged: read("logged").split(separator: "\n").map(String.init),
                       seen: read("seen"), output: String(decoding: output, as: UTF8.self))
    }

    @Test func theSyncJobLoadsTheEnvFileAsTheUnitsDo() async throws {
        let outcome = try await run(try Self.job("sync"))
        #expect(outcome.status == 0 && outcome.logged.isEmpty, "\(outcome)")
        #expect(outcome.seen.contains("shiftgate sync --quiet --keep 300"))
        #expect(outcome.seen.contains("PAGERDUTY_API_URL=[https://api.eu.pagerduty.com]\n"), "\(outcome.seen)")
        #expect(outcome.seen.contains("LOG_LEVEL=[debug]\n"))
        #expect(outcome.seen.contains("AUTO_APPROVAL_PAGERDUTY_SCHEDULES=[SRE Primary, SRE Secondary]\n"))
        #expect(!outcome.seen.contains("\r"))
        // The crontab's own variable stays when the file does not set it.
        #expect(outcome.seen.contains("SHIFTGATE_DATABASE=[") && outcome.seen.contains("/var/shiftgate.sqlite]"))
    }

    @Test func withoutAnEnvFileTheJobRunsOnItsCrontab() async throws {
        let outcome = try await run(try Self.job("sync"), envFile: nil)
        #expect(outcome.status == 0 && outcome.logged.isEmpty, "\(outcome)")
        #expect(outcome.seen.contains("PAGERDUTY_API_URL=[unset]"))
    }

    /// A long first sync: every tick meanwhile exits 75 (flock's lock or shiftgate's own), a skip.
    @Test func anotherSyncRunningIsLoggedAsSkippedNotFailed() async throws {
        let skipped = ["-t shiftgate -p cron.info shiftgate sync skipped: another sync is running (exit 75)"]
        let ownLock = try await run(try Self.job("sync"), exits: ["sync": 75])
        #expect(ownLock.status == 0 && ownLock.logged == skipped, "\(ownLock)")
        let cronLock = try await run(try Self.job("sync"), whileLockHeld: true)
        #expect(cronLock.status == 0 && cronLock.logged == skipped, "\(cronLock)")
        #expect(cronLock.seen.isEmpty, "shiftgate ran while the cron lock was held")
    }

    @Test func aFailedSyncIsLoggedAsAnError() async throws {
        for code: Int32 in [1, 4] {
            let outcome = try await run(try Self.job("sync"), exits: ["sync": code])
            #expect(outcome.status == code)
            #expect(outcome.logged == ["-t shiftgate -p cron.err shiftgate sync failed with exit \(code)"], "\(outcome)")
        }
    }

    @Test func driftFoundPrintsTheReportAndLogsAWarning() async throws {
        let outcome = try await run(try Self.job("drift"), exits: ["drift": 3])
        #expect(outcome.status == 3)
        #expect(outcome.logged.count == 1 && outcome.logged[0].hasPrefix("-t shiftgate -p cron.warning shiftgate drift found on-call drift (exit 3), report in "),
                "\(outcome)")
        #expect(outcome.output.contains("report of shiftgate sync\nreport of shiftgate drift"))
        #expect(outcome.seen.contains("PAGERDUTY_API_URL=[https://api.eu.pagerduty.com]"))
        let quiet = try await run(try Self.job("drift"))
        #expect(quiet.status == 0 && quiet.logged.isEmpty && quiet.output.isEmpty, "\(quiet)")
    }
}

/// Reads the deploy files. Paths are relative to the repository root, found from this file's path.
enum DeployFiles {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// Where every unit, crontab line and README installs the binary.
    static let binary = "/usr/local/bin/shiftgate"

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    /// Every command line, for the parameterized test. A file that cannot be read becomes a command
    /// line that cannot parse, so the failure shows with the file's name.
    static let invocations: [DeployedInvocation] = {
        var all: [DeployedInvocation] = []
        let readers: [(String, () throws -> [DeployedInvocation])] = [
            ("units", unitInvocations), ("cron/shiftgate.cron", cronInvocations),
            ("deploy/Containerfile", containerInvocations), ("deploy/kubernetes/deployment.yaml", kubernetesInvocations),
        ]
        for (name, read) in readers {
            do {
                all += try read()
            } catch {
                all.append(DeployedInvocation(file: name, line: 0, arguments: ["<unreadable: \(error)>"]))
            }
        }
        return all
    }()

    // MARK: systemd

    /// A unit file as `Key=value` settings, continuation lines joined.
    struct Unit {
        var path: String
        var settings: [String]
        var lines: [(line: Int, setting: String)]

        func values(_ key: String) -> [String] {
            settings.compactMap { $0.hasPrefix(key + "=") ? String($0.dropFirst(key.count + 1)) : nil }
        }
    }

    static func units() throws -> [Unit] {
        var units: [Unit] = []
        for directory in ["cron", "deploy"] {
            let names = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(directory).path)
            for name in names.sorted() where name.hasSuffix(".service") || name.hasSuffix(".timer") {
                let path = "\(directory)/\(name)"
                var lines: [(Int, String)] = []
                var pending: (start: Int, text: String)?
                for (index, raw) in try text(path).components(separatedBy: "\n").enumerated() {
                    let line = raw.trimmingCharacters(in: .whitespaces)
                    if pending == nil, line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") || line.hasPrefix("[") { continue }
                    var current = pending ?? (index + 1, "")
                    if line.hasSuffix("\\") {
                        current.text += line.dropLast() + " "
                        pending = current
                    } else {
                        current.text += line
                        lines.append((current.start, current.text))
                        pending = nil
                    }
                }
                units.append(Unit(path: path, settings: lines.map(\.1), lines: lines))
            }
        }
        return units
    }

    static func unitInvocations() throws -> [DeployedInvocation] {
        var found: [DeployedInvocation] = []
        for unit in try units() {
            for (line, setting) in unit.lines where setting.hasPrefix("Exec") {
                guard let equals = setting.firstIndex(of: "=") else { continue }
                // Exec prefixes: - ignore failure, @ argv0, : no expansion, + ! privileges.
                let command = setting[setting.index(after: equals)...].drop { "-@:+!|".contains($0) }
                var words = splitWords(String(command))
                guard words.first == binary else { continue }
                words.removeFirst()
                found.append(DeployedInvocation(file: unit.path, line: line, arguments: words))
            }
        }
        return found
    }

    // MARK: cron

    /// The schedule lines of a crontab: not comments, blank lines or `NAME=value` settings.
    static func cronEntries(_ crontab: String) -> [String] {
        crontab.components(separatedBy: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { line in
            !line.isEmpty && !line.hasPrefix("#") && line.range(of: #"^[A-Za-z_][A-Za-z0-9_]*="#, options: .regularExpression) == nil
        }
    }

    /// Each `/usr/local/bin/shiftgate ...` inside a crontab line, up to the next shell operator or quote.
    static func cronInvocations() throws -> [DeployedInvocation] {
        let crontab = try text("cron/shiftgate.cron")
        var found: [DeployedInvocation] = []
        for (index, line) in crontab.components(separatedBy: "\n").enumerated() where cronEntries(line).count == 1 {
            var rest = Substring(line)
            while let range = rest.range(of: binary + " ") {
                let tail = rest[range.upperBound...]
                let end = tail.firstIndex { ";&|'\"<>()`".contains($0) } ?? tail.endIndex
                found.append(DeployedInvocation(file: "cron/shiftgate.cron", line: index + 1, arguments: splitWords(String(tail[..<end]))))
                rest = tail[end...]
            }
        }
        return found
    }

    // MARK: containers

    static func containerInvocations() throws -> [DeployedInvocation] {
        let lines = try text("deploy/Containerfile").components(separatedBy: "\n")
        var entrypoint: [String]?
        var found: [DeployedInvocation] = []
        for (index, line) in lines.enumerated() {
            if line.hasPrefix("ENTRYPOINT ") {
                entrypoint = try jsonList(String(line.dropFirst("ENTRYPOINT ".count)))
            } else if line.hasPrefix("CMD ") {
                found.append(DeployedInvocation(file: "deploy/Containerfile", line: index + 1, arguments: try jsonList(String(line.dropFirst(4)))))
            }
        }
        guard entrypoint == ["shiftgate"] else { throw DeployFileError("deploy/Containerfile: ENTRYPOINT must be [\"shiftgate\"], is \(entrypoint ?? [])") }
        return found
    }

    /// Containers' `command:` and `args:`, written as flow lists (`args: ["sync", "--every", "5m"]`).
    static let kubernetesManifests = [
        "deploy/kubernetes/deployment.yaml", "deploy/kubernetes/postgres/webhook.yaml", "deploy/kubernetes/postgres/sync.yaml",
    ]

    static func kubernetesInvocations() throws -> [DeployedInvocation] {
        try kubernetesManifests.flatMap(kubernetesInvocations(in:))
    }

    static func kubernetesInvocations(in path: String) throws -> [DeployedInvocation] {
        var found: [DeployedInvocation] = []
        for (index, line) in try text(path).components(separatedBy: "\n").enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            for key in ["command:", "args:"] where trimmed.hasPrefix(key) || trimmed.hasPrefix("- " + key) {
                let value = trimmed[trimmed.range(of: key)!.upperBound...].trimmingCharacters(in: .whitespaces)
                guard value.hasPrefix("[") else { throw DeployFileError("\(path):\(index + 1): write \(key) as a flow list, [\"...\", ...]") }
                var words = try jsonList(value)
                if key == "command:" {
                    guard words.first == "shiftgate" || words.first == binary else { continue }
                    words.removeFirst()
                }
                found.append(DeployedInvocation(file: path, line: index + 1, arguments: words))
            }
        }
        return found
    }

    // MARK: configuration

    /// `NAME=value` lines (with `commented`, also `#NAME=value`), in order.
    static func assignments(_ text: String, commented: Bool) -> [(name: String, value: String, commented: Bool)] {
        text.components(separatedBy: "\n").compactMap { line in
            var body = Substring(line.trimmingCharacters(in: .whitespaces))
            let isCommented = body.hasPrefix("#")
            if isCommented {
                guard commented else { return nil }
                body = body.dropFirst()
            }
            guard body.range(of: #"^[A-Z][A-Z0-9_]*="#, options: .regularExpression) != nil, let equals = body.firstIndex(of: "=") else { return nil }
            return (String(body[..<equals]), String(body[body.index(after: equals)...]), isCommented)
        }
    }

    /// `KEY: "value"` pairs indented under a top-level `data:` or `stringData:` line.
    static func yamlStrings(_ text: String, under section: String) -> [String: String] {
        var result: [String: String] = [:]
        var inside = false
        for line in text.components(separatedBy: "\n") {
            if !line.hasPrefix(" "), !line.isEmpty { inside = line == section; continue }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard inside, !trimmed.hasPrefix("#"), let colon = trimmed.firstIndex(of: ":") else { continue }
            let value = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            result[String(trimmed[..<colon])] = value.count >= 2 && value.hasPrefix("\"") && value.hasSuffix("\"") ? String(value.dropFirst().dropLast()) : value
        }
        return result
    }

    /// Variables the shiftgate code reads as `environment["NAME"]` (the simulator's own aside).
    static func variablesReadBySources() throws -> Set<String> {
        let sources = root.appendingPathComponent("Sources")
        var names: Set<String> = []
        guard let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil) else { return names }
        for case let file as URL in files where file.pathExtension == "swift" && !file.path.contains("imulator") {
            names.formUnion(matches(of: #"environment\["([A-Z][A-Z0-9_]*)"\]"#, in: try String(contentsOf: file, encoding: .utf8)))
        }
        return names
    }

    // MARK: helpers

    /// The first capture group of each match.
    static func matches(of pattern: String, in text: String) -> [String] {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return [] }
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
            Range(match.range(at: 1), in: text).map { String(text[$0]) }
        }
    }

    static func jsonList(_ text: String) throws -> [String] {
        try JSONDecoder().decode([String].self, from: Data(text.utf8))
    }

    /// Splits a command line into words as systemd and sh do for these simple lines: whitespace
    /// separates, single and double quotes group, a backslash escapes the next character.
    static func splitWords(_ text: String) -> [String] {
        var words: [String] = []
        var word = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for character in text {
            if escaped {
                word.append(character); escaped = false
            } else if character == "\\", quote != "'" {
                escaped = true; inWord = true
            } else if let open = quote {
                if character == open { quote = nil } else { word.append(character) }
            } else if character == "'" || character == "\"" {
                quote = character; inWord = true
            } else if character.isWhitespace {
                if inWord { words.append(word); word = ""; inWord = false }
            } else {
                word.append(character); inWord = true
            }
        }
        if inWord { words.append(word) }
        return words
    }
}

struct DeployFileError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
