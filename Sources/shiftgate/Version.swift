/// The version `shiftgate --version` prints: the one place it is written.
enum ShiftgateVersion {
    static let current = "0.1.0"
}
