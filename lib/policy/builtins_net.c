/*
 * builtins_net.c - net.cidr_* builtins (IPv4 and IPv6).
 *
 * Addresses are kept as 16 bytes (IPv4 in the first 4) with a family and
 * a prefix length.  An IPv4 address without a prefix means its classful
 * network where OPA (Go's DefaultMask) does, a single host elsewhere.
 */
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "policy/rego.h"

#define A	EVA(ev)

struct net {
	int		 af;		/* 4 or 6 */
	unsigned char	 a[16];
	int		 prefix;
	bool		 has_prefix;
};

static int
addr_bits(const struct net *n)
{
	return n->af == 4 ? 32 : 128;
}

static void
mask_host(struct net *n)
{
	int	 i, bits = addr_bits(n);

	for (i = n->prefix; i < bits; i++)
		n->a[i / 8] &= (unsigned char)~(0x80 >> (i % 8));
}

/* Parse "addr" or "addr/len". */
static bool
parse_net(const char *s, size_t len, struct net *n)
{
	char		 buf[64], *slash, *end;
	long		 p;

	memset(n, 0, sizeof(*n));
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if ((slash = strchr(buf, '/')) != NULL) {
		*slash = '\0';
		if (slash[1] == '\0' || slash[1] == '+' || slash[1] == '-')
			return false;
		p = strtol(slash + 1, &end, 10);
		if (*end != '\0' || p < 0)
			return false;
		n->prefix = (int)p;
		n->has_prefix = true;
	}
	if (inet_pton(AF_INET, buf, n->a) == 1)
		n->af = 4;
	else if (inet_pton(AF_INET6, buf, n->a) == 1)
		n->af = 6;
	else
		return false;
	if (!n->has_prefix)
		n->prefix = addr_bits(n);
	return n->prefix <= addr_bits(n);
}

static bool
contains(const struct net *outer, const struct net *inner)
{
	struct net	 m;

	if (outer->af != inner->af || inner->prefix < outer->prefix)
		return false;
	m = *inner;
	m.prefix = outer->prefix;
	mask_host(&m);
	{
		struct net o = *outer;

		mask_host(&o);
		return memcmp(m.a, o.a, 16) == 0;
	}
}

static int
cidr_arg(struct ev *ev, const char *fn, const struct rv *v, int argn,
    bool need_prefix, struct net *n)
{
	if (v->t != RV_STR)
		return bi_type_err(ev, fn, argn, "string", v);
	if (!parse_net(v->u.s, v->n, n) || (need_prefix && !n->has_prefix))
		return bi_err(ev, "%s: invalid CIDR address: %.*s", fn,
		    (int)(v->n > 64 ? 64 : v->n), v->u.s);
	return SF_OK;
}

static int
bi_cidr_contains(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct net	 a, b;
	int		 rc;

	if ((rc = cidr_arg(ev, "net.cidr_contains", args[0], 1, true, &a)) !=
	    SF_OK ||
	    (rc = cidr_arg(ev, "net.cidr_contains", args[1], 2, false, &b)) !=
	    SF_OK)
		return rc;
	*out = rv_bool(contains(&a, &b));
	return SF_OK;
}

static int
bi_cidr_intersects(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct net	 a, b;
	int		 rc;

	if ((rc = cidr_arg(ev, "net.cidr_intersects", args[0], 1, true, &a)) !=
	    SF_OK ||
	    (rc = cidr_arg(ev, "net.cidr_intersects", args[1], 2, true, &b)) !=
	    SF_OK)
		return rc;
	*out = rv_bool(contains(&a, &b) || contains(&b, &a));
	return SF_OK;
}

static int
bi_cidr_is_valid(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct net	 n;

	(void)ev;
	*out = rv_bool(args[0]->t == RV_STR &&
	    parse_net(args[0]->u.s, args[0]->n, &n) && n.has_prefix);
	return SF_OK;
}

static struct rv *
net_str(struct ev *ev, const struct net *n, bool with_prefix)
{
	char	 buf[INET6_ADDRSTRLEN + 8];

	if (inet_ntop(n->af == 4 ? AF_INET : AF_INET6, n->a, buf,
	    sizeof(buf)) == NULL)
		return NULL;
	if (with_prefix)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "/%d",
		    n->prefix);
	return rv_cstr(A, buf);
}

static int
bi_cidr_expand(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct net	 n, h;
	struct rv	*v;
	uint64_t	 count, i;
	int		 rc, bits, k;

	if ((rc = cidr_arg(ev, "net.cidr_expand", args[0], 1, true, &n)) !=
	    SF_OK)
		return rc;
	bits = addr_bits(&n) - n.prefix;
	if (bits > 20)
		return bi_err(ev, "net.cidr_expand: CIDR too large to expand");
	count = (uint64_t)1 << bits;
	mask_host(&n);
	if ((v = rv_arr(A, (uint32_t)count)) == NULL)
		return SF_ENOMEM;
	for (i = 0; i < count; i++) {
		h = n;
		/* add i to the address */
		{
			uint64_t carry = i;

			for (k = addr_bits(&n) / 8 - 1; k >= 0 && carry; k--) {
				uint64_t s = h.a[k] + (carry & 0xff);

				h.a[k] = (unsigned char)s;
				carry = (carry >> 8) + (s >> 8);
			}
		}
		if ((v->u.a[i] = net_str(ev, &h, false)) == NULL)
			return SF_ENOMEM;
	}
	*out = v;
	return SF_OK;
}

/* Elements of cidr_contains_matches operands: (key, cidr string). */
struct cm_item {
	struct rv	*key;
	struct rv	*cidr;
};

static int
cm_items(struct ev *ev, const struct rv *v, int argn, struct cm_item **items,
    uint32_t *n)
{
	struct cm_item	*it;
	uint32_t	 i, k = 0, cnt;

	*items = NULL;
	*n = 0;
	cnt = v->t == RV_STR ? 1 : v->n;
	if ((it = arena_calloc(A, cnt + 1, sizeof(*it))) == NULL)
		return SF_ENOMEM;
	if (v->t == RV_STR) {
		it[0].key = (struct rv *)v;
		it[0].cidr = (struct rv *)v;
		*items = it;
		*n = 1;
		return SF_OK;
	}
	if (v->t != RV_ARR && v->t != RV_SET && v->t != RV_OBJ)
		return bi_type_err(ev, "net.cidr_contains_matches", argn,
		    "one of {string, array, set, object}", v);
	for (i = 0; i < v->n; i++) {
		struct rv *e = v->t == RV_OBJ ? v->u.o[i].v : v->u.a[i];
		struct rv *key;

		if (v->t == RV_ARR) {
			if ((key = rv_int(A, i)) == NULL)
				return SF_ENOMEM;
		} else if (v->t == RV_SET)
			key = e;
		else
			key = v->u.o[i].k;
		if (e->t == RV_ARR && e->n > 0 && e->u.a[0]->t == RV_STR)
			it[k].cidr = e->u.a[0];
		else if (e->t == RV_STR)
			it[k].cidr = e;
		else
			return bi_err(ev, "net.cidr_contains_matches: operand "
			    "%d: element must be string or non-empty array",
			    argn);
		it[k++].key = key;
	}
	*items = it;
	*n = k;
	return SF_OK;
}

static int
bi_cidr_contains_matches(struct ev *ev, struct rv *const *args,
    struct rv **out)
{
	struct cm_item	*a, *b;
	uint32_t	 na, nb, i, j, n = 0;
	struct rv	**res, *pair;
	struct net	 x, y;
	int		 rc;

	if ((rc = cm_items(ev, args[0], 1, &a, &na)) != SF_OK ||
	    (rc = cm_items(ev, args[1], 2, &b, &nb)) != SF_OK)
		return rc;
	if ((res = arena_alloc(A, ((size_t)na * nb + 1) * sizeof(*res))) ==
	    NULL)
		return SF_ENOMEM;
	for (i = 0; i < na; i++) {
		if ((rc = cidr_arg(ev, "net.cidr_contains_matches", a[i].cidr,
		    1, false, &x)) != SF_OK)
			return rc;
		for (j = 0; j < nb; j++) {
			if ((rc = cidr_arg(ev, "net.cidr_contains_matches",
			    b[j].cidr, 2, false, &y)) != SF_OK)
				return rc;
			if (!contains(&x, &y))
				continue;
			if ((pair = rv_arr(A, 2)) == NULL)
				return SF_ENOMEM;
			pair->u.a[0] = a[i].key;
			pair->u.a[1] = b[j].key;
			res[n++] = pair;
		}
	}
	*out = rv_set_from(A, res, n);
	return *out == NULL ? SF_ENOMEM : SF_OK;
}

static int
cmp_net(const void *x, const void *y)
{
	const struct net *a = x, *b = y;
	int		 c;

	if (a->af != b->af)
		return a->af < b->af ? -1 : 1;
	if ((c = memcmp(a->a, b->a, 16)) != 0)
		return c;
	return a->prefix < b->prefix ? -1 : a->prefix > b->prefix;
}

static int
bi_cidr_merge(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const struct rv	*v = args[0];
	struct net	*ns;
	struct rv	*r;
	uint32_t	 i, j, n = 0;
	bool		 changed;

	if (v->t != RV_ARR && v->t != RV_SET)
		return bi_type_err(ev, "net.cidr_merge", 1, "one of {array, set}",
		    v);
	if ((ns = arena_calloc(A, v->n + 1, sizeof(*ns))) == NULL)
		return SF_ENOMEM;
	for (i = 0; i < v->n; i++) {
		struct rv *s = v->u.a[i];

		if (s->t != RV_STR)
			return bi_type_errf(ev, "net.cidr_merge: operand 1 "
			    "must be array of strings");
		if (!parse_net(s->u.s, s->n, &ns[n]))
			return bi_err(ev, "net.cidr_merge: invalid CIDR: %.*s",
			    (int)(s->n > 64 ? 64 : s->n), s->u.s);
		if (!ns[n].has_prefix) {
			if (ns[n].af == 6)
				return bi_err(ev, "net.cidr_merge: IPv6 invalid: "
				    "needs prefix length");
			/* Go's DefaultMask: classful */
			ns[n].prefix = ns[n].a[0] < 0x80 ? 8 :
			    ns[n].a[0] < 0xc0 ? 16 : ns[n].a[0] < 0xe0 ? 24 : 32;
		}
		mask_host(&ns[n]);
		n++;
	}
	do {
		changed = false;
		qsort(ns, n, sizeof(*ns), cmp_net);
		/* drop duplicates and contained networks */
		for (i = 0, j = 0; i < n; i++) {
			if (j > 0 && contains(&ns[j - 1], &ns[i])) {
				changed = changed || true;
				continue;
			}
			ns[j++] = ns[i];
		}
		if (j != n)
			changed = true;
		n = j;
		/* merge sibling pairs */
		for (i = 0; i + 1 < n; i++) {
			struct net p = ns[i];

			if (ns[i].af != ns[i + 1].af || ns[i].prefix == 0 ||
			    ns[i].prefix != ns[i + 1].prefix)
				continue;
			p.prefix--;
			mask_host(&p);
			if (contains(&p, &ns[i + 1]) &&
			    memcmp(p.a, ns[i].a, 16) == 0) {
				ns[i] = p;
				memmove(&ns[i + 1], &ns[i + 2],
				    (n - i - 2) * sizeof(*ns));
				n--;
				changed = true;
			}
		}
	} while (changed);
	if ((r = rv_arr(A, n)) == NULL)
		return SF_ENOMEM;
	for (i = 0; i < n; i++)
		if ((r->u.a[i] = net_str(ev, &ns[i], true)) == NULL)
			return SF_ENOMEM;
	*out = r;
	return SF_OK;
}

const struct builtin bi_net[] = {
	{ "net.cidr_contains", 2, bi_cidr_contains, 0 },
	{ "net.cidr_overlap", 2, bi_cidr_contains, 0 },
	{ "net.cidr_intersects", 2, bi_cidr_intersects, 0 },
	{ "net.cidr_is_valid", 1, bi_cidr_is_valid, 0 },
	{ "net.cidr_expand", 1, bi_cidr_expand, 0 },
	{ "net.cidr_contains_matches", 2, bi_cidr_contains_matches, 0 },
	{ "net.cidr_merge", 1, bi_cidr_merge, 0 },
	{ NULL, 0, NULL, 0 }
};
