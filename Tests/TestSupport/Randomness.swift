import Foundation
import PagerDutySimulator

/// The simulator's SplitMix64: small, fast and the same on every platform, so a seed names one run exactly.
public typealias SeededRandom = SplitMix64

extension SplitMix64 {
    public mutating func below(_ bound: Int) -> Int {
        Int(next(in: 0..<UInt64(max(bound, 1))))
    }

    public mutating func next(in range: Range<UInt64>) -> UInt64 {
        range.lowerBound + next() % (range.upperBound - range.lowerBound)
    }

    public mutating func chance(_ probability: Double) -> Bool {
        Double(next() >> 11) / Double(1 << 53) < probability
    }

    public mutating func pick<T>(_ items: [T]) -> T {
        items[below(items.count)]
    }
}

/// The seed for a randomised test: `RELIABILITY_SEED` when set (to replay a failure), otherwise `fallback`.
public func seed(_ fallback: UInt64) -> UInt64 {
    ProcessInfo.processInfo.environment["RELIABILITY_SEED"].flatMap(UInt64.init) ?? fallback
}
