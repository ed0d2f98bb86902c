#ifndef SHIFTGATE_TEST_ENVIRONMENT_H
#define SHIFTGATE_TEST_ENVIRONMENT_H

/// The most tests Swift Testing runs at once in this package's test bundle, unless
/// SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH says otherwise (TestEnvironment.c).
int shiftgate_test_parallelization_width(void);

#endif
