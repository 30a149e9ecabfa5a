/*
 * revoke.c - revocations: the durable entries and their journal in the
 * store, the in-memory index every deciding process keeps, and the
 * federation export and hash.
 *
 * Index.  A dense array of 40-byte entries (128-bit digest of
 * "kind:id", time, expiry, interned reason, flags) and an open-addressed
 * table of 64-bit slots, each 32 bits of the digest and the entry number
 * (linear probing, load <= 0.7, deletion by backward shift), so a probe
 * reads the entry only when the 32-bit tag already matches.  The
 * identifier itself is not kept: a lookup hashes "kind:id" with a seeded
 * 128-bit mixing hash and compares digests.  Two different identifiers
 * sharing a digest could only make a lookup answer "revoked" for a
 * subject that is not (it never lets a revoked one through), and with
 * random 128-bit seeds per process that takes about 2^64 identifiers.
 * At 1 million entries the index holds 40 MiB of entries and 16 MiB of
 * table (the arrays are mapped with transparent huge pages advised, to
 * spare the TLB); a check is one hash of ~60 bytes, one cache miss for a
 * subject not revoked and two for one revoked.  Forked workers share the
 * arrays copy-on-write.
 *
 * Journal.  A full walk of the store costs about a second at 1 million
 * entries and holds the read lock meanwhile, so processes must not walk
 * on every change.  Every change is written by revoke_commit inside one
 * store batch as: for each op, its journal record "revlog/<seq>" (16 hex
 * digits) then its data ("revoked/<kind>:<id>", or a MARK key), then
 * "revlog/head" = the last seq.  head is the commit point: readers apply
 * records up to head only.  store_batch keeps a prefix of its writes when
 * the writer dies, so a crash leaves at worst records past head whose
 * data may be partly written; the next commit (and revoke_recover, which
 * signals.fcgi runs at start) first rolls such records forward (a record
 * holds the full new value, so re-applying it is idempotent) and then
 * moves head past them.  Readers refresh in revoke_refresh: the change
 * marker (one load) tells whether anything in the store moved; if so they
 * read head and each record after their position (8 us per read at 1
 * million entries; a backlog of more than REVOKE_CATCHUP_DIRECT records
 * is read under one open of the store, a few us per record).  A reader
 * more than REVOKE_CATCHUP records behind, or finding a record already
 * trimmed, rebuilds with a walk.  A full load
 * reads head first, walks, and then applies the records committed after
 * that head: records are whole-value puts and deletes applied in order,
 * so replaying one the walk already saw changes nothing.
 * The ring.  Even those reads cost: each waits for the store's lock,
 * which a committing writer holds through its fsync, so at a thousand
 * pushes a second readers would spend much of their time queued behind
 * signals.fcgi.  So every committed record is also posted, after the
 * commit's sync, to a shared-memory ring beside the store (PATH.revlog:
 * a header with the last posted seq and a tools revision, then
 * REVOKE_RING_SLOTS slots of seq + record).  Posting takes an OFD lock
 * on the ring file (writers only); a slot is invalidated (seq 0) while
 * written and its seq stored last with release order.  Readers check seq
 * before and after copying a slot and fall back to the store for any
 * record the ring does not hold intact.  The trigger to refresh is the
 * store's marker or the ring's head moving; when the ring head moved the
 * store's head is not read at all.  The ring only ever speeds things up:
 * a writer that dies between its commit and its post leaves readers to
 * find the record in the store at the next marker move, and a commit
 * made without the ring (a process that did not call revoke_ring_open)
 * is found through the store the same way.
 * The journal is trimmed by the writers, a few records per commit: a
 * record goes once it is older than REVOKE_LOG_RETAIN seconds or the
 * journal holds more than REVOKE_LOG_MAX records, but the newest
 * REVOKE_LOG_KEEP always stay.  MARK keys (seen SET jtis) go with their
 * record, which bounds them in time and number without a walk.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "starfly.h"

#define REVOKE_LOG_KEEP		1024		/* records always kept */
#define REVOKE_LOG_MAX		262144		/* records at most */
#define REVOKE_LOG_RETAIN	86400		/* seconds a record is kept */
#define REVOKE_CATCHUP		65536		/* past this, rebuild */
#define REVOKE_CATCHUP_DIRECT	32		/* past this, one open */
#define REVOKE_RING_SLOTS	4096
#define REVOKE_RING_REC		1008		/* record bytes per slot */
#define REVOKE_RING_MAGIC	0x53465256524e4731ull	/* "SFRVRNG1" */
#define REVOKE_ID_MAX		500
#define REVOKE_REASONS_MAX	65536
#define REVOKE_BIG		(4u << 20)	/* mmap at or above */

struct rv_entry {
	uint64_t	 d[2];		/* digest of "kind:id" */
	int64_t		 time;
	int64_t		 expires;	/* 0: until lifted */
	uint32_t	 reason;	/* 1-based into reasons; 0: none */
	uint32_t	 flags;
};
#define RV_LIFTED	0x1u

struct revoke_index {
	struct rv_entry	*ent;
	size_t		 n, ncap;
	uint64_t	*slot;		/* tag << 32 | entry number + 1 */
	size_t		 scap;		/* power of two */
	uint64_t	 seed[2];
	char		**reasons;
	size_t		 nreasons, rcap;
	size_t		 rbytes;
	uint64_t	 gen;		/* store generation seen */
	uint64_t	 seq;		/* journal position */
	bool		 tied;		/* loaded from a store */
};

/*
 * Hashing: a seeded two-lane mixing hash (each lane a bijective 64-bit
 * mix per word), not a cryptographic primitive: see the design note.
 */
static inline uint64_t
mix64(uint64_t x)
{
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	return x;
}

static inline uint64_t
rotl64(uint64_t x, unsigned int r)
{
	return (x << r) | (x >> (64 - r));
}

static void
hash_buf(const uint64_t seed[2], const unsigned char *p, size_t n,
    uint64_t d[2])
{
	uint64_t a = seed[0] ^ (n * 0x9e3779b97f4a7c15ull);
	uint64_t b = seed[1] + n;
	uint64_t w;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		a = mix64(a ^ w);
		b = mix64(b + (rotl64(w, 32) ^ 0x94d049bb133111ebull)) ^
		    rotl64(a, 23);
	}
	if (i < n) {
		w = 0;
		memcpy(&w, p + i, n - i);
		a = mix64(a ^ w ^ 0x80);
		b = mix64(b + (rotl64(w, 32) ^ 0xbf58476d1ce4e5b9ull)) ^
		    rotl64(a, 23);
	}
	d[0] = mix64(a ^ rotl64(b, 17));
	d[1] = mix64(b + a);
}

/* Digest of "kind:id"; false when too long to be an entry. */
static bool
digest(const struct revoke_index *ix, const char *kind, const char *id,
    uint64_t d[2])
{
	unsigned char buf[8 + REVOKE_ID_MAX + 1];
	size_t kl = strlen(kind), il = strlen(id);

	if (kl > 7 || il > REVOKE_ID_MAX)
		return false;
	memcpy(buf, kind, kl);
	buf[kl] = ':';
	memcpy(buf + kl + 1, id, il);
	hash_buf(ix->seed, buf, kl + 1 + il, d);
	return true;
}

/* Well-formed UTF-8 (RFC 3629) without C0 controls or DEL. */
static bool
text_ok(const unsigned char *p)
{
	unsigned int c, n, i;

	while (*p != '\0') {
		c = *p;
		if (c < 0x20 || c == 0x7f)
			return false;
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3;
		else
			return false;
		for (i = 1; i <= n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		/* Overlong, surrogate and out-of-range forms. */
		if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) ||
		    (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
			return false;
		p += n + 1;
	}
	return true;
}

bool
revoke_valid(const char *kind, const char *id)
{
	size_t n;

	if (kind == NULL || id == NULL ||
	    (strcmp(kind, "sub") != 0 && strcmp(kind, "jti") != 0))
		return false;
	n = strlen(id);
	return n > 0 && n <= REVOKE_ID_MAX &&
	    text_ok((const unsigned char *)id);
}

/*
 * The index.
 */

/*
 * Zeroed arrays; large ones are mapped and advised to use huge pages.
 * The size must be given again to big_free.
 */
static void *
big_alloc(size_t size)
{
	void *p;

	if (size < REVOKE_BIG)
		return calloc(1, size);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	(void)madvise(p, size, MADV_HUGEPAGE);
	return p;
}

static void
big_free(void *p, size_t size)
{
	if (p == NULL)
		return;
	if (size < REVOKE_BIG)
		free(p);
	else
		(void)munmap(p, size);
}

static inline uint64_t
slot_make(const uint64_t d[2], size_t k)
{
	return (d[1] & 0xffffffff00000000ull) | (uint64_t)(k + 1);
}

static inline size_t
slot_entry(uint64_t s)
{
	return (size_t)(s & 0xffffffffu) - 1;
}

int
revoke_new(struct revoke_index **out)
{
	struct revoke_index *ix;
	int rc;

	*out = NULL;
	if ((ix = calloc(1, sizeof(*ix))) == NULL)
		return SF_ENOMEM;
	ix->scap = 64;
	if ((ix->slot = big_alloc(ix->scap * sizeof(*ix->slot))) == NULL) {
		free(ix);
		return SF_ENOMEM;
	}
	if ((rc = sf_random(ix->seed, sizeof(ix->seed))) != SF_OK) {
		big_free(ix->slot, ix->scap * sizeof(*ix->slot));
		free(ix);
		return rc;
	}
	*out = ix;
	return SF_OK;
}

static void
index_clear(struct revoke_index *ix)
{
	size_t i;

	for (i = 0; i < ix->nreasons; i++)
		free(ix->reasons[i]);
	free(ix->reasons);
	big_free(ix->ent, ix->ncap * sizeof(*ix->ent));
	big_free(ix->slot, ix->scap * sizeof(*ix->slot));
}

void
revoke_free(struct revoke_index *ix)
{
	if (ix == NULL)
		return;
	index_clear(ix);
	free(ix);
}

size_t
revoke_count(const struct revoke_index *ix)
{
	return ix != NULL ? ix->n : 0;
}

size_t
revoke_live(const struct revoke_index *ix, int64_t now)
{
	size_t i, n = 0;

	for (i = 0; ix != NULL && i < ix->n; i++)
		if (ix->ent[i].expires == 0 || ix->ent[i].expires > now)
			n++;
	return n;
}

size_t
revoke_memory(const struct revoke_index *ix)
{
	if (ix == NULL)
		return 0;
	return sizeof(*ix) + ix->ncap * sizeof(*ix->ent) +
	    ix->scap * sizeof(*ix->slot) + ix->rcap * sizeof(char *) +
	    ix->rbytes;
}

uint64_t
revoke_position(const struct revoke_index *ix)
{
	return ix != NULL ? ix->seq : 0;
}

/* Slot holding digest d, or the empty slot where it would go. */
static size_t
probe(const struct revoke_index *ix, const uint64_t d[2], bool *found)
{
	size_t mask = ix->scap - 1, i;
	uint64_t tag = d[1] & 0xffffffff00000000ull, s;
	const struct rv_entry *e;

	for (i = (size_t)d[0] & mask; ; i = (i + 1) & mask) {
		if ((s = ix->slot[i]) == 0) {
			*found = false;
			return i;
		}
		if ((s & 0xffffffff00000000ull) != tag)
			continue;
		e = &ix->ent[slot_entry(s)];
		if (e->d[0] == d[0] && e->d[1] == d[1]) {
			*found = true;
			return i;
		}
	}
}

static int
grow_slots(struct revoke_index *ix)
{
	size_t ncap = ix->scap * 2, k, i;
	uint64_t *ns;

	if ((ns = big_alloc(ncap * sizeof(*ns))) == NULL)
		return SF_ENOMEM;
	for (k = 0; k < ix->n; k++) {
		for (i = (size_t)ix->ent[k].d[0] & (ncap - 1); ns[i] != 0;
		    i = (i + 1) & (ncap - 1))
			;
		ns[i] = slot_make(ix->ent[k].d, k);
	}
	big_free(ix->slot, ix->scap * sizeof(*ix->slot));
	ix->slot = ns;
	ix->scap = ncap;
	return SF_OK;
}

/* 1-based id of reason (copied on first sight); 0 for none. */
static uint32_t
intern(struct revoke_index *ix, const char *reason, size_t len)
{
	char **nr;
	size_t i;

	if (reason == NULL)
		return 0;
	/* Reasons are few (event URIs, operator notes): a short scan from
	 * the newest, which is also the likeliest. */
	for (i = ix->nreasons; i > 0; i--)
		if (strncmp(ix->reasons[i - 1], reason, len) == 0 &&
		    ix->reasons[i - 1][len] == '\0')
			return (uint32_t)i;
	if (ix->nreasons >= REVOKE_REASONS_MAX)
		return 0;
	if (ix->nreasons == ix->rcap) {
		size_t nc = ix->rcap ? ix->rcap * 2 : 16;

		if ((nr = realloc(ix->reasons, nc * sizeof(*nr))) == NULL)
			return 0;
		ix->reasons = nr;
		ix->rcap = nc;
	}
	if ((ix->reasons[ix->nreasons] = sf_strndup(reason, len)) == NULL)
		return 0;
	ix->rbytes += len + 1;
	return (uint32_t)++ix->nreasons;
}

/* Insert or overwrite the entry of digest d. */
static int
index_set(struct revoke_index *ix, const uint64_t d[2], int64_t time,
    int64_t expires, uint32_t flags, const char *reason, size_t rlen)
{
	struct rv_entry *e, *ne;
	size_t i;
	bool found;
	int rc;

	if ((ix->n + 1) * 10 > ix->scap * 7 && (rc = grow_slots(ix)) != SF_OK)
		return rc;
	i = probe(ix, d, &found);
	if (!found) {
		if (ix->n >= UINT32_MAX - 1)
			return SF_ELIMIT;
		if (ix->n == ix->ncap) {
			size_t nc = ix->ncap ? ix->ncap * 2 : 64;

			if ((ne = big_alloc(nc * sizeof(*ne))) == NULL)
				return SF_ENOMEM;
			if (ix->n > 0)
				memcpy(ne, ix->ent, ix->n * sizeof(*ne));
			big_free(ix->ent, ix->ncap * sizeof(*ix->ent));
			ix->ent = ne;
			ix->ncap = nc;
		}
		e = &ix->ent[ix->n];
		e->d[0] = d[0];
		e->d[1] = d[1];
		ix->slot[i] = slot_make(d, ix->n);
		ix->n++;
	} else
		e = &ix->ent[slot_entry(ix->slot[i])];
	e->time = time;
	e->expires = expires;
	e->flags = flags;
	e->reason = intern(ix, reason, rlen);
	return SF_OK;
}

/* Remove the entry of digest d if present (backward-shift deletion). */
static void
index_del(struct revoke_index *ix, const uint64_t d[2])
{
	size_t mask = ix->scap - 1, i, j, k, home, last;
	bool found;

	i = probe(ix, d, &found);
	if (!found)
		return;
	k = slot_entry(ix->slot[i]);
	/* Empty slot i, then shift later members of the cluster back. */
	ix->slot[i] = 0;
	for (j = (i + 1) & mask; ix->slot[j] != 0; j = (j + 1) & mask) {
		home = (size_t)ix->ent[slot_entry(ix->slot[j])].d[0] & mask;
		/* Move j to i when home is not cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && (home <= i && home > j))) {
			ix->slot[i] = ix->slot[j];
			ix->slot[j] = 0;
			i = j;
		}
	}
	/* Keep the entries dense: the last one moves into k. */
	last = ix->n - 1;
	if (k != last) {
		i = probe(ix, ix->ent[last].d, &found);
		ix->ent[k] = ix->ent[last];
		ix->slot[i] = slot_make(ix->ent[k].d, k);
	}
	ix->n--;
}

int
revoke_add(struct revoke_index *ix, const char *kind, const char *id,
    int64_t time, int64_t expires, const char *reason)
{
	uint64_t d[2];

	if (ix == NULL || !revoke_valid(kind, id) || !digest(ix, kind, id, d))
		return SF_EINVAL;
	return index_set(ix, d, time, expires, 0, reason,
	    reason ? strlen(reason) : 0);
}

int
revoke_check(const struct revoke_index *ix, const char *kind, const char *id,
    int64_t iat, int64_t now, const char **reason)
{
	const struct rv_entry *e;
	uint64_t d[2];
	size_t i;
	bool found;

	if (reason != NULL)
		*reason = NULL;
	if (ix == NULL || ix->n == 0 || id == NULL || kind == NULL)
		return SF_OK;
	if (!digest(ix, kind, id, d))
		return SF_OK;		/* longer than any entry */
	i = probe(ix, d, &found);
	if (!found)
		return SF_OK;
	e = &ix->ent[slot_entry(ix->slot[i])];
	if (e->expires != 0 && e->expires <= now)
		return SF_OK;
	if ((e->flags & RV_LIFTED) && (iat == 0 || iat > e->time))
		return SF_OK;
	if (reason != NULL && e->reason != 0)
		*reason = ix->reasons[e->reason - 1];
	return SF_EREVOKED;
}

/*
 * Stored values.
 */

struct rv_val {
	int64_t		 time;
	int64_t		 expires;
	bool		 lifted;
	const char	*reason;	/* borrowed from the value or json */
	size_t		 rlen;
	json_t		*json;		/* when decoded with jansson */
};

static void
rv_val_clear(struct rv_val *v)
{
	json_decref(v->json);
	memset(v, 0, sizeof(*v));
}

/* Leading integer of s into *out; returns past it or NULL. */
static const char *
scan_int(const char *s, const char *end, int64_t *out)
{
	int64_t v = 0;
	bool neg = false;
	const char *p = s;

	if (p < end && *p == '-') {
		neg = true;
		p++;
	}
	if (p >= end || *p < '0' || *p > '9')
		return NULL;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (v > (INT64_MAX - 9) / 10)
			return NULL;
		v = v * 10 + (*p - '0');
	}
	*out = neg ? -v : v;
	return p;
}

static const char *
scan_lit(const char *s, const char *end, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(end - s) < n || memcmp(s, lit, n) != 0)
		return NULL;
	return s + n;
}

/*
 * Decode a stored value.  The values revoke_commit writes start with
 * {"time":N,"expires":N,"lifted":D and hold no backslash in the reason;
 * those are read by scanning (a full load reads a million of them under
 * the store's read lock).  Anything else goes through jansson.
 */
static int
rv_decode(const char *val, size_t len, struct rv_val *v)
{
	const char *end = val + len, *p, *r, *q;
	int64_t l;
	json_t *o, *m;

	memset(v, 0, sizeof(*v));
	if ((p = scan_lit(val, end, "{\"time\":")) != NULL &&
	    (p = scan_int(p, end, &v->time)) != NULL &&
	    (p = scan_lit(p, end, ",\"expires\":")) != NULL &&
	    (p = scan_int(p, end, &v->expires)) != NULL &&
	    (p = scan_lit(p, end, ",\"lifted\":")) != NULL &&
	    (p = scan_int(p, end, &l)) != NULL && (l == 0 || l == 1)) {
		v->lifted = l == 1;
		/* ,"reason":" cannot occur inside a JSON string. */
		r = memmem(p, (size_t)(end - p), ",\"reason\":\"", 11);
		if (r == NULL)
			return SF_OK;
		r += 11;
		q = memchr(r, '"', (size_t)(end - r));
		if (q != NULL && memchr(r, '\\', (size_t)(q - r)) == NULL) {
			v->reason = r;
			v->rlen = (size_t)(q - r);
			return SF_OK;
		}
	}
	memset(v, 0, sizeof(*v));
	if ((o = json_loadb(val, len, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
	    !json_is_object(o)) {
		json_decref(o);
		return SF_EPARSE;
	}
	v->json = o;
	v->time = json_integer_value(json_object_get(o, "time"));
	v->expires = json_integer_value(json_object_get(o, "expires"));
	m = json_object_get(o, "lifted");
	v->lifted = json_is_true(m) || json_integer_value(m) == 1;
	if ((v->reason = json_string_value(json_object_get(o, "reason"))) !=
	    NULL)
		v->rlen = strlen(v->reason);
	return SF_OK;
}

/* The stored value of an entry (new string). */
static char *
rv_encode(const char *kind, const char *id, int64_t time, int64_t expires,
    bool lifted, const char *reason, const char *event, const char *source)
{
	json_t *o;
	char *s;

	o = json_pack("{s:I, s:I, s:i, s:s, s:s}", "time", (json_int_t)time,
	    "expires", (json_int_t)expires, "lifted", lifted ? 1 : 0,
	    "kind", kind, "id", id);
	if (o == NULL)
		return NULL;
	if ((reason != NULL && json_object_set_new(o, "reason",
	    json_string(reason)) != 0) || (event != NULL &&
	    json_object_set_new(o, "event", json_string(event)) != 0) ||
	    (source != NULL && json_object_set_new(o, "source",
	    json_string(source)) != 0)) {
		json_decref(o);
		return NULL;
	}
	s = json_dump_compact(o);
	json_decref(o);
	return s;
}

/* Split a store key "kind:id" in place into buf. */
static bool
split_key(const char *key, char kind[8], const char **id)
{
	const char *c = strchr(key, ':');

	if (c == NULL || c == key || (size_t)(c - key) >= 8 || c[1] == '\0')
		return false;
	memcpy(kind, key, (size_t)(c - key));
	kind[c - key] = '\0';
	*id = c + 1;
	return revoke_valid(kind, *id);
}

/* Apply one stored value (or its absence) for key to the index. */
static int
index_apply(struct revoke_index *ix, const char *key, const char *val,
    size_t len, int64_t now)
{
	struct rv_val v;
	char kind[8];
	const char *id;
	uint64_t d[2];
	int rc = SF_OK;

	if (!split_key(key, kind, &id) || !digest(ix, kind, id, d)) {
		log_warn("revoked/%s: not a revocation key; ignored", key);
		return SF_OK;
	}
	if (val == NULL) {
		index_del(ix, d);
		return SF_OK;
	}
	if (rv_decode(val, len, &v) != SF_OK) {
		log_warn("revoked/%s: unreadable entry ignored", key);
		return SF_OK;
	}
	if (v.expires != 0 && v.expires <= now)
		index_del(ix, d);
	else
		rc = index_set(ix, d, v.time, v.expires,
		    v.lifted ? RV_LIFTED : 0, v.reason, v.rlen);
	rv_val_clear(&v);
	return rc;
}

/*
 * The ring: the journal's tail in shared memory (see the design note).
 */

struct ring_slot {
	_Atomic uint64_t seq;		/* 0 while written */
	uint32_t	 len;
	uint32_t	 pad;
	char		 rec[REVOKE_RING_REC];
};

struct ring_map {
	uint64_t	 magic;
	uint64_t	 slots;
	_Atomic uint64_t head;		/* highest seq posted */
	_Atomic uint64_t tools;		/* tool registry revision */
	char		 pad[4096 - 32];
	struct ring_slot s[REVOKE_RING_SLOTS];
};

static struct {
	struct ring_map	*m;
	char		*path;
	int		 fd;
	pid_t		 pid;
} ring = { NULL, NULL, -1, 0 };

static int
ring_lock(int fd, short type)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	while (fcntl(fd, F_OFD_SETLKW, &fl) == -1)
		if (errno != EINTR)
			return SF_ESYS;
	return SF_OK;
}

/* After fork: a descriptor of our own, so the OFD lock excludes. */
static int
ring_fd(void)
{
	int fd;

	if (ring.pid == getpid())
		return ring.fd;
	if ((fd = open(ring.path, O_RDWR | O_CLOEXEC)) == -1)
		return -1;
	if (ring.pid != 0)
		close(ring.fd);
	ring.fd = fd;
	ring.pid = getpid();
	return fd;
}

int
revoke_ring_open(const char *store_path)
{
	struct ring_map *m;
	struct stat sb;
	uint64_t hdr[2];
	char *path = NULL;
	bool fresh = false;
	int fd = -1, rc = SF_ESYS;

	if (ring.m != NULL)
		return SF_OK;
	if (sf_asprintf(&path, "%s.revlog", store_path) != SF_OK)
		return SF_ENOMEM;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0660)) == -1 ||
	    fchmod(fd, 0660) == -1 || ring_lock(fd, F_WRLCK) != SF_OK ||
	    fstat(fd, &sb) == -1)
		goto fail;
	/*
	 * A ring of another size or without its magic is zeroed through
	 * the file (truncated and grown again), not with a memset of the
	 * mapping, which would make all its pages count as this process's
	 * own memory.  Under the write lock: no other process is in here.
	 */
	if ((size_t)sb.st_size != sizeof(struct ring_map) ||
	    pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
	    hdr[0] != REVOKE_RING_MAGIC || hdr[1] != REVOKE_RING_SLOTS) {
		if (ftruncate(fd, 0) == -1 ||
		    ftruncate(fd, (off_t)sizeof(struct ring_map)) == -1)
			goto fail;
		fresh = true;
	}
	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		goto fail;
	if (fresh) {
		m->slots = REVOKE_RING_SLOTS;
		atomic_thread_fence(memory_order_release);
		m->magic = REVOKE_RING_MAGIC;
	}
	(void)ring_lock(fd, F_UNLCK);
	ring.m = m;
	ring.path = path;
	ring.fd = fd;
	ring.pid = getpid();
	return SF_OK;
fail:
	log_warn("revocation ring %s: %s; readers will use the store",
	    path, strerror(errno));
	if (fd != -1)
		close(fd);
	free(path);
	return rc;
}

void
revoke_ring_close(void)
{
	if (ring.m == NULL)
		return;
	(void)munmap(ring.m, sizeof(*ring.m));
	if (ring.pid == getpid())
		close(ring.fd);
	free(ring.path);
	ring.m = NULL;
	ring.path = NULL;
	ring.fd = -1;
	ring.pid = 0;
}

uint64_t
revoke_ring_head(void)
{
	return ring.m != NULL ? atomic_load_explicit(&ring.m->head,
	    memory_order_acquire) : 0;
}

uint64_t
revoke_ring_tools(void)
{
	return ring.m != NULL ? atomic_load_explicit(&ring.m->tools,
	    memory_order_acquire) : 0;
}

void
revoke_ring_note_tools(void)
{
	if (ring.m != NULL)
		atomic_fetch_add_explicit(&ring.m->tools, 1,
		    memory_order_release);
}

struct post {
	uint64_t	 seq;
	char		*rec;
};

/* Post committed records (after the commit's sync). */
static void
ring_post(const struct post *p, size_t n)
{
	struct ring_slot *sl;
	uint64_t top = 0, h;
	size_t i, len;
	int fd;

	if (ring.m == NULL || n == 0 || (fd = ring_fd()) == -1 ||
	    ring_lock(fd, F_WRLCK) != SF_OK)
		return;
	for (i = 0; i < n; i++) {
		sl = &ring.m->s[p[i].seq % REVOKE_RING_SLOTS];
		atomic_store_explicit(&sl->seq, 0, memory_order_relaxed);
		atomic_thread_fence(memory_order_release);
		len = strlen(p[i].rec);
		if (len <= REVOKE_RING_REC) {
			memcpy(sl->rec, p[i].rec, len);
			sl->len = (uint32_t)len;
			atomic_store_explicit(&sl->seq, p[i].seq,
			    memory_order_release);
		}
		if (p[i].seq > top)
			top = p[i].seq;
	}
	h = atomic_load_explicit(&ring.m->head, memory_order_relaxed);
	if (top > h)
		atomic_store_explicit(&ring.m->head, top, memory_order_release);
	(void)ring_lock(fd, F_UNLCK);
}

/* Record seq from the ring into buf (NUL-terminated), if held intact. */
static bool
ring_get(uint64_t seq, char buf[REVOKE_RING_REC + 1], size_t *len)
{
	struct ring_slot *sl;

	if (ring.m == NULL)
		return false;
	sl = &ring.m->s[seq % REVOKE_RING_SLOTS];
	if (atomic_load_explicit(&sl->seq, memory_order_acquire) != seq)
		return false;
	*len = sl->len;
	if (*len > REVOKE_RING_REC)
		return false;
	memcpy(buf, sl->rec, *len);
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&sl->seq, memory_order_relaxed) != seq)
		return false;
	buf[*len] = '\0';
	return true;
}

/*
 * The journal.
 */

static void
seq_key(uint64_t seq, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)seq);
}

static int
counter_parse(const char *val, uint64_t *out)
{
	long long v;

	if (sf_strtonum(val, 0, INT64_MAX, &v) != SF_OK)
		return SF_ESTORE;
	*out = (uint64_t)v;
	return SF_OK;
}

static int
batch_counter(struct store_batch *b, const char *name, uint64_t dflt,
    uint64_t *out)
{
	char *val = NULL;
	size_t len;
	int rc;

	*out = dflt;
	rc = store_batch_get(b, REVOKE_LOG_NS, name, &val, &len);
	if (rc == SF_ENOTFOUND)
		return SF_OK;
	if (rc == SF_OK) {
		rc = counter_parse(val, out);
		if (rc != SF_OK)
			log_err("store: %s/%s is not a number", REVOKE_LOG_NS,
			    name);
	}
	free(val);
	return rc;
}

static int
batch_put_counter(struct store_batch *b, const char *name, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return store_batch_put(b, REVOKE_LOG_NS, name, buf, strlen(buf),
	    STORE_REPLACE);
}

/* Parse a journal record (new reference) or NULL. */
static json_t *
record_parse(const char *val, size_t len)
{
	json_t *r = json_loadb(val, len, JSON_REJECT_DUPLICATES, NULL);

	if (r == NULL || !json_is_object(r) ||
	    !json_is_string(json_object_get(r, "op"))) {
		json_decref(r);
		return NULL;
	}
	return r;
}

/* The data write a record stands for (also its roll-forward). */
static int
record_apply_store(struct store_batch *b, const json_t *r)
{
	const char *op = json_string_value(json_object_get(r, "op"));
	const char *key = json_string_value(json_object_get(r, "key"));
	const char *ns = json_string_value(json_object_get(r, "ns"));
	const char *val = json_string_value(json_object_get(r, "val"));
	int rc;

	if (key == NULL)
		return SF_ESTORE;
	if (strcmp(op, "put") == 0 && val != NULL)
		return store_batch_put(b, REVOKE_NS, key, val, strlen(val),
		    STORE_REPLACE);
	if (strcmp(op, "del") == 0) {
		rc = store_batch_del(b, REVOKE_NS, key);
		return rc == SF_ENOTFOUND ? SF_OK : rc;
	}
	if (strcmp(op, "mark") == 0 && ns != NULL && val != NULL)
		return store_batch_put(b, ns, key, val, strlen(val),
		    STORE_REPLACE);
	return SF_ESTORE;
}

static int
batch_put_record(struct store_batch *b, uint64_t seq, const char *s)
{
	char k[17];

	seq_key(seq, k);
	return store_batch_put(b, REVOKE_LOG_NS, k, s, strlen(s),
	    STORE_REPLACE);
}

/* Roll forward records past head left by a crashed commit. */
static int
roll_forward(struct store_batch *b, uint64_t *head)
{
	char k[17], *val;
	size_t len;
	json_t *r;
	uint64_t h = *head;
	int rc;

	for (;;) {
		seq_key(h + 1, k);
		val = NULL;
		rc = store_batch_get(b, REVOKE_LOG_NS, k, &val, &len);
		if (rc == SF_ENOTFOUND)
			break;
		if (rc != SF_OK)
			return rc;
		r = record_parse(val, len);
		free(val);
		if (r == NULL) {
			log_err("revocation journal record %s unreadable; "
			    "dropped", k);
			rc = store_batch_del(b, REVOKE_LOG_NS, k);
			if (rc != SF_OK)
				return rc;
			break;
		}
		rc = record_apply_store(b, r);
		json_decref(r);
		if (rc != SF_OK)
			return rc;
		h++;
	}
	if (h != *head) {
		log_warn("revocation journal: rolled forward %llu record(s) "
		    "of an interrupted write", (unsigned long long)(h - *head));
		*head = h;
		return batch_put_counter(b, "head", h);
	}
	return SF_OK;
}

/* Drop old records (and their MARK keys), at most budget of them. */
static int
trim(struct store_batch *b, uint64_t head, uint64_t *tail, int64_t now,
    size_t budget)
{
	char k[17], *val;
	size_t len;
	json_t *r;
	uint64_t t = *tail;
	int64_t at;
	int rc = SF_OK;

	while (budget-- > 0 && t <= head && head - t + 1 > REVOKE_LOG_KEEP) {
		seq_key(t, k);
		val = NULL;
		rc = store_batch_get(b, REVOKE_LOG_NS, k, &val, &len);
		if (rc == SF_ENOTFOUND) {
			t++;
			rc = SF_OK;
			continue;
		}
		if (rc != SF_OK)
			break;
		r = record_parse(val, len);
		free(val);
		at = json_integer_value(json_object_get(r, "at"));
		if (r != NULL && head - t + 1 <= REVOKE_LOG_MAX &&
		    at > now - REVOKE_LOG_RETAIN) {
			json_decref(r);
			break;
		}
		if (r != NULL && strcmp(json_string_value(json_object_get(r,
		    "op")), "mark") == 0) {
			const char *ns = json_string_value(json_object_get(r,
			    "ns"));
			const char *mk = json_string_value(json_object_get(r,
			    "key"));

			if (ns != NULL && mk != NULL &&
			    (rc = store_batch_del(b, ns, mk)) != SF_OK &&
			    rc != SF_ENOTFOUND) {
				json_decref(r);
				break;
			}
		}
		json_decref(r);
		if ((rc = store_batch_del(b, REVOKE_LOG_NS, k)) != SF_OK &&
		    rc != SF_ENOTFOUND)
			break;
		rc = SF_OK;
		t++;
	}
	if (t != *tail) {
		*tail = t;
		if (rc == SF_OK)
			rc = batch_put_counter(b, "tail", t);
		else
			(void)batch_put_counter(b, "tail", t);
	}
	return rc;
}

struct commit {
	struct revoke_op	*ops;
	size_t			 nops;
	int64_t			 now;
	bool			 recover_only;
	struct post		*posts;		/* records to post once synced */
	size_t			 nposts;
};

/*
 * The record (new) for op, given the stored entry (val, may be NULL), or
 * NULL with *rc SF_OK when the op changes nothing.
 */
static json_t *
op_record(struct revoke_op *op, const char *key, const char *val,
    size_t len, int64_t now, int *rc)
{
	struct rv_val cur = { 0 };
	const char *reason = op->reason, *event = op->event;
	const char *source = op->source;
	int64_t time = op->time, expires = op->expires;
	bool have = false, lifted = false;
	json_t *o, *old = NULL;
	char *nv = NULL;

	*rc = SF_OK;
	if (val != NULL && rv_decode(val, len, &cur) == SF_OK &&
	    (cur.expires == 0 || cur.expires > now))
		have = true;
	if (have && cur.json == NULL)
		old = json_loadb(val, len, 0, NULL);
	else if (have)
		old = json_incref(cur.json);
	switch (op->type) {
	case REVOKE_PUT:
		if (have && !cur.lifted) {
			/* Merge with the live entry. */
			if (cur.time > time) {
				time = cur.time;
				reason = json_string_value(json_object_get(old,
				    "reason"));
				event = json_string_value(json_object_get(old,
				    "event"));
				source = json_string_value(json_object_get(old,
				    "source"));
			}
			if (cur.expires == 0 || expires == 0)
				expires = 0;
			else if (cur.expires > expires)
				expires = cur.expires;
		}
		break;
	case REVOKE_LIFT:
		if (!have || cur.lifted) {
			op->result = SF_ENOTFOUND;
			goto none;
		}
		/* Tokens issued in the lift's second or later pass: with
		 * one-second times, a revocation and its lift in the same
		 * second would otherwise refuse the first new token. */
		time = cur.time < op->time ? cur.time : op->time - 1;
		lifted = true;
		reason = json_string_value(json_object_get(old, "reason"));
		expires = time + (op->token_ttl > 0 ? op->token_ttl : 0);
		if (expires <= now) {
			/* Every token it could refuse has expired. */
			o = json_pack("{s:s, s:I, s:s}", "op", "del",
			    "at", (json_int_t)now, "key", key);
			goto done;
		}
		break;
	case REVOKE_DEL:
		if (val == NULL) {
			op->result = SF_ENOTFOUND;
			goto none;
		}
		o = json_pack("{s:s, s:I, s:s}", "op", "del", "at",
		    (json_int_t)now, "key", key);
		goto done;
	default:
		*rc = SF_EINVAL;
		goto none;
	}
	if ((nv = rv_encode(op->kind, op->id, time, expires, lifted, reason,
	    event, source)) == NULL) {
		*rc = SF_ENOMEM;
		goto none;
	}
	o = json_pack("{s:s, s:I, s:s, s:s}", "op", "put", "at",
	    (json_int_t)now, "key", key, "val", nv);
done:
	if (o == NULL)
		*rc = SF_ENOMEM;
	free(nv);
	json_decref(old);
	rv_val_clear(&cur);
	return o;
none:
	json_decref(old);
	rv_val_clear(&cur);
	return NULL;
}

/* REVOKE_COUNT: bump member op->val of the object at op->ns/op->key. */
static int
count_bump(struct store_batch *b, const struct revoke_op *op)
{
	json_t *o = NULL, *m;
	char *val = NULL;
	size_t len;
	int rc;

	rc = store_batch_get(b, op->ns, op->key, &val, &len);
	if (rc != SF_OK && rc != SF_ENOTFOUND)
		return rc;
	if (val != NULL)
		o = json_loadb(val, len, 0, NULL);
	free(val);
	val = NULL;
	if (!json_is_object(o)) {
		json_decref(o);
		if ((o = json_object()) == NULL)
			return SF_ENOMEM;
	}
	m = json_object_get(o, op->val);
	rc = SF_ENOMEM;
	if (json_object_set_new(o, op->val, json_pack("{s:I, s:I}", "count",
	    json_integer_value(json_object_get(m, "count")) + 1, "last",
	    (json_int_t)op->time)) == 0 && (val = json_dump_compact(o)) !=
	    NULL)
		rc = store_batch_put(b, op->ns, op->key, val, strlen(val),
		    STORE_REPLACE);
	free(val);
	json_decref(o);
	return rc;
}

static int
commit_cb(struct store_batch *b, void *arg)
{
	struct commit *c = arg;
	struct revoke_op *op;
	uint64_t head, tail;
	char key[8 + REVOKE_ID_MAX + 1], *val, *rec;
	json_t *r;
	size_t i, len;
	int rc;

	if ((rc = batch_counter(b, "head", 0, &head)) != SF_OK ||
	    (rc = batch_counter(b, "tail", 1, &tail)) != SF_OK ||
	    (rc = roll_forward(b, &head)) != SF_OK || c->recover_only)
		return rc;
	/* Idempotence markers first: a seen one means nothing to do. */
	for (i = 0; i < c->nops; i++) {
		op = &c->ops[i];
		if (op->type != REVOKE_MARK)
			continue;
		val = NULL;
		rc = store_batch_get(b, op->ns, op->key, &val, &len);
		free(val);
		if (rc == SF_OK)
			return SF_EEXIST;
		if (rc != SF_ENOTFOUND)
			return rc;
	}
	for (i = 0; i < c->nops; i++) {
		op = &c->ops[i];
		op->result = SF_OK;
		if (op->type == REVOKE_COUNT) {
			if ((rc = count_bump(b, op)) != SF_OK)
				return rc;
			continue;
		}
		if (op->type == REVOKE_MARK) {
			r = json_pack("{s:s, s:I, s:s, s:s, s:s}", "op", "mark",
			    "at", (json_int_t)c->now, "ns", op->ns, "key",
			    op->key, "val", op->val);
			if (r == NULL)
				return SF_ENOMEM;
		} else {
			snprintf(key, sizeof(key), "%s:%s", op->kind, op->id);
			val = NULL;
			rc = store_batch_get(b, REVOKE_NS, key, &val, &len);
			if (rc != SF_OK && rc != SF_ENOTFOUND)
				return rc;
			r = op_record(op, key, val, len, c->now, &rc);
			free(val);
			if (rc != SF_OK)
				return rc;
			if (r == NULL)
				continue;
		}
		/* Record, then data; head after all of them. */
		if ((rec = json_dump_compact(r)) == NULL) {
			json_decref(r);
			return SF_ENOMEM;
		}
		if ((rc = batch_put_record(b, head + 1, rec)) == SF_OK)
			rc = record_apply_store(b, r);
		json_decref(r);
		if (rc != SF_OK) {
			free(rec);
			return rc;
		}
		head++;
		c->posts[c->nposts].seq = head;
		c->posts[c->nposts++].rec = rec;
	}
	if ((rc = batch_put_counter(b, "head", head)) != SF_OK)
		return rc;
	return trim(b, head, &tail, c->now, c->nops + 4);
}

static bool
op_valid(const struct revoke_op *op)
{
	switch (op->type) {
	case REVOKE_PUT:
	case REVOKE_LIFT:
	case REVOKE_DEL:
		return revoke_valid(op->kind, op->id);
	case REVOKE_MARK:
	case REVOKE_COUNT:
		return op->ns != NULL && op->key != NULL && op->val != NULL &&
		    strcmp(op->ns, REVOKE_NS) != 0 &&
		    strcmp(op->ns, REVOKE_LOG_NS) != 0;
	}
	return false;
}

int
revoke_commit(struct store *st, struct revoke_op *ops, size_t nops,
    int64_t now)
{
	struct commit c = { ops, nops, now, false, NULL, 0 };
	size_t i;
	int rc;

	for (i = 0; i < nops; i++)
		if (!op_valid(&ops[i])) {
			log_err("revoke_commit: op %zu is malformed", i);
			return SF_EINVAL;
		}
	if (nops > 0 && (c.posts = calloc(nops, sizeof(*c.posts))) == NULL)
		return SF_ENOMEM;
	rc = store_batch(st, commit_cb, &c);
	/* Only what the synced head covers is posted. */
	if (rc == SF_OK)
		ring_post(c.posts, c.nposts);
	for (i = 0; i < c.nposts; i++)
		free(c.posts[i].rec);
	free(c.posts);
	return rc;
}

int
revoke_recover(struct store *st)
{
	struct commit c = { NULL, 0, sf_now(), true, NULL, 0 };

	return store_batch(st, commit_cb, &c);
}

int
revoke_put(struct store *st, const char *kind, const char *id, int64_t time,
    int64_t expires, const char *reason, const char *event,
    const char *source)
{
	struct revoke_op op = { 0 };

	op.type = REVOKE_PUT;
	op.kind = kind;
	op.id = id;
	op.time = time;
	op.expires = expires;
	op.reason = reason;
	op.event = event;
	op.source = source;
	return revoke_commit(st, &op, 1, sf_now());
}

int
revoke_lift(struct store *st, const char *kind, const char *id, int64_t now,
    int64_t token_ttl, const char *source)
{
	struct revoke_op op = { 0 };
	int rc;

	op.type = REVOKE_LIFT;
	op.kind = kind;
	op.id = id;
	op.time = now;
	op.token_ttl = token_ttl;
	op.source = source;
	if ((rc = revoke_commit(st, &op, 1, now)) != SF_OK)
		return rc;
	return op.result;
}

/*
 * Loading and refreshing.
 */

struct load_ctx {
	struct revoke_index	*ix;
	int64_t			 now;
};

static int
load_one(const char *key, const char *val, size_t len, void *arg)
{
	struct load_ctx *lc = arg;
	struct revoke_index *ix = lc->ix;
	struct rv_val v;
	char kind[8];
	const char *id;
	uint64_t d[2];
	int rc;

	if (!split_key(key, kind, &id) || !digest(ix, kind, id, d)) {
		log_warn("revoked/%s: not a revocation key; ignored", key);
		return SF_OK;
	}
	if (rv_decode(val, len, &v) != SF_OK) {
		log_warn("revoked/%s: unreadable entry ignored", key);
		return SF_OK;
	}
	rc = SF_OK;
	if (v.expires == 0 || v.expires > lc->now)
		rc = index_set(ix, d, v.time, v.expires,
		    v.lifted ? RV_LIFTED : 0, v.reason, v.rlen);
	rv_val_clear(&v);
	return rc;
}

static int
get_counter(struct store *st, const char *name, uint64_t *out)
{
	char *val = NULL;
	size_t len;
	int rc;

	*out = 0;
	rc = store_get(st, REVOKE_LOG_NS, name, &val, &len);
	if (rc == SF_ENOTFOUND)
		return SF_OK;
	if (rc == SF_OK)
		rc = counter_parse(val, out);
	free(val);
	return rc;
}

/* Walk the store into ix (fresh); position at the head read first. */
static int
load_walk(struct revoke_index *ix, struct store *st, int64_t now)
{
	struct load_ctx lc = { ix, now };
	uint64_t gen, head;
	int rc;

	gen = store_generation(st);
	if ((rc = get_counter(st, "head", &head)) != SF_OK)
		return rc;
	rc = store_iter(st, REVOKE_NS, load_one, &lc);
	if (rc != SF_OK && rc != SF_ENOTFOUND)
		return rc;
	ix->gen = gen;
	ix->seq = head;
	ix->tied = true;
	return SF_OK;
}

/* Rebuild ix in place from the store. */
static int
rebuild(struct revoke_index *ix, struct store *st, int64_t now)
{
	struct revoke_index *nx = NULL;
	int rc;

	if ((rc = revoke_new(&nx)) != SF_OK)
		return rc;
	if ((rc = load_walk(nx, st, now)) != SF_OK) {
		revoke_free(nx);
		return rc;
	}
	index_clear(ix);
	*ix = *nx;
	free(nx);
	return SF_OK;
}

/*
 * Applying journal records (ix->seq, head]: a few with one store_get
 * each; a longer backlog (a worker that sat idle while SETs arrived)
 * under one open of the store, inside a store_batch that only reads
 * (nothing is written, so nothing is synced and the marker stays).
 */
struct catchup {
	struct revoke_index	*ix;
	struct store		*st;
	struct store_batch	*b;	/* set inside the batch */
	uint64_t		 head;
	int64_t			 now;
	bool			 gap;
};

static int
apply_log(struct catchup *cu)
{
	struct revoke_index *ix = cu->ix;
	char k[17], *val, rb[REVOKE_RING_REC + 1];
	const char *op, *key, *v;
	size_t len;
	json_t *r;
	int rc;

	cu->gap = false;
	while (ix->seq < cu->head) {
		val = NULL;
		if (ring_get(ix->seq + 1, rb, &len))
			r = record_parse(rb, len);
		else {
			seq_key(ix->seq + 1, k);
			rc = cu->b != NULL ? store_batch_get(cu->b,
			    REVOKE_LOG_NS, k, &val, &len) : store_get(cu->st,
			    REVOKE_LOG_NS, k, &val, &len);
			if (rc == SF_ENOTFOUND) {
				cu->gap = true;
				return SF_OK;
			}
			if (rc != SF_OK)
				return rc;
			r = record_parse(val, len);
			free(val);
		}
		if (r == NULL) {
			cu->gap = true;
			return SF_OK;
		}
		op = json_string_value(json_object_get(r, "op"));
		key = json_string_value(json_object_get(r, "key"));
		v = json_string_value(json_object_get(r, "val"));
		rc = SF_OK;
		if (key != NULL && strcmp(op, "put") == 0 && v != NULL)
			rc = index_apply(ix, key, v, strlen(v), cu->now);
		else if (key != NULL && strcmp(op, "del") == 0)
			rc = index_apply(ix, key, NULL, 0, cu->now);
		json_decref(r);
		if (rc != SF_OK)
			return rc;
		ix->seq++;
	}
	return SF_OK;
}

static int
catchup_cb(struct store_batch *b, void *arg)
{
	struct catchup *cu = arg;

	cu->b = b;
	return apply_log(cu);
}

static int
catch_up(struct revoke_index *ix, struct store *st, uint64_t head,
    int64_t now, bool *gap)
{
	struct catchup cu = { ix, st, NULL, head, now, false };
	int rc;

	/* The ring holds the newest REVOKE_RING_SLOTS records at most. */
	if (head - ix->seq > REVOKE_CATCHUP_DIRECT && (ring.m == NULL ||
	    head - ix->seq > REVOKE_RING_SLOTS))
		rc = store_batch(st, catchup_cb, &cu);
	else
		rc = apply_log(&cu);
	*gap = cu.gap;
	return rc;
}

int
revoke_refresh(struct revoke_index *ix, struct store *st, int64_t now)
{
	uint64_t gen, head;
	bool gap;
	int rc;

	if (ix == NULL || st == NULL)
		return SF_EINVAL;
	gen = store_generation(st);
	head = revoke_ring_head();
	if (ix->tied && gen == ix->gen && head <= ix->seq)
		return SF_OK;
	/* The ring moved: its head is where to go, no store read needed.
	 * Else (another namespace changed, or a commit not posted yet) the
	 * store's head. */
	if (!ix->tied || head <= ix->seq) {
		if ((rc = get_counter(st, "head", &head)) != SF_OK)
			return rc;
	}
	if (!ix->tied || head < ix->seq || head - ix->seq > REVOKE_CATCHUP)
		return rebuild(ix, st, now);
	if ((rc = catch_up(ix, st, head, now, &gap)) != SF_OK)
		return rc;
	if (gap)
		return rebuild(ix, st, now);
	ix->gen = gen;
	return SF_OK;
}

int
revoke_load(struct store *st, int64_t now, struct revoke_index **out)
{
	struct revoke_index *ix = NULL;
	int rc;

	*out = NULL;
	if ((rc = revoke_new(&ix)) != SF_OK)
		return rc;
	if ((rc = load_walk(ix, st, now)) != SF_OK ||
	    (rc = revoke_refresh(ix, st, now)) != SF_OK) {
		revoke_free(ix);
		return rc;
	}
	*out = ix;
	return SF_OK;
}

/*
 * Listing, export and the federation hash.
 */

struct rl_ent {
	const char	*kp;		/* the key, once the arena is final */
	size_t		 key;		/* offsets into the arena */
	size_t		 reason, event, source;	/* 0: none */
	int64_t		 time, expires;
	bool		 lifted;
};

struct revoke_list {
	struct rl_ent	*ent;
	size_t		 n, cap;
	char		*arena;
	size_t		 alen, acap;
	struct revoke_entry *view;	/* decoded, after sorting */
	char		*keys;		/* kind NUL id NUL per entry */
	int64_t		 now;
};

/* Append a NUL-terminated copy; returns its offset (0 is reserved). */
static int
arena_add(struct revoke_list *l, const char *s, size_t n, size_t *off)
{
	char *na;
	size_t nc;

	if (l->alen + n + 1 > l->acap) {
		nc = l->acap ? l->acap : 65536;
		while (nc < l->alen + n + 1)
			nc *= 2;
		if ((na = realloc(l->arena, nc)) == NULL)
			return SF_ENOMEM;
		l->arena = na;
		l->acap = nc;
		if (l->alen == 0)
			l->arena[l->alen++] = '\0';
	}
	memcpy(l->arena + l->alen, s, n);
	l->arena[l->alen + n] = '\0';
	*off = l->alen;
	l->alen += n + 1;
	return SF_OK;
}

static int
list_one(const char *key, const char *val, size_t len, void *arg)
{
	struct revoke_list *l = arg;
	struct rl_ent *e, *ne;
	struct rv_val v;
	json_t *o = NULL;
	const char *s, *id;
	char kind[8];
	int rc;

	if (!split_key(key, kind, &id))
		return SF_OK;
	if (rv_decode(val, len, &v) != SF_OK)
		return SF_OK;
	if (l->now != 0 && v.expires != 0 && v.expires <= l->now) {
		rv_val_clear(&v);
		return SF_OK;
	}
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 256;

		if ((ne = realloc(l->ent, nc * sizeof(*ne))) == NULL) {
			rv_val_clear(&v);
			return SF_ENOMEM;
		}
		l->ent = ne;
		l->cap = nc;
	}
	e = &l->ent[l->n];
	memset(e, 0, sizeof(*e));
	e->time = v.time;
	e->expires = v.expires;
	e->lifted = v.lifted;
	/* event and source are not in the fast form: read them too. */
	o = v.json != NULL ? json_incref(v.json) :
	    json_loadb(val, len, 0, NULL);
	rc = arena_add(l, key, strlen(key), &e->key);
	if (rc == SF_OK && (s = json_string_value(json_object_get(o,
	    "reason"))) != NULL)
		rc = arena_add(l, s, strlen(s), &e->reason);
	if (rc == SF_OK && (s = json_string_value(json_object_get(o,
	    "event"))) != NULL)
		rc = arena_add(l, s, strlen(s), &e->event);
	if (rc == SF_OK && (s = json_string_value(json_object_get(o,
	    "source"))) != NULL)
		rc = arena_add(l, s, strlen(s), &e->source);
	json_decref(o);
	rv_val_clear(&v);
	if (rc == SF_OK)
		l->n++;
	return rc;
}

static int
cmp_ent(const void *a, const void *b)
{
	const struct rl_ent *x = a, *y = b;

	return strcmp(x->kp, y->kp);
}

void
revoke_list_free(struct revoke_list *l)
{
	if (l == NULL)
		return;
	free(l->ent);
	free(l->arena);
	free(l->view);
	free(l->keys);
	free(l);
}

int
revoke_entries(struct store *st, int64_t now, struct revoke_list **out,
    size_t *n)
{
	struct revoke_list *l;
	size_t i, klen, off;
	const char *k, *c;
	int rc;

	*out = NULL;
	*n = 0;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return SF_ENOMEM;
	l->now = now;
	rc = store_iter(st, REVOKE_NS, list_one, l);
	if (rc != SF_OK && rc != SF_ENOTFOUND)
		goto fail;
	for (i = 0; i < l->n; i++)
		l->ent[i].kp = l->arena + l->ent[i].key;
	if (l->n > 0)
		qsort(l->ent, l->n, sizeof(*l->ent), cmp_ent);
	rc = SF_ENOMEM;
	if (l->n > 0 && ((l->view = calloc(l->n, sizeof(*l->view))) == NULL ||
	    (l->keys = malloc(l->alen)) == NULL))
		goto fail;
	/* Split each "kind:id" into kind NUL id NUL. */
	for (i = 0, off = 0; i < l->n; i++) {
		k = l->ent[i].kp;
		klen = strlen(k);
		c = strchr(k, ':');
		memcpy(l->keys + off, k, klen + 1);
		l->keys[off + (size_t)(c - k)] = '\0';
		l->view[i].kind = l->keys + off;
		l->view[i].id = l->keys + off + (size_t)(c - k) + 1;
		off += klen + 1;
		l->view[i].reason = l->ent[i].reason ?
		    l->arena + l->ent[i].reason : NULL;
		l->view[i].event = l->ent[i].event ?
		    l->arena + l->ent[i].event : NULL;
		l->view[i].source = l->ent[i].source ?
		    l->arena + l->ent[i].source : NULL;
		l->view[i].time = l->ent[i].time;
		l->view[i].expires = l->ent[i].expires;
		l->view[i].lifted = l->ent[i].lifted;
	}
	*out = l;
	*n = l->n;
	return SF_OK;
fail:
	revoke_list_free(l);
	return rc;
}

const struct revoke_entry *
revoke_list_get(const struct revoke_list *l, size_t i)
{
	if (l == NULL || i >= l->n)
		return NULL;
	return &l->view[i];
}

json_t *
revoke_entry_json(const struct revoke_entry *e)
{
	json_t *o;

	o = json_pack("{s:s, s:s, s:I, s:I, s:b}", "kind", e->kind, "id",
	    e->id, "time", (json_int_t)e->time, "expires",
	    (json_int_t)e->expires, "lifted", e->lifted);
	if (o == NULL)
		return NULL;
	if (e->reason != NULL)
		json_object_set_new(o, "reason", json_string(e->reason));
	if (e->event != NULL)
		json_object_set_new(o, "event", json_string(e->event));
	if (e->source != NULL)
		json_object_set_new(o, "source", json_string(e->source));
	return o;
}

static int
buf_add(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	char *nb;
	size_t nc;

	if (*len + n + 1 > *cap) {
		nc = *cap ? *cap : 256;
		while (nc < *len + n + 1)
			nc *= 2;
		if ((nb = realloc(*buf, nc)) == NULL)
			return SF_ENOMEM;
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return SF_OK;
}

/* RFC 8785 §3.2.2.2: JSON string serialisation. */
int
revoke_jcs_string(const char *s, char **buf, size_t *len, size_t *cap)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];
	size_t run;
	int rc;

	if ((rc = buf_add(buf, len, cap, "\"", 1)) != SF_OK)
		return rc;
	while (*p != '\0') {
		for (run = 0; p[run] >= 0x20 && p[run] != '"' &&
		    p[run] != '\\'; run++)
			;
		if (run > 0 && (rc = buf_add(buf, len, cap, (const char *)p,
		    run)) != SF_OK)
			return rc;
		p += run;
		if (*p == '\0')
			break;
		switch (*p) {
		case '"': strcpy(esc, "\\\""); break;
		case '\\': strcpy(esc, "\\\\"); break;
		case '\b': strcpy(esc, "\\b"); break;
		case '\t': strcpy(esc, "\\t"); break;
		case '\n': strcpy(esc, "\\n"); break;
		case '\f': strcpy(esc, "\\f"); break;
		case '\r': strcpy(esc, "\\r"); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			break;
		}
		if ((rc = buf_add(buf, len, cap, esc, strlen(esc))) != SF_OK)
			return rc;
		p++;
	}
	return buf_add(buf, len, cap, "\"", 1);
}

int
revoke_hash(const struct revoke_list *l, char out[72])
{
	static const char hex[] = "0123456789abcdef";
	const struct revoke_entry *e;
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	char *buf = NULL, num[64];
	size_t len = 0, cap = 0, i, n = l != NULL ? l->n : 0;
	int rc = SF_ECRYPTO;

	out[0] = '\0';
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return SF_ENOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, "[", 1) != 1)
		goto out;
	for (i = 0; i < n; i++) {
		e = &l->view[i];
		len = 0;
		snprintf(num, sizeof(num), "%s{\"expires\":%lld,\"id\":",
		    i > 0 ? "," : "", (long long)e->expires);
		if ((rc = buf_add(&buf, &len, &cap, num, strlen(num))) !=
		    SF_OK || (rc = revoke_jcs_string(e->id, &buf, &len,
		    &cap)) != SF_OK || (rc = buf_add(&buf, &len, &cap,
		    ",\"kind\":", 8)) != SF_OK || (rc = revoke_jcs_string(
		    e->kind, &buf, &len, &cap)) != SF_OK)
			goto out;
		snprintf(num, sizeof(num), ",\"lifted\":%s,\"time\":%lld}",
		    e->lifted ? "true" : "false", (long long)e->time);
		if ((rc = buf_add(&buf, &len, &cap, num, strlen(num))) !=
		    SF_OK)
			goto out;
		rc = SF_ECRYPTO;
		if (EVP_DigestUpdate(ctx, buf, len) != 1)
			goto out;
	}
	if (EVP_DigestUpdate(ctx, "]", 1) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
		goto out;
	memcpy(out, "sha256:", 7);
	for (i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[71] = '\0';
	rc = SF_OK;
out:
	free(buf);
	EVP_MD_CTX_free(ctx);
	return rc;
}
