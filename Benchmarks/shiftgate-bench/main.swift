// The benchmark runner is written in the next commits.
print("shiftgate-bench")
