print("shiftgate")
