/*
 * starfly/seal.h - seal and unseal (lib/seal.c).  Included by starfly.h
 * only.
 *
 * A production unit's private signing keys are encrypted at rest
 * (AES-256-GCM) under a key-encryption key (KEK) derived with scrypt
 * from the unseal key the operator got at `starflyctl init`.  Unsealing
 * puts the KEK into a POSIX shared-memory segment (tmpfs, mode 0600,
 * owned by the signing program's user); every process of the unit maps
 * it, so one unseal serves long-running and CGI processes alike, and
 * sealing wipes it at once.  Dev units keep plain PEM keys and start
 * unsealed; sealing them still stops signing.
 *
 * keys_dir/seal.json (no secret): scrypt parameters, salt, and a check
 * value (a known plaintext sealed under the KEK) that tells a right
 * key from a wrong one.
 */
#ifndef STARFLY_SEAL_H
#define STARFLY_SEAL_H

/*
 * Map the unit's seal state for this process (created on first use:
 * sealed in production, unsealed in dev).  Idempotent.  Call it at
 * start-up in every program that signs or reports the state.
 */
int		 seal_open(const struct sf_conf *c);

/*
 * Whether the unit is sealed: one load from shared memory, no syscall.
 * false when seal_open was never called (the keys themselves stay
 * encrypted then).
 */
bool		 seal_is_sealed(void);

/* Bumped by every seal and unseal; 0 before seal_open. */
uint64_t	 seal_generation(void);

/*
 * Set up sealing at init: write keys_dir/seal.json for the unseal key
 * key (NULL: generate 32 random bytes; *key_out is then the new
 * base64url key, to be shown once; wipe with sf_strfree_secret).
 * Production units wrap their private keys from then on; dev units
 * (wrap false) only keep the check.  Leaves the unit unsealed.
 * SF_EEXIST when already set up.
 */
int		 seal_setup(const struct sf_conf *c, const char *key,
		    char **key_out);

/*
 * Unseal with key.  SF_OK (also when already unsealed and the key is
 * right); SF_EDENIED for a wrong key; SF_ELIMIT while repeated wrong
 * keys are slowed down (*retry_after seconds); SF_ENOTFOUND when the
 * unit has no seal.json.  *why (static) says which.
 */
int		 seal_unseal(const struct sf_conf *c, const char *key,
		    int64_t *retry_after, const char **why);

/* Seal now: wipe the KEK, set the flag every process reads. */
int		 seal_seal(const struct sf_conf *c);

/*
 * Dev units start unsealed (`starflyctl init` on a dev unit calls it);
 * SF_EINVAL for a production unit.
 */
int		 seal_dev_start(const struct sf_conf *c);

/*
 * {"sealed", "wraps_keys", "generation", "failures", "retry_after",
 * "changed", "segment"}; new reference.
 */
int		 seal_status(const struct sf_conf *c, json_t **out);

/*
 * For the keyring (lib/keyring.c).  seal_wraps_keys: keys_dir's private
 * keys are sealed (production seal.json).  seal_key_save writes
 * keys_dir/private/<kid>.sealed (0600) under the KEK; seal_key_load
 * reads it back.  Both are SF_ESEALED while sealed.  seal_key_path is
 * that file's path (new).
 */
bool		 seal_wraps_keys(const char *keys_dir);
int		 seal_key_save(const char *keys_dir, const struct jwk *key);
int		 seal_key_load(const char *keys_dir, const char *kid,
		    enum jws_alg alg, struct jwk **out);
int		 seal_key_path(const char *keys_dir, const char *kid,
		    char **out);

/*
 * Wrap every plain private key of keys_dir (a unit initialised before
 * sealing was set up), removing the PEM files.  *n how many.
 */
int		 seal_migrate(const struct sf_conf *c, size_t *n);

#endif /* STARFLY_SEAL_H */
