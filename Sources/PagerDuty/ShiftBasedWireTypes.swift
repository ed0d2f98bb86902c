import Foundation

// Reply types of PagerDuty's shift-based ("v3") schedules API: only the fields a sync reads.
// `type` fields are kept as strings: PagerDuty's own examples break their enums (a rotation's
// `type` is "rotation" in one, "schedule_rotation" in the schema), so values are checked where
// they matter, in the sync, with a message that names the field.

extension Wire {
    /// `GET /v3/schedules/{id}?include[]=final_schedule`: the schedule with its final schedule.
    /// Rotations are decoded only for their members (who belongs to the schedule).
    public struct ShiftBasedSchedule: Decodable, Sendable, Hashable {
        public var id: String
        public var type: String?
        public var name: String?
        public var timeZone: String?
        public var description: String?
        /// Documented as present only with `include[]=users`, which the `include[]` enum does not offer;
        /// read when it comes.
        public var users: [ObjectID]?
        public var rotations: [Rotation]?
        /// Present only when asked for with a window. A reply without it cannot be used.
        public var finalSchedule: FinalSchedule?

        public struct Rotation: Decodable, Sendable, Hashable {
            public var id: String?
            public var events: [Event]?
        }

        public struct Event: Decodable, Sendable, Hashable {
            public var assignmentStrategy: AssignmentStrategy?
        }

        public struct AssignmentStrategy: Decodable, Sendable, Hashable {
            public var type: String?
            public var members: [ShiftMember]?
        }

        public struct FinalSchedule: Decodable, Sendable, Hashable {
            public var renderedCoveragePercentage: Double?
            public var computedShiftAssignments: [ComputedShiftAssignment]
        }

        /// Every user id the rotations assign (empty slots left out), in order of first appearance.
        public var rotationMemberIds: [String] {
            var seen = Set<String>()
            var ids: [String] = []
            for rotation in rotations ?? [] {
                for event in rotation.events ?? [] {
                    for member in event.assignmentStrategy?.members ?? [] {
                        if let id = member.userId, seen.insert(id).inserted { ids.append(id) }
                    }
                }
            }
            return ids
        }
    }

    /// One entry of a v3 final schedule: `member` is on call over [startTime, endTime) because of `source`.
    /// Entries may overlap: several people can be on call at once.
    public struct ComputedShiftAssignment: Decodable, Sendable, Hashable {
        public var startTime: Date
        public var endTime: Date
        public var member: ShiftMember
        public var source: ShiftSource
    }

    /// `user_member` (with `user_id`) or `empty_member` (a slot left unassigned on purpose).
    public struct ShiftMember: Decodable, Sendable, Hashable {
        public static let user = "user_member"
        public static let empty = "empty_member"

        public var type: String
        public var userId: String?
    }

    /// Why an assignment exists: a rotation, a custom shift, or an override of either.
    public struct ShiftSource: Decodable, Sendable, Hashable {
        public static let rotation = "schedule_rotation"
        public static let customShift = "custom_shift"
        public static let rotationOverride = "schedule_rotation_override"
        public static let customShiftOverride = "custom_shift_override"
        public static let known: Set<String> = [rotation, customShift, rotationOverride, customShiftOverride]

        public var type: String
        public var rotationId: String?
        public var shiftId: String?
        public var overrideId: String?

        public var isOverride: Bool { type == Self.rotationOverride || type == Self.customShiftOverride }
    }

    /// `GET /v3/schedules/{id}/overrides`: one override replaces one member of one rotation
    /// (`rotationId`) or custom shift (`customShiftId`) over [startTime, endTime).
    public struct ShiftOverride: Decodable, Sendable, Hashable {
        public var id: String
        public var rotationId: String?
        public var customShiftId: String?
        public var startTime: Date
        public var endTime: Date
        public var overriddenMember: ShiftMember
        public var overridingMember: ShiftMember
    }
}
