/*
 * ctl_tools.c - `starflyctl tools`: the MCP tool registry, on the store
 * directly (what POST/GET/DELETE /v1/mcp/tools do, without HTTP).
 *
 *   tools list [--json]
 *   tools get TOOL_ID
 *   tools add --id ID --resource URI [--name N] [--server-id S]
 *       [--description D] [--capabilities A,B] [--max-blast-radius R]
 *       [--exec-acts A,B]
 *   tools add --json FILE|-
 *   tools rm TOOL_ID
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const char tools_usage[] =
    "usage: starflyctl tools list [--json]\n"
    "       starflyctl tools get TOOL_ID\n"
    "       starflyctl tools add --id ID --resource URI [--name N] "
    "[--server-id S]\n"
    "           [--description D] [--capabilities A,B] "
    "[--max-blast-radius R] [--exec-acts A,B]\n"
    "       starflyctl tools add --json FILE|-\n"
    "       starflyctl tools rm TOOL_ID\n";

static struct store *
tools_store(struct ctl *c)
{
	const struct sf_conf *conf;
	struct store *st = NULL;
	int rc;

	if ((conf = ctl_conf(c)) == NULL)
		return NULL;
	if ((rc = store_open(conf->store, false, &st)) != SF_OK) {
		fprintf(stderr, "starflyctl tools: store %s: %s (run "
		    "`starflyctl init`)\n", conf->store, sf_strerror(rc));
		return NULL;
	}
	(void)revoke_ring_open(conf->store);
	return st;
}

static void
print_json(const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2));

	if (s != NULL)
		printf("%s\n", s);
	free(s);
}

/* "a,b,c" as a JSON array of strings (new). */
static json_t *
split_list(const char *s)
{
	json_t *arr = json_array();
	const char *p = s, *comma;

	while (arr != NULL && *p != '\0') {
		comma = strchr(p, ',');
		if (comma == NULL)
			comma = p + strlen(p);
		if (comma > p)
			json_array_append_new(arr, json_stringn(p,
			    (size_t)(comma - p)));
		p = *comma == ',' ? comma + 1 : comma;
	}
	return arr;
}

static json_t *
read_json_arg(const char *path)
{
	json_t *v = NULL;
	char *buf = NULL, *why = NULL;
	size_t len = 0, cap = 0, n;
	int rc;

	if (strcmp(path, "-") == 0) {
		for (;;) {
			if (len + 4096 + 1 > cap) {
				char *nb = realloc(buf, cap = cap ? cap * 2 :
				    8192);

				if (nb == NULL || cap > 1024 * 1024) {
					free(nb != NULL ? nb : buf);
					fprintf(stderr, "starflyctl tools: "
					    "input too large\n");
					return NULL;
				}
				buf = nb;
			}
			if ((n = fread(buf + len, 1, 4096, stdin)) == 0)
				break;
			len += n;
		}
		if (buf == NULL)
			return NULL;
		buf[len] = '\0';
	} else if ((rc = sf_read_file(path, 1024 * 1024, &buf, &len)) !=
	    SF_OK) {
		fprintf(stderr, "starflyctl tools: %s: %s\n", path,
		    sf_strerror(rc));
		return NULL;
	}
	if (json_parse_strict(buf, len, &v, &why) != SF_OK) {
		fprintf(stderr, "starflyctl tools: %s: %s\n", path, why);
		free(why);
		v = NULL;
	}
	free(buf);
	return v;
}

static int
tools_add(struct ctl *c, int argc, char **argv)
{
	static const struct { const char *opt, *member; bool list; } opts[] = {
		{ "--id", "tool_id", false }, { "--resource", "resource_uri",
		false }, { "--name", "name", false }, { "--server-id",
		"server_id", false }, { "--description", "description", false },
		{ "--capabilities", "capabilities", true },
		{ "--max-blast-radius", "max_blast_radius", false },
		{ "--exec-acts", "exec_acts", true },
	};
	struct store *st = NULL;
	json_t *req = NULL, *stored = NULL;
	char *why = NULL;
	bool created;
	size_t k;
	int i, rc, ret = 1;

	if (argc == 3 && strcmp(argv[1], "--json") == 0) {
		if ((req = read_json_arg(argv[2])) == NULL)
			return 1;
	} else {
		if ((req = json_object()) == NULL)
			return 1;
		for (i = 1; i < argc; i += 2) {
			for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
				if (strcmp(argv[i], opts[k].opt) == 0)
					break;
			if (k == sizeof(opts) / sizeof(opts[0]) ||
			    i + 1 >= argc) {
				fputs(tools_usage, stderr);
				json_decref(req);
				return 2;
			}
			json_object_set_new(req, opts[k].member, opts[k].list ?
			    split_list(argv[i + 1]) : json_string(argv[i + 1]));
		}
	}
	if (toolreg_validate(req, &why) != SF_OK) {
		fprintf(stderr, "starflyctl tools add: %s\n", why);
		goto out;
	}
	if ((st = tools_store(c)) == NULL)
		goto out;
	rc = toolreg_add(st, req, sf_now(), &stored, &created);
	if (rc == SF_EEXIST) {
		fprintf(stderr, "starflyctl tools add: %s is already "
		    "registered with different content; `tools rm` it first\n",
		    json_string_value(json_object_get(req, "tool_id")));
		goto out;
	}
	if (rc != SF_OK) {
		fprintf(stderr, "starflyctl tools add: %s\n", sf_strerror(rc));
		goto out;
	}
	if (!created)
		fprintf(stderr, "starflyctl tools add: already registered "
		    "with the same content\n");
	print_json(stored);
	ret = 0;
out:
	free(why);
	json_decref(stored);
	json_decref(req);
	store_close(st);
	return ret;
}

static const char *
member(const json_t *e, const char *name)
{
	const char *s = json_string_value(json_object_get(e, name));

	return s != NULL ? s : "-";
}

static int
tools_list(struct ctl *c, bool as_json)
{
	struct store *st;
	json_t *list = NULL, *e;
	size_t i;
	int rc;

	if ((st = tools_store(c)) == NULL)
		return 1;
	rc = toolreg_list(st, &list);
	store_close(st);
	if (rc != SF_OK) {
		fprintf(stderr, "starflyctl tools list: %s\n", sf_strerror(rc));
		return 1;
	}
	if (as_json)
		print_json(list);
	else {
		printf("%-32s  %-20s  %s\n", "TOOL_ID", "REGISTERED",
		    "RESOURCE_URI");
		json_array_foreach(list, i, e)
			printf("%-32s  %-20s  %s\n", member(e, "tool_id"),
			    member(e, "registered_at"),
			    member(e, "resource_uri"));
	}
	json_decref(list);
	return 0;
}

static int
tools_get(struct ctl *c, const char *id)
{
	struct store *st;
	json_t *e = NULL;
	int rc;

	if ((st = tools_store(c)) == NULL)
		return 1;
	rc = toolreg_get(st, id, &e);
	store_close(st);
	if (rc == SF_ENOTFOUND) {
		fprintf(stderr, "starflyctl tools get: %s is not registered\n",
		    id);
		return 1;
	}
	if (rc != SF_OK) {
		fprintf(stderr, "starflyctl tools get: %s\n", sf_strerror(rc));
		return 1;
	}
	print_json(e);
	json_decref(e);
	return 0;
}

static int
tools_rm(struct ctl *c, const char *id)
{
	struct store *st;
	int rc;

	if ((st = tools_store(c)) == NULL)
		return 1;
	rc = toolreg_del(st, id);
	store_close(st);
	if (rc == SF_ENOTFOUND) {
		fprintf(stderr, "starflyctl tools rm: %s is not registered\n",
		    id);
		return 1;
	}
	if (rc != SF_OK) {
		fprintf(stderr, "starflyctl tools rm: %s\n", sf_strerror(rc));
		return 1;
	}
	printf("deregistered %s\n", id);
	return 0;
}

int
ctl_tools(struct ctl *c, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "list") == 0 && (argc == 2 ||
	    (argc == 3 && strcmp(argv[2], "--json") == 0)))
		return tools_list(c, argc == 3);
	if (argc == 3 && strcmp(argv[1], "get") == 0)
		return tools_get(c, argv[2]);
	if (argc == 3 && strcmp(argv[1], "rm") == 0)
		return tools_rm(c, argv[2]);
	if (argc >= 2 && strcmp(argv[1], "add") == 0)
		return tools_add(c, argc - 1, argv + 1);
	fputs(tools_usage, stderr);
	return 2;
}
