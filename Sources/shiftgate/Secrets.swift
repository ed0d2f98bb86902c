import ArgumentParser
import Foundation

/// Where a command finds a secret, first match wins: the file its flag names, then the file systemd's
/// `LoadCredential=` put in `$CREDENTIALS_DIRECTORY`, then an environment variable. Every secret, from
/// any of them, is trimmed the same way: whitespace, CR and LF at both ends (a file written by `echo`
/// or an editor, and `kubectl create secret --from-file` of one, ends in a newline). A missing or
/// empty secret is a bad command line (exit 64) whose message names the flag, file or variable and
/// never the secret.
struct SecretSource {
    /// The flag whose value is a file holding the secret, such as `--api-key-file`.
    var fileFlag: String
    /// The secret's file name in `$CREDENTIALS_DIRECTORY`.
    var credential: String
    /// The environment variable holding the secret itself.
    var variable: String
    /// The message when no source has the secret.
    var missing: String

    /// The secret, from `file` (the flag's value) when one is given.
    func read(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if let file { return try Self.contents(of: file, naming: fileFlag) }
        if let directory = environment["CREDENTIALS_DIRECTORY"], FileManager.default.fileExists(atPath: directory + "/" + credential) {
            return try Self.contents(of: directory + "/" + credential, naming: "$CREDENTIALS_DIRECTORY/" + credential)
        }
        guard let value = environment[variable].map(Self.trimmed), !value.isEmpty else { throw ValidationError(missing) }
        return value
    }

    /// As `read`, but nil when no source has the secret (an optional secret, such as a database
    /// password the server may not ask for). A file named but unreadable or empty is still an error.
    func readIfGiven(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
        guard file != nil || environment["CREDENTIALS_DIRECTORY"].map({ FileManager.default.fileExists(atPath: $0 + "/" + credential) }) == true
                || environment[variable].map({ !$0.isEmpty }) == true else { return nil }
        return try read(file: file, environment: environment)
    }

    /// A secret as used: without whitespace, CR or LF at either end.
    static func trimmed(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A secret file's contents, trimmed; `source` is how the message names where the path came from.
    private static func contents(of path: String, naming source: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("\(source): cannot read \(path)")
        }
        let secret = trimmed(String(decoding: data, as: UTF8.self))
        guard !secret.isEmpty else { throw ValidationError("\(source): \(path) is empty") }
        return secret
    }
}
