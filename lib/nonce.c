/*
 * nonce.c - execution-scope nonces seen by any exchange process of the
 * unit, in a shared memory file: a header with a robust process-shared
 * mutex, then NONCE_SLOTS open-addressed slots of (SHA-256 prefix,
 * expiry).  A process that dies holding the mutex leaves it to the next
 * locker (EOWNERDEAD), which marks it consistent and goes on: the table
 * holds no invariant a half-done insert can break beyond one slot.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "starfly.h"

#define NONCE_MAGIC	0x53464e4f4e434531ull	/* "SFNONCE1" */
#define NONCE_SLOTS	(1u << 18)
#define NONCE_PROBE	64

struct nonce_slot {
	uint64_t	 h[2];
	int64_t		 expires;
};

struct nonce_shm {
	uint64_t		 magic;
	pthread_mutex_t		 mu;
	uint64_t		 inited;
	struct nonce_slot	 slots[NONCE_SLOTS];
};

struct nonce_table {
	struct nonce_shm	*shm;
	int			 fd;
};

static int
init_mutex(struct nonce_shm *s)
{
	pthread_mutexattr_t a;

	if (pthread_mutexattr_init(&a) != 0)
		return SF_ESYS;
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (pthread_mutex_init(&s->mu, &a) != 0) {
		pthread_mutexattr_destroy(&a);
		return SF_ESYS;
	}
	pthread_mutexattr_destroy(&a);
	return SF_OK;
}

int
nonce_open(const char *path, struct nonce_table **out)
{
	struct nonce_table *nt;
	struct stat sb;
	int fd = -1, rc = SF_ESYS;
	void *p = MAP_FAILED;

	*out = NULL;
	if ((nt = calloc(1, sizeof(*nt))) == NULL)
		return SF_ENOMEM;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		goto out;
	/* First opener sizes and initialises, under an exclusive lock. */
	if (lockf(fd, F_LOCK, 0) == -1)
		goto out;
	if (fstat(fd, &sb) == -1)
		goto unlock;
	if ((size_t)sb.st_size < sizeof(struct nonce_shm) &&
	    ftruncate(fd, (off_t)sizeof(struct nonce_shm)) == -1)
		goto unlock;
	p = mmap(NULL, sizeof(struct nonce_shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto unlock;
	nt->shm = p;
	if (nt->shm->magic != NONCE_MAGIC) {
		if ((rc = init_mutex(nt->shm)) != SF_OK)
			goto unlock;
		nt->shm->magic = NONCE_MAGIC;
	}
	rc = SF_OK;
unlock:
	(void)lseek(fd, 0, SEEK_SET);
	(void)lockf(fd, F_ULOCK, 0);
out:
	if (rc != SF_OK) {
		log_err("nonce table %s: %s", path, strerror(errno));
		if (p != MAP_FAILED)
			munmap(p, sizeof(struct nonce_shm));
		if (fd != -1)
			close(fd);
		free(nt);
		return rc;
	}
	nt->fd = fd;
	*out = nt;
	return SF_OK;
}

void
nonce_close(struct nonce_table *nt)
{
	if (nt == NULL)
		return;
	munmap(nt->shm, sizeof(struct nonce_shm));
	close(nt->fd);
	free(nt);
}

int
nonce_use(struct nonce_table *nt, const char *nonce, int64_t now,
    int64_t expires)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	struct nonce_slot *s, *free_slot = NULL;
	uint64_t h[2];
	size_t i, start;
	int rc;

	SHA256((const unsigned char *)nonce, strlen(nonce), md);
	memcpy(h, md, sizeof(h));
	if (h[0] == 0 && h[1] == 0)
		h[0] = 1;	/* (0,0) marks an empty slot */
	start = (size_t)(h[0] % NONCE_SLOTS);
	if ((rc = pthread_mutex_lock(&nt->shm->mu)) == EOWNERDEAD)
		pthread_mutex_consistent(&nt->shm->mu);
	else if (rc != 0)
		return SF_ESYS;
	for (i = 0; i < NONCE_PROBE; i++) {
		s = &nt->shm->slots[(start + i) % NONCE_SLOTS];
		if (s->h[0] == h[0] && s->h[1] == h[1] && s->expires > now) {
			pthread_mutex_unlock(&nt->shm->mu);
			return SF_EREPLAY;
		}
		if (free_slot == NULL && ((s->h[0] == 0 && s->h[1] == 0) ||
		    s->expires <= now))
			free_slot = s;
		if (s->h[0] == 0 && s->h[1] == 0)
			break;	/* the probe chain ends here */
	}
	if (free_slot == NULL) {
		pthread_mutex_unlock(&nt->shm->mu);
		return SF_ELIMIT;
	}
	free_slot->h[0] = h[0];
	free_slot->h[1] = h[1];
	free_slot->expires = expires;
	pthread_mutex_unlock(&nt->shm->mu);
	return SF_OK;
}
