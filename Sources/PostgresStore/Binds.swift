import Foundation
import Logging
import PostgresNIO

/// A one-dimensional PostgreSQL array bind whose elements may be NULL. PostgresNIO encodes
/// `[Element]` but not `[Element?]`, and the nullable columns (`oncall.schedule_id`, `start` and
/// `end`; a decision's snapshot, schedule and granted seconds) are written with `UNNEST` of arrays
/// like the others. The layout is PostgreSQL's binary array format (`array_recv`): dimensions,
/// a has-NULLs flag, the element type, then per dimension its length and lower bound (1), then each
/// element as a length (-1 for NULL) and its bytes.
struct NullableArray<Element: PostgresArrayEncodable & PostgresNonThrowingEncodable>: PostgresNonThrowingEncodable {
    var elements: [Element?]

    init(_ elements: [Element?]) {
        self.elements = elements
    }

    static var psqlType: PostgresDataType { Element.psqlArrayType }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeInteger(elements.isEmpty ? 0 : 1, as: Int32.self)
        buffer.writeInteger(elements.contains { $0 == nil } ? 1 : 0, as: Int32.self)
        buffer.writeInteger(Element.psqlType.rawValue)
        guard !elements.isEmpty else { return }
        buffer.writeInteger(Int32(elements.count))
        buffer.writeInteger(1, as: Int32.self)
        for element in elements {
            guard let element else {
                buffer.writeInteger(-1, as: Int32.self)
                continue
            }
            let lengthIndex = buffer.writerIndex
            buffer.writeInteger(0, as: Int32.self)
            let start = buffer.writerIndex
            element.encode(into: &buffer, context: context)
            buffer.setInteger(Int32(buffer.writerIndex - start), at: lengthIndex)
        }
    }
}

/// Times as both engines store them: whole Unix seconds, rounded down (PagerDuty's times are whole
/// seconds; decisions are kept to the second).
enum UnixTime {
    static func seconds(_ date: Date) -> Int64 {
        Int64(date.timeIntervalSince1970.rounded(.down))
    }

    static func date(_ seconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(seconds))
    }
}

extension PostgresConnection {
    /// Runs `query` to its end. PostgresNIO hands back a statement's rows as soon as the statement
    /// starts, and an error the server meets while executing it (a lock timeout, a violated CHECK)
    /// arrives with the rows: a statement run for its effect must be read to the end, or its error
    /// goes unseen and the transaction is silently aborted.
    func perform(_ query: PostgresQuery, logger: Logger) async throws {
        let rows = try await self.query(query, logger: logger)
        for try await _ in rows {}
    }
}
