import SafeText

/// Prints one line of text output for people. The command builds the line, but the names, emails,
/// ids and reasons in it come from requests, PagerDuty or files, so the line is escaped (`SafeText`):
/// it stays one line and reaches the terminal as text, never as a control sequence.
func printLine(_ line: String) {
    print(line.printable)
}
