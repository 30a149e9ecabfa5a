/*
 * arena.c - bump allocator for the Rego engine.
 *
 * Allocations are 16-byte aligned and never freed one by one.  A reset
 * forgets every allocation and keeps some chunks for reuse, so a loop of
 * evaluations reaches a steady state with no allocation growth.  A limit
 * turns runaway evaluations into SF_ELIMIT (the caller checks a->over).
 */
#include <stdlib.h>
#include <string.h>

#include "policy/rego.h"

struct arena_chunk {
	struct arena_chunk	*next;
	size_t			 size;	/* usable bytes */
	size_t			 used;
	max_align_t		 mem[];
};

#define CHUNK_MIN	(64 * 1024)
#define ALIGN(n)	(((n) + 15) & ~(size_t)15)

static struct arena_chunk *
chunk_new(struct arena *a, size_t need)
{
	struct arena_chunk	*c;
	size_t			 size = CHUNK_MIN;

	while (size < need)
		size *= 2;
	if (a->limit != 0 && a->total + size > a->limit) {
		a->over = true;
		return NULL;
	}
	if ((c = malloc(sizeof(*c) + size)) == NULL)
		return NULL;
	c->next = NULL;
	c->size = size;
	c->used = 0;
	a->total += size;
	return c;
}

void *
arena_alloc(struct arena *a, size_t n)
{
	struct arena_chunk	*c = a->head, *prev = NULL, *nc;
	void			*p;

	n = ALIGN(n == 0 ? 1 : n);
	if (c != NULL && c->size - c->used >= n)
		goto have;
	/* Reusable chunks kept by a reset wait in a->full with used == 0. */
	for (nc = a->full; nc != NULL; prev = nc, nc = nc->next) {
		if (nc->used == 0 && nc->size >= n) {
			if (prev != NULL)
				prev->next = nc->next;
			else
				a->full = nc->next;
			break;
		}
	}
	if (nc == NULL && (nc = chunk_new(a, n)) == NULL)
		return NULL;
	if (c != NULL) {
		c->next = a->full;
		a->full = c;
	}
	a->head = c = nc;
	c->next = NULL;
have:
	p = (unsigned char *)c->mem + c->used;
	c->used += n;
	return p;
}

void *
arena_calloc(struct arena *a, size_t n, size_t size)
{
	void	*p;

	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	if ((p = arena_alloc(a, n * size)) != NULL)
		memset(p, 0, n * size);
	return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char	*p;

	if ((p = arena_alloc(a, n + 1)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

void *
arena_grow(struct arena *a, void *old, size_t oldn, size_t newn, size_t size)
{
	void	*p;

	if (size != 0 && newn > SIZE_MAX / size)
		return NULL;
	if ((p = arena_alloc(a, newn * size)) == NULL)
		return NULL;
	if (old != NULL && oldn > 0)
		memcpy(p, old, oldn * size);
	return p;
}

void
arena_reset(struct arena *a, size_t keep)
{
	struct arena_chunk	*c, *next, *kept = NULL;
	size_t			 held = 0;

	if (a->head != NULL) {
		a->head->next = a->full;
		a->full = a->head;
		a->head = NULL;
	}
	for (c = a->full; c != NULL; c = next) {
		next = c->next;
		if (held + c->size <= keep) {
			c->used = 0;
			c->next = kept;
			kept = c;
			held += c->size;
		} else {
			a->total -= c->size;
			free(c);
		}
	}
	a->full = kept;
	a->over = false;
}

void
arena_destroy(struct arena *a)
{
	arena_reset(a, 0);
	a->full = NULL;
	a->total = 0;
}
