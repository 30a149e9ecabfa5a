/*
 * store_marker.h - layout of PATH.gen, the change marker of lib/store.c.
 * Private to lib/store.c and its tests (which damage it on purpose).
 *
 * The file is mapped MAP_SHARED by every process using the store.  Byte
 * STORE_LOCK_GATE and byte STORE_LOCK_MAIN of the same file carry the
 * open-file-description locks (F_OFD_SETLK) described in store.c.
 */
#ifndef STORE_MARKER_H
#define STORE_MARKER_H

#include <stdatomic.h>
#include <stdint.h>

#define STORE_MARKER_MAGIC	UINT64_C(0x53464c5947454e31)	/* SFLYGEN1 */
#define STORE_MARKER_VERSION	2
#define STORE_BLOCK		4096	/* GDBM block size of new databases */
#define STORE_LOCK_GATE		0
#define STORE_LOCK_MAIN		1

/*
 * The leading fields of GDBM's file header (gdbmdefs.h, 64-bit off_t
 * formats), which the repair reads and patches; test_store checks this
 * layout against a database GDBM made.
 */
struct store_gdbm_head {
	uint32_t	magic;
	int32_t		block_size;
	int64_t		dir;
	int32_t		dir_size;
	int32_t		dir_bits;
	int32_t		bucket_size;
	int32_t		bucket_elems;
	int64_t		next_block;
};
#define STORE_GDBM_MAGIC64		0x13579acfu
#define STORE_GDBM_NUMSYNC_MAGIC64	0x13579ad1u
_Static_assert(sizeof(struct store_gdbm_head) == 40, "GDBM header layout");

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
    "the marker needs lock-free atomics shared between processes");

struct store_marker {
	uint64_t		magic;		/* written last at init */
	uint32_t		version;
	uint32_t		size;		/* sizeof(struct store_marker) */
	_Atomic uint64_t	generation;	/* bumped after each write */
	_Atomic uint32_t	inflight;	/* a GDBM update is under way */
	_Atomic uint32_t	writer_pid;	/* who set inflight (for logs) */
	unsigned char		boot_id[16];	/* boot of the last verified state */
	_Atomic uint32_t	image_len;	/* valid bytes of image, 0 = none */
	_Atomic uint32_t	repairing;	/* a repair is under way */
	/* The rebuilt file a repair is about to rename over PATH (0: none). */
	_Atomic uint64_t	rebuilt_dev;
	_Atomic uint64_t	rebuilt_ino;
	/* The database's header block as it was before the in-flight update. */
	unsigned char		image[STORE_BLOCK];
};

#endif /* STORE_MARKER_H */
