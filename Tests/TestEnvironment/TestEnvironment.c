// Swift Testing starts every test of the bundle at once. Many of Shiftgate's tests start servers,
// simulators, PostgreSQL clusters and child processes and bound what they measure in time (a
// stalled sync must end within its budget, a latency must stay under its limit). With all 490 at
// once on a 2-core machine they starve each other: a plain `swift test` failed 6 such bounds in
// each of three runs here; 8 at a time passed them all in 2 min 27 s but once let a server test's
// connection time out in a CI rehearsal; 4 at a time passed all 492 in 2 min 46 s. So the bundle
// sets that width before the test library reads its environment, unless the caller chose one.
#include <stdlib.h>
#include "TestEnvironment.h"

static const char *const widthVariable = "SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH";

__attribute__((constructor))
static void shiftgate_limit_test_parallelization(void) {
    setenv(widthVariable, "4", 0);
}

int shiftgate_test_parallelization_width(void) {
    const char *value = getenv(widthVariable);
    return value ? atoi(value) : 0;
}
