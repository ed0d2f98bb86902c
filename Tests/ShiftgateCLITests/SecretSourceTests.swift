import ArgumentParser
import Foundation
import Testing
import TestSupport
@testable import shiftgate

/// `sync`'s API key and `serve`'s webhook secret come through one lookup: the flag's file, then
/// systemd's credential, then the variable; nothing, or only whitespace in a file, is refused by name.
@Suite struct SecretSourceTests {
    /// The `ValidationError` message `read` throws, or nil when it returned a secret.
    func refusal(_ source: SecretSource, file: String? = nil, environment: [String: String]) -> String? {
        do {
            _ = try source.read(file: file, environment: environment)
            return nil
        } catch {
            return (error as? ValidationError)?.message ?? "not a ValidationError: \(error)"
        }
    }

    @Test func theFlagsFileWinsThenTheCredentialThenTheVariable() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try "from-flag\n".write(toFile: directory.path("flag"), atomically: true, encoding: .utf8)
        try " from-credential \n".write(toFile: directory.path("pagerduty-key"), atomically: true, encoding: .utf8)
        let source = SyncCommand.apiKeySource
        let everything = ["CREDENTIALS_DIRECTORY": directory.url.path, "PAGERDUTY_KEY": "from-variable"]
        #expect(try source.read(file: directory.path("flag"), environment: everything) == "from-flag")
        #expect(try source.read(file: nil, environment: everything) == "from-credential")
        // A credentials directory without this secret's file falls through to the variable.
        #expect(try ServeCommand.webhookSecretSource.read(file: nil, environment: everything.merging(["INDENT_WEBHOOK_SECRET": "from-variable"]) { $1 })
                == "from-variable")
    }

    /// Every secret is trimmed the same way, from a variable, a flag's file or a credential: whitespace,
    /// CR and LF at both ends (`kubectl create secret --from-file` of a file ending in a newline gives
    /// PAGERDUTY_KEY=$'key\n', which PagerDuty refused with a 401). Inside, nothing is touched.
    @Test func everySecretIsTrimmedTheSameWay() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let sources = [SyncCommand.apiKeySource, ServeCommand.webhookSecretSource, DatabaseOptions.passwordSource, ServeCommand.apiTokenSource]
        for written in ["key\n", " key\r\n", "\tkey \r", "\r\n\nkey\n\n"] {
            for source in sources {
                #expect(try source.read(file: nil, environment: [source.variable: written]) == "key", "\(source.variable)=\(written.debugDescription)")
                try written.write(toFile: directory.path("file"), atomically: true, encoding: .utf8)
                #expect(try source.read(file: directory.path("file"), environment: [:]) == "key", "\(source.fileFlag)")
                try written.write(toFile: directory.path(source.credential), atomically: true, encoding: .utf8)
                #expect(try source.read(file: nil, environment: ["CREDENTIALS_DIRECTORY": directory.url.path]) == "key", "\(source.credential)")
            }
        }
        #expect(try SyncCommand.apiKeySource.read(file: nil, environment: ["PAGERDUTY_KEY": " two words\t inside \n"]) == "two words\t inside")
        for source in sources {
            #expect(refusal(source, environment: [source.variable: " \r\n"]) != nil, "\(source.variable): only whitespace is no secret")
        }
    }

    @Test func aMissingOrEmptySecretIsRefusedByName() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try " \n".write(toFile: directory.path("blank"), atomically: true, encoding: .utf8)
        try "".write(toFile: directory.path("indent-webhook-secret"), atomically: true, encoding: .utf8)
        let sync = SyncCommand.apiKeySource
        let serve = ServeCommand.webhookSecretSource
        #expect(refusal(sync, environment: [:]) == "no PagerDuty API key: set PAGERDUTY_KEY or pass --api-key-file")
        #expect(refusal(sync, environment: ["PAGERDUTY_KEY": ""]) == "no PagerDuty API key: set PAGERDUTY_KEY or pass --api-key-file")
        #expect(refusal(serve, environment: [:]) == "INDENT_WEBHOOK_SECRET is empty or unset (or pass --webhook-secret-file): refusing to serve unsigned")
        #expect(refusal(sync, file: directory.path("absent"), environment: [:]) == "--api-key-file: cannot read \(directory.path("absent"))")
        #expect(refusal(serve, file: directory.path("blank"), environment: [:]) == "--webhook-secret-file: \(directory.path("blank")) is empty")
        // An empty credential is refused even when the variable has a secret: the operator meant the file.
        #expect(refusal(serve, environment: ["CREDENTIALS_DIRECTORY": directory.url.path, "INDENT_WEBHOOK_SECRET": "s3cret"])
                == "$CREDENTIALS_DIRECTORY/indent-webhook-secret: \(directory.path("indent-webhook-secret")) is empty")
    }
}
