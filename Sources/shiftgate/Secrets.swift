import ArgumentParser
import Foundation

/// A secret from a file, trimmed; an unreadable or empty file is a bad command line naming `flag`.
func readSecretFile(_ path: String, flag: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ValidationError("\(flag): cannot read \(path)")
    }
    let secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard !secret.isEmpty else { throw ValidationError("\(flag): \(path) is empty") }
    return secret
}
