import Foundation
import GRDB
import OnCallStore

// One record type per table, as GRDB's guides recommend, each responsible for reading and writing
// its table. They are internal: the rest of Shiftgate works on the public value types of Model.swift,
// which know nothing of GRDB.
//
// A roster record is the value it stores plus the snapshot it belongs to: `UserRow(snapshotId: id,
// user)` is what a write inserts and `row.user` what a read gives back. The value types do not
// conform to GRDB's protocols themselves because their tables hold more than they do (every roster
// row's `snapshot_id`; `user.email_lower`), in other forms (times as INTEGER Unix seconds, through
// `unixSeconds`) and under other names (`target_type`, `oncall_count`); and because a conformance
// of a public type is public, so `init(row:)`, `Columns` and `databaseTableName` would reach Drift,
// Approval and Server; a generic wrapper adding `snapshot_id` to any value would need them too.
// The `Row` suffix keeps each record apart from the value it carries (`DecisionRecord` included).
//
// The mapping is written by hand rather than derived from `Codable`: a sync writes and `serve` reads
// some 30,000 rows per snapshot, and decoding them through `Decodable` doubled the CPU time of the
// read (measured: 49 ms against 24 ms for 10,000 users, shifts and on-call entries).

/// A row of `snapshot`: what a sync saw and spent. Snapshots are only ever inserted, and SQLite
/// numbers them: `encode` leaves `id` out and `didInsert` learns it.
struct SnapshotRow: FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "snapshot"

    var info: SnapshotInfo

    enum Columns {
        static let id = Column("id")
        static let startedAt = Column("started_at")
        static let finishedAt = Column("finished_at")
        static let windowStart = Column("window_start")
        static let windowEnd = Column("window_end")
        static let userCount = Column("user_count")
        static let scheduleCount = Column("schedule_count")
        static let shiftBasedScheduleCount = Column("shift_based_schedule_count")
        static let shiftCount = Column("shift_count")
        static let policyCount = Column("policy_count")
        static let onCallCount = Column("oncall_count")
        static let apiRequests = Column("api_requests")
        static let rateLimited = Column("rate_limited")
        static let read = Column("read_kind")
    }

    init(_ info: SnapshotInfo) {
        self.info = info
    }

    init(row: Row) {
        info = SnapshotInfo(
            id: row[Columns.id], startedAt: Date(unixSeconds: row[Columns.startedAt]),
            finishedAt: Date(unixSeconds: row[Columns.finishedAt]), windowStart: Date(unixSeconds: row[Columns.windowStart]),
            windowEnd: Date(unixSeconds: row[Columns.windowEnd]), userCount: row[Columns.userCount],
            scheduleCount: row[Columns.scheduleCount], shiftBasedScheduleCount: row[Columns.shiftBasedScheduleCount],
            shiftCount: row[Columns.shiftCount], policyCount: row[Columns.policyCount], onCallCount: row[Columns.onCallCount],
            apiRequests: row[Columns.apiRequests], rateLimited: row[Columns.rateLimited],
            read: SnapshotRead(rawValue: row[Columns.read]) ?? .full)
    }

    func encode(to container: inout PersistenceContainer) {
        container[Columns.startedAt] = info.startedAt.unixSeconds
        container[Columns.finishedAt] = info.finishedAt.unixSeconds
        container[Columns.windowStart] = info.windowStart.unixSeconds
        container[Columns.windowEnd] = info.windowEnd.unixSeconds
        container[Columns.userCount] = info.userCount
        container[Columns.scheduleCount] = info.scheduleCount
        container[Columns.shiftBasedScheduleCount] = info.shiftBasedScheduleCount
        container[Columns.shiftCount] = info.shiftCount
        container[Columns.policyCount] = info.policyCount
        container[Columns.onCallCount] = info.onCallCount
        container[Columns.apiRequests] = info.apiRequests
        container[Columns.rateLimited] = info.rateLimited
        container[Columns.read] = info.read.rawValue
    }

    mutating func didInsert(_ inserted: InsertionSuccess) {
        info.id = inserted.rowID
    }
}

/// A row of `user`. A user listed twice in one sync is stored once, the last listing winning.
struct UserRow: FetchableRecord, PersistableRecord {
    static let databaseTableName = "user"
    static let persistenceConflictPolicy = PersistenceConflictPolicy(insert: .replace)

    var snapshotId: Int64
    var user: User

    enum Columns {
        static let snapshotId = Column("snapshot_id")
        static let id = Column("id")
        static let name = Column("name")
        static let email = Column("email")
        /// `email.emailMatchKey`, indexed, for finding a requester by address.
        static let emailLower = Column("email_lower")
        static let timeZone = Column("time_zone")
    }

    init(snapshotId: Int64, _ user: User) {
        self.snapshotId = snapshotId
        self.user = user
    }

    init(row: Row) {
        snapshotId = row[Columns.snapshotId]
        user = User(id: row[Columns.id], name: row[Columns.name], email: row[Columns.email], timeZone: row[Columns.timeZone])
    }

    func encode(to container: inout PersistenceContainer) {
        container[Columns.snapshotId] = snapshotId
        container[Columns.id] = user.id
        container[Columns.name] = user.name
        container[Columns.email] = user.email
        container[Columns.emailLower] = user.email.emailMatchKey
        container[Columns.timeZone] = user.timeZone
    }
}

/// A row of `schedule`. A schedule listed twice in one sync is stored once, the last listing winning.
struct ScheduleRow: FetchableRecord, PersistableRecord {
    static let databaseTableName = "schedule"
    static let persistenceConflictPolicy = PersistenceConflictPolicy(insert: .replace)

    var snapshotId: Int64
    var schedule: Schedule

    enum Columns {
        static let snapshotId = Column("snapshot_id")
        static let id = Column("id")
        static let name = Column("name")
        static let timeZone = Column("time_zone")
        static let description = Column("description")
        static let kind = Column("kind")
        static let describedByOnCalls = Column("described_by_oncalls")
        static let confirmedSince = Column("confirmed_since")
        static let confirmedUntil = Column("confirmed_until")
    }

    init(snapshotId: Int64, _ schedule: Schedule) {
        self.snapshotId = snapshotId
        self.schedule = schedule
    }

    init(row: Row) {
        snapshotId = row[Columns.snapshotId]
        schedule = Schedule(
            id: row[Columns.id], name: row[Columns.name], timeZone: row[Columns.timeZone], description: row[Columns.description],
            kind: ScheduleKind(rawValue: row[Columns.kind]) ?? .layerBased, describedByOnCalls: row[Columns.describedByOnCalls],
            confirmedSince: (row[Columns.confirmedSince] as Int64?).map(Date.init(unixSeconds:)),
            confirmedUntil: (row[Columns.confirmedUntil] as Int64?).map(Date.init(unixSeconds:)))
    }

    func encode(to container: inout PersistenceContainer) {
        container[Columns.snapshotId] = snapshotId
        container[Columns.id] = schedule.id
        container[Columns.name] = schedule.name
        container[Columns.timeZone] = schedule.timeZone
        container[Columns.description] = schedule.description
        container[Columns.kind] = schedule.kind.rawValue
        container[Columns.describedByOnCalls] = schedule.describedByOnCalls
        container[Columns.confirmedSince] = schedule.confirmedSince?.unixSeconds
        container[Columns.confirmedUntil] = schedule.confirmedUntil?.unixSeconds
    }
}

/// A row of `schedule_member`. A member listed twice is stored once.
struct ScheduleMemberRow: FetchableRecord, PersistableRecord {
    static let databaseTableName = "schedule_member"
    static let persistenceConflictPolicy = PersistenceConflictPolicy(insert: .ignore)

    var snapshotId: Int64
    var member: ScheduleMember

    enum Columns {
        static let snapshotId = Column("snapshot_id")
        static let scheduleId = Column("schedule_id")
        static let userId = Column("user_id")
    }

    init(snapshotId: Int64, _ member: ScheduleMember) {
        self.snapshotId = snapshotId
        self.member = member
    }

    init(row: Row) {
        snapshotId = row[Columns.snapshotId]
        member = ScheduleMember(scheduleId: row[Columns.scheduleId], userId: row[Columns.userId])
    }

    func encode(to container: inout PersistenceContainer) {
        container[Columns.snapshotId] = snapshotId
        container[Columns.scheduleId] = member.scheduleId
        container[Columns.userId] = member.userId
    }
}

/// The two tables of `ScheduleEntry` rows, `shift` and `override`, with the same columns.
protocol ScheduleEntryTable {
    static var name: String { get }
}

enum ShiftTable: ScheduleEntryTable {
    static let name = "shift"
}

enum OverrideTable: ScheduleEntryTable {
    static let name = "override"
}

/// A row of `shift` or of `override`.
struct ScheduleEntryRow<Table: ScheduleEntryTable>: FetchableRecord, PersistableRecord {
    static var databaseTableName: String { Table.name }

    var snapshotId: Int64
    var value: ScheduleEntry

    typealias Columns = ScheduleEntryColumns

    init(snapshotId: Int64, _ value: ScheduleEntry) {
        self.snapshotId = snapshotId
        self.value = value
    }

    init(row: Row) {
        snapshotId = row[Columns.snapshotId]
        value = ScheduleEntry(
            scheduleId: row[Columns.scheduleId], userId: row[Columns.userId],
            start: Date(unixSeconds: row[Columns.start]), end: Date(unixSeconds: row[Columns.end]))
    }

    func encode(to container: inout PersistenceContainer) {
        container[Columns.snapshotId] = snapshotId
        container[Columns.scheduleId] = value.scheduleId
        container[Columns.userId] = value.userId
        container[Columns.start] = value.start.unixSeconds
        container[Columns.end] = value.end.unixSeconds
    }
}

/// The columns of `shift` and `override` (a generic type cannot hold them itself).
enum ScheduleEntryColumns {
    static let snapshotId = Column("snapshot_id")
    static let scheduleId = Column("schedule_id")
    static let userId = Column("user_id")
    static let start = Column("start")
    static let end = Column("end")
}

typealias ShiftRow = ScheduleEntryRow<ShiftTable>
typealias OverrideRow = ScheduleEntryRow<OverrideTable>

/// A row of `escalation_policy`. A policy listed twice in one sync is stored once, the last listing
/// winning.
struct EscalationPolicyRow: FetchableRecord, PersistableRecord {
    static let databaseTableName = "escalation_policy"
    static let persistenceConflictPolicy = PersistenceConflictPolicy(insert: .replace)

    var snapshotId: Int64
    var policy: EscalationPolicy

    enum Columns {
        static let snapshotId = Column("snapshot_id")
        static let id = Column("id")
        static let name = Column("name")
        static let numLoops = Column("num_loops")
    }

    init(snapshotId: Int64, _ policy: EscalationPolicy) {
        self.snapshotId = snapshotId
        self.policy = policy
    }

    init(row: Row) {
        snapshotId = row[Columns.snapshotId]
        policy = EscalationPolicy(id: row[Columns.id], name: row[Columns.name], numLoops: row[Columns.numLoops])
    }

    func encode(to container: inout PersistenceContainer) {
        container[Columns.snapshotId] = snapshotId
        container[Columns.id] = policy.id
        container[Columns.name] = policy.name
        container[Columns.numLoops] = policy.numLoops
    }
}

/// A row of `escalation_target`.
struct EscalationTargetRow: FetchableRecord, PersistableRecord {
    static let databaseTableName = "escalation_target"

    var snapshotId: Int64
    var target: EscalationTarget

    enum Columns {
        static let snapshotId = Column("snapshot_id")
        static let policyId = Column("policy_id")
        static let level = Column("level")
        static let ruleId = Column("rule_id")
        static let delayMinutes = Column("delay_minutes")
        static let targetType = Column("target_type")
        static let targetId = Column("target_id")
    }

    init(snapshotId: Int64, _ target: EscalationTarget) {
        self.snapshotId = snapshotId
        self.target = target
    }

    init(row: Row) {
        snapshotId = row[Columns.snapshotId]
        target = EscalationTarget(
            policyId: row[Columns.policyId], level: row[Columns.level], ruleId: row[Columns.ruleId],
            delayMinutes: row[Columns.delayMinutes], kind: EscalationTarget.Kind(rawValue: row[Columns.targetType]) ?? .user,
            targetId: row[Columns.targetId])
    }

    func encode(to container: inout PersistenceContainer) {
        container[Columns.snapshotId] = snapshotId
        container[Columns.policyId] = target.policyId
        container[Columns.level] = target.level
        container[Columns.ruleId] = target.ruleId
        container[Columns.delayMinutes] = target.delayMinutes
        container[Columns.targetType] = target.kind.rawValue
        container[Columns.targetId] = target.targetId
    }
}

/// A row of `oncall`. `schedule_id`, `start` and `end` are NULL for someone on call permanently.
struct OnCallRow: FetchableRecord, PersistableRecord {
    static let databaseTableName = "oncall"

    var snapshotId: Int64
    var onCall: OnCall

    enum Columns {
        static let snapshotId = Column("snapshot_id")
        static let policyId = Column("policy_id")
        static let level = Column("level")
        static let scheduleId = Column("schedule_id")
        static let userId = Column("user_id")
        static let start = Column("start")
        static let end = Column("end")
    }

    init(snapshotId: Int64, _ onCall: OnCall) {
        self.snapshotId = snapshotId
        self.onCall = onCall
    }

    init(row: Row) {
        snapshotId = row[Columns.snapshotId]
        onCall = OnCall(
            policyId: row[Columns.policyId], level: row[Columns.level], scheduleId: row[Columns.scheduleId],
            userId: row[Columns.userId], start: (row[Columns.start] as Int64?).map(Date.init(unixSeconds:)),
            end: (row[Columns.end] as Int64?).map(Date.init(unixSeconds:)))
    }

    func encode(to container: inout PersistenceContainer) {
        container[Columns.snapshotId] = snapshotId
        container[Columns.policyId] = onCall.policyId
        container[Columns.level] = onCall.level
        container[Columns.scheduleId] = onCall.scheduleId
        container[Columns.userId] = onCall.userId
        container[Columns.start] = onCall.start?.unixSeconds
        container[Columns.end] = onCall.end?.unixSeconds
    }
}

/// The one row of `sync_state`: its `CHECK (id = 1)` allows no other, so requests need no key. The
/// first migration inserts it and it is only ever updated, column by column, so it is no
/// `PersistableRecord`.
struct SyncStateRow: FetchableRecord, TableRecord {
    static let databaseTableName = "sync_state"

    var state: SyncState

    enum Columns {
        static let currentSnapshotId = Column("current_snapshot_id")
        static let lastSuccessAt = Column("last_success_at")
        static let lastAttemptAt = Column("last_attempt_at")
        static let lastFailureAt = Column("last_failure_at")
        static let lastFailureReason = Column("last_failure_reason")
    }

    init(row: Row) {
        state = SyncState(
            currentSnapshotId: row[Columns.currentSnapshotId],
            lastSuccessAt: (row[Columns.lastSuccessAt] as Int64?).map(Date.init(unixSeconds:)),
            lastAttemptAt: (row[Columns.lastAttemptAt] as Int64?).map(Date.init(unixSeconds:)),
            lastFailureAt: (row[Columns.lastFailureAt] as Int64?).map(Date.init(unixSeconds:)),
            lastFailureReason: row[Columns.lastFailureReason])
    }
}

/// A row of `decision`, the audit log; `decided_at` is whole Unix seconds, as every other time.
/// Decisions are only ever appended, and SQLite numbers them: `encode` leaves `id` out.
struct DecisionRow: FetchableRecord, PersistableRecord {
    static let databaseTableName = "decision"

    var record: DecisionRecord

    enum Columns {
        static let id = Column("id")
        static let decidedAt = Column("decided_at")
        static let requestId = Column("request_id")
        static let requester = Column("requester")
        static let resources = Column("resources")
        static let outcome = Column("outcome")
        static let reason = Column("reason")
        static let snapshotId = Column("snapshot_id")
        static let scheduleId = Column("schedule_id")
        static let grantedSeconds = Column("granted_seconds")
    }

    init(_ record: DecisionRecord) {
        self.record = record
    }

    init(row: Row) {
        record = DecisionRecord(
            id: row[Columns.id], decidedAt: Date(unixSeconds: row[Columns.decidedAt]), requestId: row[Columns.requestId],
            requester: row[Columns.requester], resources: row[Columns.resources], outcome: row[Columns.outcome],
            reason: row[Columns.reason], snapshotId: row[Columns.snapshotId], scheduleId: row[Columns.scheduleId],
            grantedSeconds: row[Columns.grantedSeconds])
    }

    func encode(to container: inout PersistenceContainer) {
        container[Columns.decidedAt] = record.decidedAt.unixSeconds
        container[Columns.requestId] = record.requestId
        container[Columns.requester] = record.requester
        container[Columns.resources] = record.resources
        container[Columns.outcome] = record.outcome
        container[Columns.reason] = record.reason
        container[Columns.snapshotId] = record.snapshotId
        container[Columns.scheduleId] = record.scheduleId
        container[Columns.grantedSeconds] = record.grantedSeconds
    }
}
