/*
 * ctl_seal.c - `starflyctl seal`, `starflyctl unseal`, and the unseal
 * key set up at `starflyctl init` (lib/seal.c has the design).
 *
 *   seal [status]     seal the unit now (every process stops signing),
 *                     or print the seal state as JSON
 *   unseal            read the unseal key from standard input (one
 *                     line) and unseal the unit
 *
 * Run them as the signing program's user: the seal segment is 0600.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

#define KEY_MAX	1024

static void
audit_seal(const struct sf_conf *conf, const char *action,
    const char *decision, const char *reason)
{
	struct audit *a = NULL;

	if (audit_open(conf, "starflyctl", &a) != SF_OK)
		return;
	(void)audit_record(a, NULL, "seal", action, NULL, NULL, decision,
	    reason, NULL);
	audit_close(a);
}

int
ctl_seal(struct ctl *c, int argc, char **argv)
{
	const struct sf_conf *conf;
	json_t *st = NULL;
	char *s;
	int rc;

	if (argc > 2 || (argc == 2 && strcmp(argv[1], "status") != 0)) {
		fprintf(stderr, "usage: starflyctl seal [status]\n");
		return 2;
	}
	if ((conf = ctl_conf(c)) == NULL)
		return 1;
	if (argc == 2) {
		if ((rc = seal_status(conf, &st)) != SF_OK) {
			fprintf(stderr, "starflyctl seal status: %s\n",
			    sf_strerror(rc));
			return 1;
		}
		s = json_dumps(st, JSON_INDENT(2));
		printf("%s\n", s ? s : "{}");
		free(s);
		json_decref(st);
		return 0;
	}
	if ((rc = seal_seal(conf)) != SF_OK) {
		fprintf(stderr, "starflyctl seal: %s\n", sf_strerror(rc));
		return 1;
	}
	audit_seal(conf, "seal", "allow", "sealed by starflyctl");
	printf("sealed: no process of the unit can sign until "
	    "`starflyctl unseal`\n");
	return 0;
}

/* One line of standard input, newline removed; new (a secret). */
static char *
read_key(void)
{
	char buf[KEY_MAX + 2];
	size_t n;

	if (isatty(STDIN_FILENO))
		fprintf(stderr, "unseal key: ");
	if (fgets(buf, sizeof(buf), stdin) == NULL)
		return NULL;
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	return sf_strdup(buf);
}

int
ctl_unseal(struct ctl *c, int argc, char **argv)
{
	const struct sf_conf *conf;
	const char *why = NULL;
	int64_t retry = 0;
	char *key;
	int rc;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: starflyctl unseal < KEYFILE\n");
		return 2;
	}
	if ((conf = ctl_conf(c)) == NULL)
		return 1;
	if ((key = read_key()) == NULL || *key == '\0') {
		fprintf(stderr, "starflyctl unseal: no key on standard "
		    "input\n");
		sf_strfree_secret(key);
		return 2;
	}
	rc = seal_unseal(conf, key, &retry, &why);
	sf_strfree_secret(key);
	audit_seal(conf, "unseal", rc == SF_OK ? "allow" : "deny",
	    rc == SF_OK ? "unsealed by starflyctl" : why);
	if (rc == SF_ELIMIT) {
		fprintf(stderr, "starflyctl unseal: %s (%lld s)\n", why,
		    (long long)retry);
		return 1;
	}
	if (rc != SF_OK) {
		fprintf(stderr, "starflyctl unseal: %s\n", why ? why :
		    sf_strerror(rc));
		return 1;
	}
	printf("unsealed\n");
	return 0;
}

/* mkdir -p (0755 for what it creates). */
static int
mkdirs(const char *path)
{
	char *p, *s;
	int rc = 0;

	if ((p = sf_strdup(path)) == NULL)
		return -1;
	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		if (*s == '/')
			*s = '\0';
		else
			s = NULL;
		if (mkdir(p, 0755) == -1 && errno != EEXIST) {
			rc = -1;
			break;
		}
		if (s == NULL)
			break;
		*s = '/';
	}
	free(p);
	return rc;
}

/*
 * At `starflyctl init`, before the first key exists: set up the unseal
 * key.  Production prints it once; dev writes it to state_dir/unseal.key
 * (0600) and starts unsealed.
 */
int
ctl_seal_init(struct ctl *c)
{
	const struct sf_conf *conf;
	char *key = NULL, *path = NULL;
	size_t n = 0;
	bool dev;
	int rc;

	if ((conf = ctl_conf(c)) == NULL)
		return 1;
	dev = conf->mode == SF_MODE_DEV;
	if (mkdirs(conf->keys_dir) == -1 || mkdirs(conf->state_dir) == -1 ||
	    mkdirs(conf->run_dir) == -1) {
		fprintf(stderr, "starflyctl init: mkdir %s: %s\n",
		    conf->keys_dir, strerror(errno));
		return 1;
	}
	rc = seal_setup(conf, NULL, &key);
	if (rc != SF_OK && rc != SF_EEXIST) {
		fprintf(stderr, "starflyctl init: unseal key: %s\n",
		    sf_strerror(rc));
		return 1;
	}
	if (rc == SF_OK && dev) {
		if (sf_asprintf(&path, "%s/unseal.key", conf->state_dir) !=
		    SF_OK || sf_write_file(path, key, strlen(key), 0600) !=
		    SF_OK) {
			fprintf(stderr, "starflyctl init: cannot write %s\n",
			    path ? path : "unseal.key");
			rc = SF_ESYS;
		}
		free(path);
	} else if (rc == SF_OK) {
		printf("unseal key: %s\n"
		    "  Keep it safe and away from this host: it is shown only "
		    "now, and the\n  signing keys cannot be used without it "
		    "after a reboot or a seal.\n  Unseal with `starflyctl "
		    "unseal` (key on standard input) or\n  POST "
		    "/v1/sys/unseal {\"key\": ...}.\n", key);
		if ((rc = seal_migrate(conf, &n)) != SF_OK)
			fprintf(stderr, "starflyctl init: encrypting the "
			    "existing keys: %s\n", sf_strerror(rc));
		else if (n > 0)
			printf("%zu existing private key(s) encrypted\n", n);
	}
	sf_strfree_secret(key);
	if (rc == SF_EEXIST)
		rc = SF_OK;
	if (rc == SF_OK && dev)
		rc = seal_dev_start(conf);
	return rc == SF_OK ? 0 : 1;
}
