/*
 * validate.c - declarative checks of request objects: each route lists
 * its fields (struct field_spec) and this file applies the list.
 */
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

/* "A-Za-z0-9._-": ranges and single characters. */
static bool
char_allowed(unsigned char c, const char *pat)
{
	size_t i, n = strlen(pat);

	for (i = 0; i < n; i++) {
		if (i + 2 < n && pat[i + 1] == '-') {
			if (c >= (unsigned char)pat[i] &&
			    c <= (unsigned char)pat[i + 2])
				return true;
			i += 2;
		} else if (c == (unsigned char)pat[i])
			return true;
	}
	return false;
}

/*
 * RFC 3986 §4.3 absolute-URI: scheme ":" hier-part, no fragment, no
 * whitespace or control characters.
 */
static bool
is_absolute_uri(const char *s)
{
	const char *p = s;

	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return false;
	for (p++; *p != ':'; p++) {
		if (*p == '\0')
			return false;
		if (!char_allowed((unsigned char)*p, "a-zA-Z0-9+.-"))
			return false;
	}
	if (p[1] == '\0')
		return false;
	for (p++; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '#' ||
		    *p == '<' || *p == '>' || *p == '"' || *p == '\\')
			return false;
	return true;
}

static int
check_string(const struct field_spec *f, const json_t *v, const char *what,
    char **why)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	size_t i;

	if (len == 0 && !(f->flags & FIELD_EMPTY_OK))
		return sf_asprintf(why, "%s must not be empty", what),
		    SF_EINVAL;
	if (memchr(s, '\0', len) != NULL)
		return sf_asprintf(why, "%s holds a NUL character", what),
		    SF_EINVAL;
	if (f->max > 0 && (long long)len > f->max)
		return sf_asprintf(why, "%s is longer than %lld bytes", what,
		    f->max), SF_EINVAL;
	if (f->min > 0 && (long long)len < f->min)
		return sf_asprintf(why, "%s is shorter than %lld bytes", what,
		    f->min), SF_EINVAL;
	if (f->pattern != NULL)
		for (i = 0; i < len; i++)
			if (!char_allowed((unsigned char)s[i], f->pattern))
				return sf_asprintf(why, "%s may only hold "
				    "[%s]", what, f->pattern), SF_EINVAL;
	if (f->type == FIELD_URI && !is_absolute_uri(s))
		return sf_asprintf(why, "%s must be an absolute URI", what),
		    SF_EINVAL;
	return SF_OK;
}

static const struct field_spec *
find_spec(const struct field_spec *specs, const char *name)
{
	for (; specs->name != NULL; specs++)
		if (strcmp(specs->name, name) == 0)
			return specs;
	return NULL;
}

static int
check_field(json_t *obj, const struct field_spec *f, json_t *v, char **why)
{
	json_t *m, *parsed;
	char *pwhy = NULL;
	size_t i;
	int rc;

	switch (f->type) {
	case FIELD_STRING:
	case FIELD_URI:
		if (!json_is_string(v))
			break;
		return check_string(f, v, f->name, why);
	case FIELD_STRINGS:
		if (json_is_string(v))
			return check_string(f, v, f->name, why);
		if (!json_is_array(v))
			break;
		if (json_array_size(v) == 0)
			return sf_asprintf(why, "%s must not be an empty "
			    "array", f->name), SF_EINVAL;
		/* FALLTHROUGH */
	case FIELD_STRING_ARRAY:
		if (!json_is_array(v))
			break;
		if (json_array_size(v) > 64)
			return sf_asprintf(why, "%s has too many elements",
			    f->name), SF_EINVAL;
		json_array_foreach(v, i, m) {
			if (!json_is_string(m))
				return sf_asprintf(why, "%s must hold only "
				    "strings", f->name), SF_EINVAL;
			if ((rc = check_string(f, m, f->name, why)) != SF_OK)
				return rc;
		}
		return SF_OK;
	case FIELD_INT:
		if (!json_is_integer(v))
			break;
		if (json_integer_value(v) < f->min ||
		    json_integer_value(v) > f->max)
			return sf_asprintf(why, "%s must be between %lld and "
			    "%lld", f->name, f->min, f->max), SF_EINVAL;
		return SF_OK;
	case FIELD_BOOL:
		if (!json_is_boolean(v))
			break;
		return SF_OK;
	case FIELD_OBJECT:
		if (json_is_string(v) && (f->flags & FIELD_JSON_STRING)) {
			rc = json_parse_strict(json_string_value(v),
			    json_string_length(v), &parsed, &pwhy);
			if (rc != SF_OK || !json_is_object(parsed)) {
				json_decref(parsed);
				(void)sf_asprintf(why, "%s is not a JSON "
				    "object%s%s", f->name, pwhy ? ": " : "",
				    pwhy ? pwhy : "");
				free(pwhy);
				return SF_EINVAL;
			}
			if (json_object_set_new(obj, f->name, parsed) != 0)
				return SF_ENOMEM;
			return SF_OK;
		}
		if (!json_is_object(v))
			break;
		return SF_OK;
	case FIELD_ANY:
		return SF_OK;
	}
	return sf_asprintf(why, "%s has the wrong type (expected %s)", f->name,
	    f->type == FIELD_INT ? "an integer" :
	    f->type == FIELD_BOOL ? "a boolean" :
	    f->type == FIELD_OBJECT ? "an object" :
	    f->type == FIELD_STRING_ARRAY ? "an array of strings" :
	    f->type == FIELD_STRINGS ? "a string or an array of strings" :
	    "a string"), SF_EINVAL;
}

int
validate_fields(json_t *obj, const struct field_spec *specs,
    bool allow_unknown, char **why)
{
	const struct field_spec *f;
	const char *k;
	json_t *v;
	int rc;

	*why = NULL;
	if (!json_is_object(obj))
		return sf_asprintf(why, "request body must be a JSON object"),
		    SF_EINVAL;
	if (!allow_unknown)
		json_object_foreach(obj, k, v)
			if (find_spec(specs, k) == NULL)
				return sf_asprintf(why, "unknown field '%s'",
				    k), SF_EINVAL;
	for (f = specs; f->name != NULL; f++) {
		v = json_object_get(obj, f->name);
		if (v == NULL || json_is_null(v)) {
			if (f->flags & FIELD_REQUIRED)
				return sf_asprintf(why, "%s is required",
				    f->name), SF_EINVAL;
			continue;
		}
		if ((rc = check_field(obj, f, v, why)) != SF_OK)
			return rc;
	}
	return SF_OK;
}
