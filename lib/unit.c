/*
 * unit.c - what a unit is on disk: directories, unit id, keyring, store.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

/* mkdir -p with a mode for the last component. */
static int
mkdirs(const char *path, mode_t mode)
{
	char *copy, *p;
	int rc = SF_OK;

	if ((copy = sf_strdup(path)) == NULL)
		return SF_ENOMEM;
	for (p = copy + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0755) == -1 && errno != EEXIST) {
			rc = SF_ESYS;
			goto out;
		}
		*p = '/';
	}
	if (mkdir(copy, mode) == -1 && errno != EEXIST)
		rc = SF_ESYS;
out:
	if (rc != SF_OK)
		log_err("mkdir %s: %s", copy, strerror(errno));
	free(copy);
	return rc;
}

int
unit_id(const struct sf_conf *c, char out[13])
{
	char *path = NULL, *buf = NULL;
	size_t len, i;
	int rc;

	out[0] = '\0';
	if (sf_asprintf(&path, "%s/unit_id", c->state_dir) != SF_OK)
		return SF_ENOMEM;
	rc = sf_read_file(path, 64, &buf, &len);
	free(path);
	if (rc != SF_OK)
		return rc;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len != 12) {
		free(buf);
		return SF_EPARSE;
	}
	for (i = 0; i < 12; i++)
		if (!((buf[i] >= '0' && buf[i] <= '9') ||
		    (buf[i] >= 'a' && buf[i] <= 'f'))) {
			free(buf);
			return SF_EPARSE;
		}
	memcpy(out, buf, 12);
	out[12] = '\0';
	free(buf);
	return SF_OK;
}

int
unit_init(const struct sf_conf *c)
{
	unsigned char r[6];
	char id[13], line[14], *path = NULL;
	struct store *st = NULL;
	int rc;

	if ((rc = mkdirs(c->state_dir, 0750)) != SF_OK ||
	    (rc = mkdirs(c->run_dir, 0750)) != SF_OK ||
	    (rc = mkdirs(c->audit_dir, 0750)) != SF_OK)
		return rc;
	if ((rc = unit_id(c, id)) == SF_ENOTFOUND) {
		if ((rc = sf_random(r, sizeof(r))) != SF_OK)
			return rc;
		snprintf(line, sizeof(line), "%02x%02x%02x%02x%02x%02x\n",
		    r[0], r[1], r[2], r[3], r[4], r[5]);
		if (sf_asprintf(&path, "%s/unit_id", c->state_dir) != SF_OK)
			return SF_ENOMEM;
		rc = sf_write_file(path, line, 13, 0644);
		free(path);
	}
	if (rc != SF_OK)
		return rc;
	if ((rc = keyring_init(c->keys_dir, (enum jws_alg)c->signing_alg))
	    != SF_OK) {
		log_err("keyring %s: %s", c->keys_dir, sf_strerror(rc));
		return rc;
	}
	if ((rc = store_open(c->store, true, &st)) != SF_OK) {
		log_err("store %s: %s", c->store, sf_strerror(rc));
		return rc;
	}
	store_close(st);
	return SF_OK;
}
