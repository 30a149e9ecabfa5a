/*
 * t.h - the unit-test helper: each TEST is a function; T() stops the test
 * at the first failed check and reports file:line.  Output protocol read
 * by tests/run.sh: one line per test, "PASS <prog>: <name>" or
 * "FAIL <prog>: <name>: <file>:<line>: <expr>", then "SKIP ..." lines.
 */
#ifndef T_H
#define T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *t_prog = "unit";
static int t_failed_now, t_npass, t_nfail;
static char t_where[512];

#define T(cond) do {							\
	if (!(cond)) {							\
		snprintf(t_where, sizeof(t_where), "%s:%d: %s",		\
		    __FILE__, __LINE__, #cond);				\
		t_failed_now = 1;					\
		return;							\
	}								\
} while (0)

/* Check an int-returning call is SF_OK, reporting the error name. */
#define T_OK(expr) do {							\
	int t_rc_ = (expr);						\
	if (t_rc_ != 0) {						\
		snprintf(t_where, sizeof(t_where), "%s:%d: %s = %d (%s)", \
		    __FILE__, __LINE__, #expr, t_rc_, sf_strerror(t_rc_)); \
		t_failed_now = 1;					\
		return;							\
	}								\
} while (0)

#define T_EQ_STR(a, b) do {						\
	const char *t_a_ = (a), *t_b_ = (b);				\
	if (t_a_ == NULL || t_b_ == NULL || strcmp(t_a_, t_b_) != 0) {	\
		snprintf(t_where, sizeof(t_where), "%s:%d: \"%s\" != \"%s\"", \
		    __FILE__, __LINE__, t_a_ ? t_a_ : "(null)",		\
		    t_b_ ? t_b_ : "(null)");				\
		t_failed_now = 1;					\
		return;							\
	}								\
} while (0)

#define RUN(fn) do {							\
	t_failed_now = 0;						\
	fn();								\
	if (t_failed_now) {						\
		printf("FAIL %s: %s: %s\n", t_prog, #fn, t_where);	\
		t_nfail++;						\
	} else {							\
		printf("PASS %s: %s\n", t_prog, #fn);			\
		t_npass++;						\
	}								\
	fflush(stdout);							\
} while (0)

#define T_DONE() (t_nfail == 0 ? 0 : 1)

#endif /* T_H */
