/*
 * fuzz_rego.c - the Rego lexer, parser and compiler on arbitrary module
 * text, then a bounded evaluation of the whole data document (small step,
 * memory and depth budgets), so a hostile policy can neither crash the
 * engine nor run away with it.  An accepted module must evaluate without
 * an internal error; a rejected one must say why.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/rego.h"

int	LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static int
row(void *ctx, struct rv **vals, uint32_t n)
{
	(void)ctx;
	(void)vals;
	(void)n;
	return 0;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct policy_c	 pc;
	struct arena	 ea;
	struct query	*q;
	struct ev_opts	 o;
	struct ev_result res;
	char		*err = NULL;
	int		 rc;

	if (size > 64 * 1024)
		return 0;
	memset(&pc, 0, sizeof(pc));
	memset(&ea, 0, sizeof(ea));
	rc = bundle_add_module_text(&pc, "fuzz.rego", (const char *)data, size,
	    &err);
	if (rc == SF_OK)
		rc = rego_compile(&pc, &err);
	if (rc != SF_OK) {
		if (err == NULL && rc != SF_ENOMEM)
			abort();	/* a rejection names its reason */
		free(err);
		arena_destroy(&pc.a);
		return 0;
	}
	pc.data = &rv_empty_obj_v;
	if (rego_compile_query(&pc, &pc.a, "x = data", 8, &q, &err) != SF_OK)
		abort();
	memset(&o, 0, sizeof(o));
	o.max_steps = 20000;
	o.max_mem = 8 * 1024 * 1024;
	o.max_stack = 256 * 1024;
	rc = rego_eval(&pc, &ea, q, NULL, &o, row, NULL, &res);
	if (rc != SF_OK && res.code == EVE_INTERNAL)
		abort();	/* compiled code must be evaluable */
	arena_destroy(&ea);
	arena_destroy(&pc.a);
	return 0;
}
