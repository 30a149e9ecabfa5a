/*
 * rego.h - private interface of the embedded Rego engine (lib/policy/).
 *
 * Layers, each in its own file:
 *   arena.c      bump allocator with reset (per-evaluation memory)
 *   value.c      Rego values (null, boolean, number, string, array, object,
 *                set) with Rego's total order, JSON conversion, printing
 *   lexer.c      tokens of Rego v1 source
 *   parser.c     modules and queries -> AST (struct term / expr / body)
 *   compile.c    name resolution, local variables, safety and reordering,
 *                the rule tree, recursion and kind checks
 *   eval.c       the top-down evaluator (continuation passing, backtracking)
 *   builtins*.c  the builtin functions, grouped by family
 *   bundle.c     directory loading
 *   policy.c     the public API (starfly/policy.h) and decision contract
 *
 * Memory: the compiled policy owns one arena holding every AST node,
 * constant and data value; each evaluation uses a second arena that is
 * reset afterwards.  Values are immutable once built, so an evaluation
 * value may point into policy memory, never the reverse.
 */
#ifndef REGO_H
#define REGO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "starfly.h"

/*
 * Arena.
 */
struct arena_chunk;
struct arena {
	struct arena_chunk	*head;		/* chunk being filled */
	struct arena_chunk	*full;		/* chunks already filled */
	size_t			 total;		/* bytes held in chunks */
	size_t			 limit;		/* 0: unlimited */
	bool			 over;		/* limit was hit */
};

void	*arena_alloc(struct arena *a, size_t n);
void	*arena_calloc(struct arena *a, size_t n, size_t size);
char	*arena_strndup(struct arena *a, const char *s, size_t n);
char	*arena_strdup(struct arena *a, const char *s);
/* Grow an array allocated in the arena (old contents copied). */
void	*arena_grow(struct arena *a, void *old, size_t oldn, size_t newn,
	    size_t size);
/* Forget every allocation; keeps up to keep bytes of chunks for reuse. */
void	 arena_reset(struct arena *a, size_t keep);
void	 arena_destroy(struct arena *a);

/*
 * Values.
 */
enum rv_type {
	RV_NULL = 1, RV_BOOL, RV_NUM, RV_STR, RV_ARR, RV_OBJ, RV_SET
};
enum rv_numkind { NK_INT = 0, NK_DBL, NK_BIG };

struct rv_kv;
struct rv {
	uint8_t		 t;		/* enum rv_type */
	uint8_t		 nk;		/* enum rv_numkind for RV_NUM */
	uint32_t	 n;		/* bytes (string, big), items */
	union {
		bool		 b;
		int64_t		 i;
		double		 d;
		const char	*s;	/* RV_STR, NK_BIG (decimal text) */
		struct rv	**a;	/* RV_ARR, RV_SET (sorted, unique) */
		struct rv_kv	*o;	/* RV_OBJ (sorted by key, unique) */
	} u;
};
struct rv_kv {
	struct rv	*k;
	struct rv	*v;
};

extern struct rv rv_null_v, rv_true_v, rv_false_v, rv_empty_str_v,
    rv_empty_arr_v, rv_empty_obj_v, rv_empty_set_v;
#define RV_NULLV	(&rv_null_v)
#define RV_TRUE		(&rv_true_v)
#define RV_FALSE	(&rv_false_v)

struct rv	*rv_bool(bool b);
struct rv	*rv_int(struct arena *a, int64_t i);
/* A double; integral values within int64 become NK_INT. */
struct rv	*rv_num_dbl(struct arena *a, double d);
/* A number from its decimal text (JSON grammar); NULL when malformed. */
struct rv	*rv_num_text(struct arena *a, const char *s, size_t n);
struct rv	*rv_str(struct arena *a, const char *s, size_t n);
struct rv	*rv_cstr(struct arena *a, const char *s);
/* Strings that outlive the arena (static or policy memory): no copy. */
struct rv	*rv_str_ref(struct arena *a, const char *s, size_t n);
struct rv	*rv_arr(struct arena *a, uint32_t n);	/* items to fill */
/* Sort and deduplicate n items in place into a set; takes items. */
struct rv	*rv_set_from(struct arena *a, struct rv **items, size_t n);
/*
 * Object from n pairs (takes pairs).  Duplicate keys with equal values
 * collapse; different values: NULL with *conflict set.
 */
struct rv	*rv_obj_from(struct arena *a, struct rv_kv *kv, size_t n,
		    bool *conflict);

int		 rv_cmp(const struct rv *a, const struct rv *b);
bool		 rv_eq(const struct rv *a, const struct rv *b);
bool		 rv_truthy(const struct rv *v);	/* defined and not false */
/* Lookups: NULL when absent. */
struct rv	*rv_obj_get(const struct rv *o, const struct rv *key);
struct rv	*rv_obj_gets(const struct rv *o, const char *key);
bool		 rv_set_has(const struct rv *s, const struct rv *v);
/* Index into array/object/set by key (Rego ref semantics). */
struct rv	*rv_index(const struct rv *coll, const struct rv *key);

/* Numbers. */
bool		 rv_is_int(const struct rv *v);	/* integral number */
bool		 rv_get_int(const struct rv *v, int64_t *out);
double		 rv_get_dbl(const struct rv *v);
const char	*rv_type_name(const struct rv *v);

/* JSON conversion (jansson).  rv_to_json returns a new reference. */
struct rv	*rv_from_json(struct arena *a, const json_t *j);
/* Strings point into j, which must outlive the value (evaluation input). */
struct rv	*rv_from_json_borrow(struct arena *a, const json_t *j);
json_t		*rv_to_json(const struct rv *v);

/* Text buffer used for printing. */
struct sbuf {
	char	*s;
	size_t	 len, cap;
	bool	 oom;
	struct arena *a;	/* NULL: heap (free with sbuf_free) */
};
void	 sbuf_init(struct sbuf *b, struct arena *a);
void	 sbuf_put(struct sbuf *b, const char *s, size_t n);
void	 sbuf_puts(struct sbuf *b, const char *s);
void	 sbuf_putc(struct sbuf *b, char c);
void	 sbuf_printf(struct sbuf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
const char *sbuf_cstr(struct sbuf *b);
void	 sbuf_free(struct sbuf *b);

/* JSON text of a value (sets as arrays, non-string keys stringified). */
void	 rv_write_json(struct sbuf *b, const struct rv *v);
/* An object key as a JSON string (non-string keys as their JSON text). */
void	 rv_write_json_key(struct sbuf *b, const struct rv *k);
/* Value of a hex digit, -1 when not one. */
int	 hexdigit(int c);
/* Rego syntax of a value (sets as {..}/set(), as OPA prints terms). */
void	 rv_write_rego(struct sbuf *b, const struct rv *v);
/* A number as OPA prints it. */
void	 rv_write_num(struct sbuf *b, const struct rv *v);
/* JSON string quoting. */
void	 sbuf_put_jstr(struct sbuf *b, const char *s, size_t n);

/*
 * Source locations and diagnostics.
 */
struct loc {
	const char	*file;
	uint32_t	 line, col;
};

/*
 * Lexer.
 */
enum tok {
	TK_EOF = 0, TK_ERR, TK_IDENT, TK_STRING, TK_NUMBER,
	TK_LBRACE, TK_RBRACE, TK_LBRACK, TK_RBRACK, TK_LPAREN, TK_RPAREN,
	TK_DOT, TK_COMMA, TK_SEMI, TK_COLON, TK_ASSIGN, TK_UNIFY, TK_EQ,
	TK_NE, TK_LT, TK_LE, TK_GT, TK_GE, TK_PLUS, TK_MINUS, TK_STAR,
	TK_SLASH, TK_PERCENT, TK_AMP, TK_BAR,
	/* keywords */
	TK_PACKAGE, TK_IMPORT, TK_AS, TK_DEFAULT, TK_ELSE, TK_NOT, TK_WITH,
	TK_SOME, TK_EVERY, TK_IN, TK_CONTAINS, TK_IF, TK_TRUE, TK_FALSE,
	TK_NULL
};

struct token {
	enum tok	 t;
	const char	*p;	/* start in source */
	size_t		 n;	/* length in source */
	char		*str;	/* TK_STRING: decoded (arena); TK_ERR: message */
	size_t		 slen;
	struct loc	 loc;
	bool		 nl;	/* a newline precedes it */
	bool		 ws;	/* whitespace precedes it */
};

struct lexer {
	struct arena	*a;
	const char	*src, *p, *end;
	const char	*file;
	uint32_t	 line;
	const char	*bol;	/* beginning of the current line */
};
void	 lex_init(struct lexer *lx, struct arena *a, const char *file,
	    const char *src, size_t len);
void	 lex_next(struct lexer *lx, struct token *t);
const char *tok_name(enum tok t);

/*
 * AST.
 */
/* Slots of the root documents (a T_VAR naming them). */
#define SLOT_DATA	(-2)
#define SLOT_INPUT	(-3)

enum term_kind {
	T_VALUE = 1,	/* constant value (scalar or ground composite) */
	T_VAR,
	T_REF,		/* head + operands */
	T_ARRAY, T_OBJECT, T_SET,
	T_ACOMP, T_SCOMP, T_OCOMP,
	T_CALL
};

struct body;
struct rule;
struct node;
struct builtin;

/* What a call term invokes, resolved by the compiler. */
enum call_kind { CK_NONE = 0, CK_BUILTIN, CK_FUNC, CK_DYN, CK_UNIFY };

struct term {
	uint8_t		 kind;		/* enum term_kind */
	uint8_t		 ground;	/* no variables anywhere (compile) */
	struct loc	 loc;
	uint32_t	*vars;		/* slots of free variables (compile) */
	uint32_t	 nvars;
	union {
		struct rv	*v;			/* T_VALUE */
		struct {
			const char	*name;
			int32_t		 slot;		/* -1 unresolved */
			bool		 wild;		/* `_` */
			bool		 decl;		/* declared with := / some */
		} var;
		struct {
			struct term	*head;
			struct term	**ops;
			uint32_t	 n;
			/* data refs: node reached by the first ndepth
			 * (constant) operands, set by the compiler */
			struct node	*node;
			uint32_t	 ndepth;
			struct rv	*base;	/* base data at the prefix */
		} ref;
		struct {
			struct term	**items;	/* arrays, sets */
			struct term	**vals;		/* objects: values */
			uint32_t	 n;
		} coll;
		struct {
			struct term	*key;		/* object comprehension */
			struct term	*val;		/* the head term */
			struct body	*body;
		} comp;
		struct {
			struct term	*fn;		/* name as a ref/var term */
			struct term	**args;
			uint32_t	 n;
			uint8_t		 ck;		/* enum call_kind */
			const struct builtin *bi;
			struct node	*fnode;		/* CK_FUNC */
			const char	*fname;		/* full name for mocks */
		} call;
	} u;
};

enum expr_kind {
	E_TERM = 1,	/* a term (often a call such as eq/equal/lt) */
	E_SOME,		/* `some x, y` declaration: no effect at run time */
	E_EVERY
};

struct with {
	struct term	*target;	/* input..., data..., or a function */
	struct term	*value;
	struct loc	 loc;
	/* resolved by the compiler */
	uint8_t		 kind;		/* WK_INPUT, WK_DATA, WK_FUNC */
	struct rv	**path;		/* path below input/data */
	uint32_t	 npath;
	const char	*fname;		/* WK_FUNC: function replaced */
	struct node	*rnode;		/* WK_FUNC: replacement function */
	const struct builtin *rbi;	/* WK_FUNC: replacement builtin */
};
enum { WK_INPUT = 1, WK_DATA, WK_FUNC };

struct expr {
	uint8_t		 kind;		/* enum expr_kind */
	bool		 neg;		/* not */
	struct loc	 loc;
	struct term	*t;		/* E_TERM */
	struct with	**withs;
	uint32_t	 nwith;
	/* E_EVERY */
	struct term	*ekey, *eval_;	/* ekey may be NULL */
	struct term	*edomain;
	struct body	*ebody;
	/* E_SOME: declared names, kept for diagnostics */
	struct term	**decl;
	uint32_t	 ndecl;
	/* compile: index into the source order; for reordering */
	uint32_t	 idx;
};

struct body {
	struct expr	**e;
	uint32_t	 n;
	struct loc	 loc;
};

/*
 * Rules.
 */
enum rule_kind { RK_COMPLETE = 1, RK_MULTI, RK_OBJ, RK_FUNC };

struct rule {
	uint8_t		 kind;		/* enum rule_kind */
	bool		 is_default;
	bool		 is_else;
	struct loc	 loc;
	const char	*module;	/* file name */
	struct term	*ref;		/* head reference (T_VAR or T_REF) */
	/* The rule's path below data: pkg + ref, split by the compiler. */
	struct term	**suffix;	/* dynamic part below the node */
	uint32_t	 nsuffix;
	struct term	*key;		/* RK_MULTI: element */
	struct term	*value;		/* value (true when omitted) */
	bool		 value_assign;	/* := rather than = */
	struct term	**args;		/* RK_FUNC */
	uint32_t	 nargs;
	struct body	*body;		/* NULL: always true */
	struct rule	*els;		/* else chain */
	struct node	*node;
	uint32_t	 nslots;
	const char	**slotnames;
	bool		 const_value;	/* value term is ground */
	struct module	*mod;
};

struct import {
	struct term	*path;		/* data... or input... */
	const char	*alias;
	struct loc	 loc;
};

struct module {
	const char	*file;
	struct term	*pkg;		/* ref data.x.y */
	struct rv	**pkgpath;	/* strings */
	uint32_t	 npkg;
	struct import	**imports;
	uint32_t	 nimports;
	struct rule	**rules;
	uint32_t	 nrules;
	struct loc	 loc;
};

/* The tree of documents defined by rules (and packages). */
enum node_kind { NK_NS = 0, NK_COMPLETE, NK_MULTI, NK_OBJ, NK_FUNC };

struct node {
	const char	*name;		/* key below the parent */
	size_t		 namelen;
	struct node	*parent;
	struct node	**kids;		/* sorted by name */
	uint32_t	 nkids;
	uint8_t		 kind;		/* rules at this node */
	struct rule	**rules;	/* non-default definitions */
	uint32_t	 nrules;
	struct rule	*deflt;
	uint32_t	 id;		/* index into evaluation caches */
	uint32_t	 arity;		/* NK_FUNC */
	const char	*path;		/* "data.a.b" */
	bool		 has_rules;	/* rules anywhere below (or here) */
	bool		 pkgrule;	/* first segment of a rule of its package */
	bool		 is_pkg;	/* a package path */
	/* recursion check */
	uint8_t		 mark;
	struct node	**deps;
	uint32_t	 ndeps;
};

/*
 * Builtins.
 */
struct ev;
typedef int (*bi_fn)(struct ev *ev, struct rv *const *args, struct rv **out);

struct builtin {
	const char	*name;
	int		 arity;		/* -1: any (unused) */
	bi_fn		 fn;
	uint8_t		 flags;
};
#define BI_NONDET	0x01	/* time.now_ns, rand, uuid: cached per query */
#define BI_ABSENT	0x02	/* known name, not available (network) */
#define BI_INFIX	0x04	/* operator */
#define BI_MULTI	0x08	/* returns an array of results to enumerate */

const struct builtin *builtin_find(const char *name);
const struct builtin *builtin_findn(const char *name, size_t n);
void	builtins_sort(void);

/* Families register through these tables. */
extern const struct builtin bi_core[], bi_strings[], bi_regex[],
    bi_object[], bi_time[], bi_crypto[], bi_net[], bi_misc[];

/* Errors raised by builtins (message formatted as OPA does). */
enum ev_err {
	EVE_NONE = 0,
	EVE_CONFLICT,		/* eval_conflict_error */
	EVE_TYPE,		/* eval_type_error */
	EVE_BUILTIN,		/* eval_builtin_error */
	EVE_LIMIT,		/* limit hit */
	EVE_INTERNAL,		/* eval_internal_error */
	EVE_NOMEM
};
#define BI_ERR	(-1000)		/* a builtin failed; see ev error */

int	bi_type_err(struct ev *ev, const char *fn, int argn, const char *want,
	    const struct rv *got);
int	bi_err(struct ev *ev, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	bi_type_errf(struct ev *ev, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
struct arena *ev_arena(struct ev *ev);
/* Forget a builtin error (the builtin handled it). */
void	 ev_clear_error(struct ev *ev);
/* 32 random bytes fixed for the evaluation (uuid.rfc4122). */
const unsigned char *ev_seed(struct ev *ev);
int64_t	 ev_now_ns(struct ev *ev);
struct rv *ev_str(struct ev *ev, const char *s, size_t n);
/* Call a Rego function value from a builtin (walk etc. do not need it). */

/* Argument helpers: return SF_OK or a BI_ERR type error. */
int	bi_arg_str(struct ev *ev, const char *fn, struct rv *const *args,
	    int i, const char **s, size_t *n);
int	bi_arg_num(struct ev *ev, const char *fn, struct rv *const *args,
	    int i);
int	bi_arg_int(struct ev *ev, const char *fn, struct rv *const *args,
	    int i, int64_t *out);
int	bi_arg_type(struct ev *ev, const char *fn, struct rv *const *args,
	    int i, enum rv_type t);
/* A fresh value in the evaluation arena. */
#define EVA(ev)	ev_arena(ev)

/* Helpers shared by builtin families. */
int	utf8_decode(const char *s, size_t n, size_t *i, uint32_t *cp);
size_t	rego_utf8_encode(uint32_t cp, char *out);
size_t	utf8_len(const char *s, size_t n);
bool	utf8_valid(const char *s, size_t n);
/* Go-style regular expressions (RE2 syntax) compiled for PCRE2. */
struct rx;
int	rx_compile(struct ev *ev, const char *pat, size_t n, struct rx **out);
/* Cached in the policy; errors are builtin errors. */

/*
 * The compiled policy.
 */
struct policy_c {
	struct arena	 a;		/* everything below lives here */
	struct module	**mods;
	uint32_t	 nmods;
	struct node	*root;		/* data */
	uint32_t	 nnodes;
	struct rv	*data;		/* base document (object) */
	char		*err;		/* first compile error (heap) */
};

int	rego_parse_module(struct arena *a, const char *file, const char *src,
	    size_t len, struct module **out, char **err);
int	rego_parse_query(struct arena *a, const char *src, size_t len,
	    struct body **out, char **err);
/* Parse a term (input_term in the conformance format). */
int	rego_parse_term(struct arena *a, const char *src, size_t len,
	    struct term **out, char **err);

/* Compile the modules (already parsed into pc). err (heap) on failure. */
int	rego_compile(struct policy_c *pc, char **err);

struct query {
	struct body	*body;
	uint32_t	 nslots;
	const char	**slotnames;
	/* user variables reported in result rows */
	uint32_t	*outs;
	uint32_t	 nouts;
};
int	rego_compile_query(struct policy_c *pc, struct arena *a,
	    const char *src, size_t len, struct query **out, char **err);

/* Evaluation options and limits. */
struct ev_opts {
	bool		 strict;	/* builtin errors are errors */
	uint64_t	 max_steps;	/* 0: default */
	size_t		 max_mem;	/* 0: default */
	size_t		 max_stack;	/* bytes of C stack, 0: default */
};

/*
 * Evaluate a compiled query.  Each row is produced by calling row() with
 * the bound values of q->outs (NULL for an unbound var); the callback
 * converts what it needs before the arena is reset.
 */
typedef int (*row_fn)(void *ctx, struct rv **vals, uint32_t n);
struct ev_result {
	enum ev_err	 code;
	char		 msg[512];
};
int	rego_eval(struct policy_c *pc, struct arena *a, const struct query *q,
	    struct rv *input, const struct ev_opts *o, row_fn row, void *ctx,
	    struct ev_result *res);
const char *ev_err_code(enum ev_err e);

/* Rego values from a term with no variables (data literals, input_term). */
int	rego_term_value(struct arena *a, const struct term *t, struct rv **out);

/* Evaluation sessions: queries in one session share rule caches. */
struct ev *rego_ev_new(struct policy_c *pc, struct arena *a,
	    struct rv *input, const struct ev_opts *o);
int	rego_ev_run(struct ev *ev, const struct query *q, row_fn row,
	    void *ctx, struct ev_result *res);

/* bundle.c */
int	bundle_add_path(struct policy_c *pc, const char *path, char **err);
int	bundle_add_data_text(struct policy_c *pc, const char *name,
	    const char *text, size_t len, char **err);
int	bundle_add_module_text(struct policy_c *pc, const char *name,
	    const char *text, size_t len, char **err);
int	bundle_parse_json(struct arena *a, const char *text, size_t len,
	    struct rv **out, char *msg, size_t msglen);
uint64_t bundle_signature(const char *dir);

#endif /* REGO_H */
