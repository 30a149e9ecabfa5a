/*
 * starflyctl - the operator's command.  It never speaks HTTP: it works on
 * the configuration, the store and the key files directly, as the user
 * that owns them.
 *
 * Usage: starflyctl [--config FILE] COMMAND [ARGS...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static int	cmd_init(struct ctl *, int, char **);
static int	cmd_config(struct ctl *, int, char **);
static int	cmd_version(struct ctl *, int, char **);
static int	cmd_help(struct ctl *, int, char **);

static const struct {
	const char	*name;
	int		(*fn)(struct ctl *, int, char **);
	const char	*usage;
} cmds[] = {
	{ "init", cmd_init, "init\n"
	    "\tCreate the unit: state directories, unit id, first signing "
	    "key, store.\n\tIdempotent." },
	{ "config", cmd_config, "config check\n"
	    "\tLoad the configuration and report the first error as "
	    "file:line." },
	{ "keys", ctl_keys, "keys list|init|rotate [--alg ALG]|prune\n"
	    "\tThe signing keyring: list keys, rotate the active key (the "
	    "old one stays\n\tpublished until its tokens expire), drop "
	    "expired retired keys." },
	{ "policy", ctl_policy, "policy eval [--data F] [--input F] QUERY "
	    "PATH...\n       policy test PATH...\n       policy check "
	    "PATH...\n"
	    "\tEvaluate a Rego query, run test_* rules like `opa test`, or "
	    "compile only." },
	{ "issuers", ctl_issuers, "issuers list [--json]|sync [NAME]|verify [--type URI] TOKEN" },
	{ "seal", ctl_seal, "seal [status]\n"
	    "\tSeal the unit now: no process can sign until unsealed.  "
	    "status prints\n\tthe seal state as JSON." },
	{ "unseal", ctl_unseal, "unseal < KEYFILE\n"
	    "\tRead the unseal key (from init) on standard input and "
	    "unseal the unit;\n\tevery process signs again without a "
	    "restart." },
	{ "audit", ctl_audit, "audit verify | tail [-n N] [--type TYPE]... "
	    "[-f] | rotate\n"
	    "\tCheck the hash chain and report the first broken line; "
	    "print or follow\n\trecords; start a new file." },
	{ "tools", ctl_tools, "tools list [--json] | get ID | add --id ID "
	    "--resource URI [...] | add --json FILE | rm ID\n"
	    "\tThe MCP tool registry in the store (no HTTP needed)." },
	{ "revoke", ctl_revoke, "revoke [--jti] [--reason TEXT] [--ttl SECONDS] "
	    "ID\n"
	    "\tRevoke a subject (or one token by jti) in every process of "
	    "the unit." },
	{ "unrevoke", ctl_unrevoke, "unrevoke [--jti] [--forget] ID\n"
	    "\tLift a revocation: new exchanges pass, tokens issued before "
	    "stay\n\trefused; --forget removes the entry outright." },
	{ "revocations", ctl_revocations, "revocations [--all] [--json] | "
	    "hash | prune\n"
	    "\tList the revocation set, print its federation hash, or drop "
	    "expired\n\tentries." },
	{ "verify", ctl_verify, "verify --tool ID [--htm M] [--htu U] "
	    "[--jwks FILE] [--tool-json FILE] TOKEN|-\n"
	    "\tThe checks of POST /v1/mcp/verify, made locally." },
	{ "version", cmd_version, "version\n\tPrint the version." },
	{ "help", cmd_help, "help [COMMAND]\n\tThis text." },
};
#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

const struct sf_conf *
ctl_conf(struct ctl *c)
{
	char *err = NULL;
	int rc;

	if (c->conf != NULL)
		return c->conf;
	if ((rc = conf_load(c->config_path, &c->conf, &err)) != SF_OK) {
		fprintf(stderr, "starflyctl: %s\n", err ? err :
		    sf_strerror(rc));
		free(err);
		return NULL;
	}
	return c->conf;
}

static void
usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: starflyctl [--config FILE] COMMAND [ARGS...]\n\n"
	    "The configuration is --config FILE, else $STARFLY_CONF, else\n"
	    "/etc/starfly/starfly.conf.  Commands:\n\n");
	for (i = 0; i < NCMDS; i++)
		fprintf(fp, "  %s\n\n", cmds[i].usage);
}

static int
cmd_help(struct ctl *c, int argc, char **argv)
{
	size_t i;

	(void)c;
	if (argc > 1)
		for (i = 0; i < NCMDS; i++)
			if (strcmp(cmds[i].name, argv[1]) == 0) {
				printf("usage: starflyctl %s\n", cmds[i].usage);
				return 0;
			}
	usage(stdout);
	return 0;
}

static int
cmd_version(struct ctl *c, int argc, char **argv)
{
	(void)c;
	(void)argc;
	(void)argv;
	printf("starflyctl %s\n", SF_VERSION);
	return 0;
}

static int
cmd_config(struct ctl *c, int argc, char **argv)
{
	const struct sf_conf *conf;

	if (argc != 2 || strcmp(argv[1], "check") != 0) {
		fprintf(stderr, "usage: starflyctl config check\n");
		return 2;
	}
	if ((conf = ctl_conf(c)) == NULL)
		return 1;
	printf("%s: ok (mode %s, issuer %s)\n", conf->file,
	    conf->mode == SF_MODE_DEV ? "dev" : "production", conf->issuer);
	return 0;
}

static int
cmd_init(struct ctl *c, int argc, char **argv)
{
	const struct sf_conf *conf;
	char id[13];
	int rc;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: starflyctl init\n");
		return 2;
	}
	if ((conf = ctl_conf(c)) == NULL)
		return 1;
	if (ctl_seal_init(c) != 0)	/* unseal key before the first key */
		return 1;
	if ((rc = unit_init(conf)) != SF_OK) {
		fprintf(stderr, "starflyctl init: %s\n", sf_strerror(rc));
		return 1;
	}
	if (unit_id(conf, id) != SF_OK)
		id[0] = '\0';
	printf("unit %s initialised in %s\n", id, conf->state_dir);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct ctl c = { 0 };
	size_t i;
	int rc;

	log_init("starflyctl", 0, SF_LOG_WARN);
	c.config_path = conf_path_from_args(&argc, argv);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < NCMDS; i++)
		if (strcmp(cmds[i].name, argv[1]) == 0)
			break;
	if (i == NCMDS) {
		fprintf(stderr, "starflyctl: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return 2;
	}
	rc = cmds[i].fn(&c, argc - 1, argv + 1);
	conf_free(c.conf);
	return rc;
}
