import Foundation

extension SimulatedSchedule {
    /// The schedule upgraded in place to shift-based, as PagerDuty's upgrade keeps it: the same id,
    /// name, zone, description and teams, and the same people on call at every instant.
    ///
    /// - Each layer becomes a rotation with the same id that renders exactly that layer
    ///   (`upgradedLayer`); among them a later one still covers an earlier one.
    /// - Each override becomes one scoped override per stretch of its window where the layers
    ///   (without overrides) show one person through one layer: that layer's rotation, that person
    ///   replaced. Where nobody is on call it goes on the first rotation with no overridden member,
    ///   which fills that rotation's gaps. Where overrides overlapped, the later one won before and
    ///   its stretches alone are kept. The first stretch keeps the override's id; later ones are
    ///   `ID-2`, `ID-3`, ….
    /// - A schedule without layers has no rotation for its overrides to replace a member of: each
    ///   override becomes a custom shift (same id scheme) instead, which adds the same person.
    ///
    /// How PagerDuty itself carries overrides across an upgrade is not documented (UNVERIFIED); this
    /// conversion only promises the on-call people stay the same. A shift-based schedule is returned
    /// unchanged.
    public func upgradedToShiftBased() -> SimulatedSchedule {
        guard kind == .layerBased else { return self }
        var upgraded = SimulatedSchedule(
            id: id, name: name, timeZone: timeZone, description: description, teamIds: teamIds, kind: .shiftBased,
            rotations: layers.map { SimulatedRotation(id: $0.id, upgradedLayer: $0) }
        )

        // The overrides as the layer-based final schedule saw them: later ones over earlier ones.
        struct Piece: TimeStretch {
            var start: Date
            var end: Date
            var override: SimulatedOverride
        }
        var pieces: [Piece] = []
        for override in overrides where override.start < override.end {
            pieces = Self.paint([Piece(start: override.start, end: override.end, override: override)], over: pieces)
        }

        var stretchesMade: [String: Int] = [:]
        func nextId(for override: SimulatedOverride) -> String {
            let made = stretchesMade[override.id, default: 0] + 1
            stretchesMade[override.id] = made
            return made == 1 ? override.id : "\(override.id)-\(made)"
        }

        guard let firstRotation = upgraded.rotations.first else {
            upgraded.customShifts = pieces.map { piece in
                SimulatedCustomShift(id: nextId(for: piece.override), start: piece.start, end: piece.end, userId: piece.override.userId)
            }
            return upgraded
        }

        var converted: [SimulatedOverride] = []
        var origins: [String] = []  // the id of the override each converted one comes from
        func emit(_ piece: Piece, start: Date, end: Date, rotationId: String, overriddenUserId: String?) {
            if let last = converted.last, origins.last == piece.override.id, last.end == start, last.rotationId == rotationId,
               last.overriddenUserId == overriddenUserId {
                converted[converted.count - 1].end = end
                return
            }
            converted.append(SimulatedOverride(
                id: nextId(for: piece.override), start: start, end: end, userId: piece.override.userId, rotationId: rotationId,
                overriddenUserId: overriddenUserId
            ))
            origins.append(piece.override.id)
        }

        let calendar = ZoneCache.calendar(for: timeZone)
        for piece in pieces {
            // The layers inside the piece, each turn tagged with its layer's rotation.
            var visible: [SimulatedAssignment] = []
            for layer in layers {
                let entries = Self.renderLayer(layer, from: piece.start, to: piece.end, calendar: calendar).map {
                    SimulatedAssignment(userId: $0.userId, start: $0.start, end: $0.end, source: .rotation(layer.id))
                }
                visible = Self.paint(entries, over: visible)
            }
            var cursor = piece.start
            for turn in visible {
                if turn.start > cursor {
                    emit(piece, start: cursor, end: turn.start, rotationId: firstRotation.id, overriddenUserId: nil)
                }
                emit(piece, start: turn.start, end: turn.end, rotationId: turn.source.rotationId ?? firstRotation.id, overriddenUserId: turn.userId)
                cursor = turn.end
            }
            if cursor < piece.end {
                emit(piece, start: cursor, end: piece.end, rotationId: firstRotation.id, overriddenUserId: nil)
            }
        }
        upgraded.overrides = converted
        return upgraded
    }
}
