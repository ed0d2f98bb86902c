import Foundation
import OnCallStore
import Testing
@testable import Approval

/// The rules file's `targets:` and `grants:` sections (#29): what the reader accepts, and every
/// error with its line and column.
@Suite struct GrantsRulesFileTests {
    func parse(_ text: String) throws(RulesFileError) -> RuleSet {
        try RulesFile.parse(text, file: "rules.yaml", defaults: ApprovalPolicy())
    }

    static let issueExample = """
        targets:
          prod-db:                                  # a name; grants refer to it
            kind: postgres                          # this issue: postgres, exec
            url: postgres://shiftgate_grants@db.internal:5432/postgres?sslmode=verify-full
            password_file: /run/credentials/shiftgate-grants/prod-db   # or password_env: NAME, or PGPASSWORD
            user: "{email_local}"                   # how a PagerDuty user is named in this target
          hook:
            kind: exec
            command: [/usr/local/bin/oncall-groups, --verbose]
            timeout: 30s                            # default 30s
        grants:
          - name: sre-prod-db                       # unique; in logs, audit, metrics, `grants status`
            schedules: [SRE Primary, SRE Secondary] # ids or names, as in rules; several feed one group
            max_escalation_level: 1                 # optional, as in rules
            target: prod-db
            group: oncall_admin                     # the group / role / team in the target
            lead: 5m                                # optional: add this long before the stretch starts
            grace: 15m                              # optional: keep this long after it ends
            exclusive: false                        # optional: true = the group holds exactly the on-call people
            on_stale: revoke                        # optional: revoke (default) | keep
        """

    /// The issue's example, read as written: no `rules:` needed beside `grants:`.
    @Test func readsTheIssuesExample() throws {
        let file = try parse(Self.issueExample)
        #expect(file.rules.isEmpty)
        #expect(file.targets.map(\.name) == ["prod-db", "hook"])
        let database = try #require(file.target(named: "prod-db"))
        #expect(database.kind == .postgres)
        #expect(database.url == "postgres://shiftgate_grants@db.internal:5432/postgres?sslmode=verify-full")
        #expect(database.credential == .file("/run/credentials/shiftgate-grants/prod-db"))
        #expect(database.naming == .template("{email_local}"))
        #expect(database.timeout == 30)
        #expect(database.location == SourceLocation(line: 2, column: 3))
        let hook = try #require(file.target(named: "hook"))
        #expect(hook.kind == .exec && hook.command == ["/usr/local/bin/oncall-groups", "--verbose"] && hook.naming == .default)
        #expect(file.grants == [GrantRule(name: "sre-prod-db", schedules: ["SRE Primary", "SRE Secondary"], maxEscalationLevel: 1, target: "prod-db",
                                          group: "oncall_admin", lead: 300, grace: 900, exclusive: false, onStale: .revoke,
                                          location: SourceLocation(line: 12, column: 5),
                                          scheduleLocations: [SourceLocation(line: 13, column: 17), SourceLocation(line: 13, column: 30)])])
        // A grants-only file makes sync read the grants' schedules, and nothing approves.
        #expect(file.syncScope == ["SRE Primary", "SRE Secondary"])
    }

    /// Defaults: user {email}, timeout 30s, no lead or grace, not exclusive, revoke; password_env.
    @Test func readsTheDefaultsAndTheOtherForms() throws {
        let file = try parse("""
            rules:
              - name: all
                resources: [{kind: "*"}]
                schedules: [Primary]
            targets:
              db:
                kind: postgres
                url: postgresql://grants@127.0.0.1/postgres
                password_env: PROD_DB_PASSWORD
              mapped:
                kind: exec
                command: [/bin/true]
                map_file: /etc/shiftgate/people.yaml
            grants:
              - {name: a, schedules: [PSRE1], target: db, group: admins}
              - {name: b, schedules: [Ops], target: mapped, group: ops, exclusive: true, on_stale: keep, lead: 0s, grace: 1h30m}
            """)
        #expect(file.rules.map(\.name) == ["all"])
        #expect(file.target(named: "db")?.credential == .environment("PROD_DB_PASSWORD"))
        #expect(file.target(named: "db")?.naming == .template("{email}"))
        #expect(file.target(named: "mapped")?.naming == .mapFile("/etc/shiftgate/people.yaml"))
        #expect(file.grants[0].lead == 0 && file.grants[0].grace == 0 && !file.grants[0].exclusive && file.grants[0].onStale == .revoke)
        #expect(file.grants[1].exclusive && file.grants[1].onStale == .keep && file.grants[1].grace == 5400)
        #expect(file.syncScope == ["Primary", "PSRE1", "Ops"])
    }

    typealias Bad = RulesFileTests.Bad

    /// A valid file to spoil: line 1 `targets:`, 2–5 target db, 6–8 target hook, 9 `grants:`,
    /// 10–13 grant g (each line added to a part moves the lines after it).
    static func file(target db: String = "    kind: postgres\n    url: postgres://grants@db.internal/postgres\n    user: \"{email}\"\n",
                     hook: String = "    kind: exec\n    command: [/bin/hook]\n",
                     grant: String = "    schedules: [Primary]\n    target: db\n    group: admins\n") -> String {
        "targets:\n  db:\n" + db + "  hook:\n" + hook + "grants:\n  - name: g\n" + grant
    }

    static let bad: [Bad] = [
        Bad(label: "an unknown target key", text: file(hook: "    kind: exec\n    command: [/bin/hook]\n    timout: 5s\n"), line: 9, column: 5,
            says: "unknown key 'timout' in target 'hook'"),
        Bad(label: "an unknown grant key", text: file(grant: "    schedules: [Primary]\n    target: db\n    group: admins\n    graces: 5m\n"), line: 14, column: 5,
            says: "unknown key 'graces' in grant 1"),
        Bad(label: "an unknown target kind", text: file(hook: "    kind: ldap\n    command: [/bin/hook]\n"), line: 7, column: 11, says: "unknown kind 'ldap'"),
        Bad(label: "a kind not built yet", text: file(hook: "    kind: okta\n"), line: 7, column: 11, says: "kind 'okta' of target 'hook' is not built yet"),
        Bad(label: "a target without a kind", text: file(hook: "    command: [/bin/hook]\n"), line: 7, column: 5, says: "has no 'kind'"),
        Bad(label: "a grant naming an unknown target", text: file(grant: "    schedules: [Primary]\n    target: dbs\n    group: admins\n"), line: 12, column: 13,
            says: "names target 'dbs', which 'targets:' does not declare (declared: db, hook)"),
        Bad(label: "a duplicate grant name", text: file() + "  - name: g\n    schedules: [Other]\n    target: hook\n    group: ops\n", line: 14, column: 11,
            says: "duplicate grant name 'g' (first at line 10)"),
        Bad(label: "a duplicate target name", text: file(hook: "    kind: exec\n    command: [/bin/hook]\n  db:\n    kind: exec\n    command: [/bin/x]\n"), line: 2,
            column: 3, says: "duplicate key(s) db"),
        Bad(label: "a bad lead", text: file(grant: "    schedules: [Primary]\n    target: db\n    group: admins\n    lead: soon\n"), line: 14, column: 11, says: "'lead'"),
        Bad(label: "a grace past a day", text: file(grant: "    schedules: [Primary]\n    target: db\n    group: admins\n    grace: 2d\n"), line: 14, column: 12,
            says: "up to 1d"),
        Bad(label: "a timeout past ten minutes", text: file(hook: "    kind: exec\n    command: [/bin/hook]\n    timeout: 1h\n"), line: 9, column: 14, says: "'timeout'"),
        Bad(label: "a zero timeout", text: file(hook: "    kind: exec\n    command: [/bin/hook]\n    timeout: 0s\n"), line: 9, column: 14, says: "'timeout'"),
        Bad(label: "a user template with an unknown placeholder",
            text: file(target: "    kind: postgres\n    url: postgres://grants@db.internal/postgres\n    user: \"{mail}_ro\"\n"), line: 5, column: 11,
            says: "uses {mail}: known are {email}, {email_local}, {name}, {pagerduty_id}"),
        Bad(label: "a user template whose braces do not pair",
            text: file(target: "    kind: postgres\n    url: postgres://grants@db.internal/postgres\n    user: \"{email\"\n"), line: 5, column: 11, says: "does not pair up"),
        Bad(label: "a user template with no placeholder",
            text: file(target: "    kind: postgres\n    url: postgres://grants@db.internal/postgres\n    user: admin\n"), line: 5, column: 11, says: "has no placeholder"),
        Bad(label: "both user and map_file",
            text: file(target: "    kind: postgres\n    url: postgres://grants@db.internal/postgres\n    user: \"{email}\"\n    map_file: /m.yaml\n"), line: 6,
            column: 5, says: "has both 'user'"),
        Bad(label: "an exec target without a command", text: file(hook: "    kind: exec\n    timeout: 5s\n"), line: 7, column: 5, says: "target 'hook' has no 'command'"),
        Bad(label: "a command that is not a list", text: file(hook: "    kind: exec\n    command: /bin/hook --verbose\n"), line: 8, column: 14,
            says: "'command' of target 'hook' must be a list"),
        Bad(label: "a command for a postgres target",
            text: file(target: "    kind: postgres\n    url: postgres://grants@db.internal/postgres\n    command: [/bin/x]\n"), line: 5, column: 5,
            says: "'command' means nothing for target 'db', a postgres target"),
        Bad(label: "a postgres target without a url", text: file(target: "    kind: postgres\n"), line: 3, column: 5, says: "target 'db' has no 'url'"),
        Bad(label: "a url holding a password",
            text: file(target: "    kind: postgres\n    url: postgres://grants:hunter2@db.internal/postgres\n"), line: 4, column: 10, says: "holds a password"),
        Bad(label: "a url of another scheme", text: file(target: "    kind: postgres\n    url: https://db.internal/\n"), line: 4, column: 10,
            says: "must be postgres://"),
        Bad(label: "both password_file and password_env",
            text: file(target: "    kind: postgres\n    url: postgres://g@db.internal/postgres\n    password_file: /p\n    password_env: P\n"), line: 6, column: 5,
            says: "has both 'password_file' (line 5) and 'password_env'"),
        Bad(label: "a password_env that is not a variable name",
            text: file(target: "    kind: postgres\n    url: postgres://g@db.internal/postgres\n    password_env: hunter2!\n"), line: 5, column: 19,
            says: "must be the name of an environment variable"),
        Bad(label: "on_stale neither revoke nor keep", text: file(grant: "    schedules: [Primary]\n    target: db\n    group: admins\n    on_stale: ignore\n"),
            line: 14, column: 15, says: "expected revoke (the default) or keep"),
        Bad(label: "exclusive not a boolean", text: file(grant: "    schedules: [Primary]\n    target: db\n    group: admins\n    exclusive: yes\n"),
            line: 14, column: 16, says: "expected true or false"),
        Bad(label: "a grant without schedules", text: file(grant: "    target: db\n    group: admins\n"), line: 10, column: 5, says: "grant 'g' has no 'schedules'"),
        Bad(label: "a grant without a group", text: file(grant: "    schedules: [Primary]\n    target: db\n"), line: 10, column: 5, says: "grant 'g' has no 'group'"),
        Bad(label: "a bad escalation level", text: file(grant: "    schedules: [Primary]\n    target: db\n    group: admins\n    max_escalation_level: 0\n"),
            line: 14, column: 27, says: "max_escalation_level"),
        Bad(label: "grants sharing a group disagree on exclusive",
            text: file() + "  - name: h\n    schedules: [Other]\n    target: db\n    group: admins\n    exclusive: true\n", line: 14, column: 5,
            says: "grant 'h' and grant 'g' (line 10) share group 'admins' of target 'db' but not 'exclusive'"),
        Bad(label: "an empty grants list", text: "targets:\n  db: {kind: exec, command: [/bin/x]}\ngrants: []\n", line: 3, column: 9, says: "'grants' is empty"),
        Bad(label: "grants not a list", text: "grants:\n  name: g\n", line: 2, column: 3, says: "'grants' must be a list"),
        Bad(label: "targets not a mapping", text: "targets: [db]\ngrants:\n  - {name: g, schedules: [P], target: db, group: x}\n", line: 1, column: 10,
            says: "'targets' must be a mapping"),
        Bad(label: "targets alone do nothing", text: "targets:\n  db: {kind: exec, command: [/bin/x]}\n", line: 1, column: 1,
            says: "expected a top-level 'rules:' list"),
    ]

    /// Each with its `FILE:LINE:COLUMN`, checked as the rules' errors are.
    @Test(arguments: bad)
    func refusesWithTheLineAndColumn(_ check: Bad) {
        RulesFileTests().refusesWithTheLineAndColumn(check)
    }

    /// The secret never reaches an error: a url with a password is refused without repeating it.
    @Test func aPasswordInTheURLIsNotRepeated() {
        do {
            _ = try parse(Self.file(target: "    kind: postgres\n    url: postgres://grants:hunter2@db.internal/postgres\n"))
            Issue.record("accepted")
        } catch {
            #expect(!error.description.contains("hunter2"))
        }
    }

    @Test(arguments: [
        ("{email}", "Jane.Doe@Example.com"), ("{email_local}", "Jane.Doe"), ("{name}", "Jane Doe"), ("{pagerduty_id}", "PJANE"),
        ("pd-{pagerduty_id}-{email_local}", "pd-PJANE-Jane.Doe"),
    ])
    func templatesNameAUser(template: String, name: String) {
        let user = User(id: "PJANE", name: "Jane Doe", email: "Jane.Doe@Example.com", timeZone: "UTC")
        #expect(UserNaming.template(template).name(for: user) == name)
    }

    /// A user the naming cannot name is nil (skipped by the caller), never an empty or partial name.
    @Test func unnameableUsersAreNil() {
        let noEmail = User(id: "PX", name: "X", email: "", timeZone: "UTC")
        #expect(UserNaming.template("{email}").name(for: noEmail) == nil)
        #expect(UserNaming.template("{email_local}").name(for: User(id: "PX", name: "X", email: "no-at-sign", timeZone: "UTC")) == nil)
        #expect(UserNaming.template("{name}").name(for: User(id: "PX", name: "line\nbreak", email: "x@y", timeZone: "UTC")) == nil)
        let jane = User(id: "PJANE", name: "Jane", email: "JANE@example.com", timeZone: "UTC")
        #expect(UserNaming.mapFile("m.yaml").name(for: jane, map: UserNaming.foldedMap(["jane@EXAMPLE.com": "jdoe"])) == "jdoe")
        #expect(UserNaming.mapFile("m.yaml").name(for: jane, map: UserNaming.foldedMap(["raj@example.com": "raj"])) == nil)
        // Only ASCII letters fold: a look-alike (KELVIN SIGN) is another mailbox, as for approvals.
        let kim = User(id: "PKIM", name: "Kim", email: "kim@example.com", timeZone: "UTC")
        #expect(UserNaming.mapFile("m.yaml").name(for: kim, map: UserNaming.foldedMap(["\u{212A}im@example.com": "kim"])) == nil)
        #expect(UserNaming.mapFile("m.yaml").name(for: jane, map: nil) == nil)
    }
}
