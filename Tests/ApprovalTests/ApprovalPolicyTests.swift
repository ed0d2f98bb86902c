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
    ])
    func invalidValuesNameTheirVariable(name: String, value: String) {
        #expect(throws: ConfigurationError.self) { try ApprovalPolicy(environment: [name: value]) }
        do {
            _ = try ApprovalPolicy(environment: [name: value])
        } catch {
            #expect("\(error)".hasPrefix(name))
        }
    }
}
