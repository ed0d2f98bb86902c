import Approval
import Foundation
import Testing

@Suite struct ApprovalPolicyTests {
    @Test func defaultsMatchTheOriginalIntegration() throws {
        let policy = try ApprovalPolicy(environment: [:])
        #expect(policy == ApprovalPolicy(maxDuration: 6 * 3600, allowedSchedules: [], windowBefore: 60, windowAfter: 300, maxEscalationLevel: nil))
    }

    @Test func readsEveryVariable() throws {
        let policy = try ApprovalPolicy(environment: [
            "AUTO_APPROVAL_DURATION": "2.5", "AUTO_APPROVAL_PAGERDUTY_SCHEDULES": " PABC123 , Primary On-Call ,, ",
            "AUTO_APPROVAL_WINDOW_BEFORE": "0", "AUTO_APPROVAL_WINDOW_AFTER": "10", "AUTO_APPROVAL_MAX_ESCALATION_LEVEL": "2",
        ])
        #expect(policy.maxDuration == 9000)
        #expect(policy.allowedSchedules == ["PABC123", "Primary On-Call"])
        #expect(policy.windowBefore == 0 && policy.windowAfter == 600 && policy.maxEscalationLevel == 2)
    }

    @Test(arguments: [
        ("AUTO_APPROVAL_DURATION", "six"), ("AUTO_APPROVAL_DURATION", "0"), ("AUTO_APPROVAL_DURATION", "-1"),
        ("AUTO_APPROVAL_WINDOW_BEFORE", "-5"), ("AUTO_APPROVAL_WINDOW_AFTER", "x"), ("AUTO_APPROVAL_MAX_ESCALATION_LEVEL", "0"),
        ("AUTO_APPROVAL_MAX_ESCALATION_LEVEL", "1.5"),
        // Past the bounds: nothing a person types may overflow a date further on, nor widen a window to "always".
        ("AUTO_APPROVAL_DURATION", "1e300"), ("AUTO_APPROVAL_DURATION", "8761"), ("AUTO_APPROVAL_WINDOW_BEFORE", "1441"),
        ("AUTO_APPROVAL_WINDOW_AFTER", "99999999999999999999"),
        // An allow-list that names nothing is an error, never "every schedule".
        ("AUTO_APPROVAL_PAGERDUTY_SCHEDULES", ","), ("AUTO_APPROVAL_PAGERDUTY_SCHEDULES", "  "), ("AUTO_APPROVAL_PAGERDUTY_SCHEDULES", " , "),
        ("AUTO_APPROVAL_PAGERDUTY_SCHEDULES", "\r\n"), ("AUTO_APPROVAL_PAGERDUTY_SCHEDULES", ",,\t,\r"),
    ])
    func invalidValuesNameTheirVariable(name: String, value: String) {
        #expect(throws: ConfigurationError.self) { try ApprovalPolicy(environment: [name: value]) }
        do {
            _ = try ApprovalPolicy(environment: [name: value])
        } catch {
            #expect("\(error)".hasPrefix(name))
        }
    }

    /// A CRLF env file: "SRE Primary\r" used to match nothing, silently. Entries and values lose CR and
    /// LF like any other whitespace; the bounds themselves are accepted.
    @Test func valuesAreTrimmedOfCRAndLF() throws {
        let policy = try ApprovalPolicy(environment: [
            "AUTO_APPROVAL_PAGERDUTY_SCHEDULES": "SRE Primary\r\n, PABC123 \n,\r\nSRE Secondary\r", "AUTO_APPROVAL_DURATION": "2\r",
            "AUTO_APPROVAL_WINDOW_BEFORE": "1440\r\n", "AUTO_APPROVAL_WINDOW_AFTER": "\t3\n", "AUTO_APPROVAL_MAX_ESCALATION_LEVEL": "1\r",
        ])
        #expect(policy.allowedSchedules == ["SRE Primary", "PABC123", "SRE Secondary"])
        #expect(policy.maxDuration == 7200 && policy.windowBefore == 86_400 && policy.windowAfter == 180 && policy.maxEscalationLevel == 1)
        #expect(try ApprovalPolicy(environment: ["AUTO_APPROVAL_DURATION": "8760"]).maxDuration == 8760 * 3600)
        // Empty is unset, as the Kubernetes ConfigMap writes it: every schedule.
        #expect(try ApprovalPolicy(environment: ["AUTO_APPROVAL_PAGERDUTY_SCHEDULES": ""]).allowedSchedules.isEmpty)
    }
}
