/* See cli-pins.h.  Strict like providers.json: the cache script, the test
 * tier and the image builder take names and paths from this file, so a
 * typo or a path leaving the install prefix is an error here rather than
 * a CLI missing from an image. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>

#include "cli-pins.h"
#include "errbuf.h"
#include "fileio.h"

#define CLI_STRING_MAX 256

static void pin_done(CliPin *p) {
        free(p->provider);
        free(p->package);
        free(p->version);
        free(p->command);
        free(p->entry);
}

CliPins *cli_pins_free(CliPins *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n; i++)
                pin_done(&p->pins[i]);
        free(p->pins);
        free(p->node_suite);
        free(p->node_package);
        free(p->node_version);
        free(p);
        return NULL;
}

typedef struct Ctx {
        char *errbuf;
        size_t errsize;
        const char *where; /* "node", or the provider (NULL before it is read) */
} Ctx;

_printf_(2, 3) static int fail(Ctx *c, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = errbuf_vfail(c->errbuf, c->errsize, "clis", c->where, fmt, ap);
        va_end(ap);
        return r;
}

static bool chars_ok(const char *s, const char *extra) {
        if (!*s || strlen(s) > CLI_STRING_MAX)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      strchr(extra, *s)))
                        return false;
        return true;
}

/* npm's rules for new names: lower case, "@scope/" optional. */
static bool package_ok(const char *s) {
        const char *slash = strchr(s, '/');

        for (const char *p = s; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        return false;
        if (*s != '@')
                return !slash && chars_ok(s, "-._~") && *s != '.' && *s != '_';
        if (!slash || slash == s + 1 || strchr(slash + 1, '/'))
                return false;
        return chars_ok(s + 1, "-._~/") && slash[1] && slash[1] != '.' && slash[1] != '_';
}

/* Relative, no empty, "." or ".." component: the entry stays inside the
 * install prefix. */
static bool relative_path_ok(const char *s) {
        return chars_ok(s, "-._~/@+") && path_is_safe_relative(s);
}

static int get_string(Ctx *c, json_t *o, const char *key, const char *extra, char **ret) {
        json_t *v = json_object_get(o, key);

        if (!v)
                return fail(c, "missing \"%s\"", key);
        if (!json_is_string(v) || !chars_ok(json_string_value(v), extra))
                return fail(c, "\"%s\" must be a string of letters, digits and \"%s\" (1..%d)", key, extra,
                            CLI_STRING_MAX);
        *ret = strdup(json_string_value(v));
        return *ret ? 0 : -ENOMEM;
}

static int only_keys(Ctx *c, json_t *o, const char *const *keys) {
        const char *k;
        json_t *v;

        json_object_foreach(o, k, v) {
                size_t i;
                for (i = 0; keys[i] && !streq(keys[i], k); i++)
                        ;
                if (!keys[i])
                        return fail(c, "unknown key \"%.64s\"", k);
        }
        return 0;
}

static int parse_node(Ctx *c, json_t *o, CliPins *p) {
        static const char *const keys[] = { "debian_suite", "package", "version", NULL };
        int r;

        c->where = "node";
        if (!json_is_object(o))
                return fail(c, "\"node\" must be an object");
        r = only_keys(c, o, keys);
        if (r >= 0)
                r = get_string(c, o, "debian_suite", "-", &p->node_suite);
        if (r >= 0)
                r = get_string(c, o, "package", "-.+", &p->node_package);
        if (r >= 0)
                r = get_string(c, o, "version", ".+~:-", &p->node_version);
        return r;
}

static int parse_pin(Ctx *c, json_t *o, CliPin *p) {
        static const char *const keys[] = { "provider", "package", "version", "command", "entry", "needs_node", NULL };
        json_t *v;
        int r;

        c->where = NULL;
        if (!json_is_object(o))
                return fail(c, "each entry of \"clis\" must be an object");
        r = get_string(c, o, "provider", "_-", &p->provider);
        if (r < 0)
                return r;
        c->where = p->provider;
        r = only_keys(c, o, keys);
        if (r >= 0)
                r = get_string(c, o, "package", "@/-._~", &p->package);
        if (r >= 0 && !package_ok(p->package))
                r = fail(c, "\"package\" must be an npm package name");
        if (r >= 0)
                r = get_string(c, o, "version", ".+-", &p->version);
        if (r >= 0)
                r = get_string(c, o, "command", "-._", &p->command);
        if (r >= 0)
                r = get_string(c, o, "entry", "-._~/@+", &p->entry);
        if (r >= 0 && !relative_path_ok(p->entry))
                r = fail(c, "\"entry\" must be a path below the install prefix");
        if (r < 0)
                return r;
        v = json_object_get(o, "needs_node");
        if (v && !json_is_boolean(v))
                return fail(c, "\"needs_node\" must be a boolean");
        p->needs_node = json_is_true(v);
        return 0;
}

static int parse_root(Ctx *c, json_t *root, CliPins *p) {
        static const char *const keys[] = { "node", "clis", NULL };
        json_t *list, *e;
        size_t i;
        int r;

        if (!json_is_object(root))
                return fail(c, "the file must be an object");
        r = only_keys(c, root, keys);
        if (r >= 0)
                r = parse_node(c, json_object_get(root, "node"), p);
        if (r < 0)
                return r;
        c->where = NULL;
        list = json_object_get(root, "clis");
        if (!json_is_array(list) || json_array_size(list) > CLI_PINS_MAX)
                return fail(c, "\"clis\" must be an array of at most %d entries", CLI_PINS_MAX);
        p->pins = calloc(json_array_size(list) + 1, sizeof(CliPin));
        if (!p->pins)
                return -ENOMEM;
        json_array_foreach(list, i, e) {
                p->n = i + 1; /* so cli_pins_free() frees a partial entry */
                r = parse_pin(c, e, &p->pins[i]);
                if (r < 0)
                        return r;
                for (size_t k = 0; k < i; k++)
                        if (streq(p->pins[k].provider, p->pins[i].provider))
                                return fail(c, "\"provider\" is pinned twice");
        }
        return 0;
}

int cli_pins_parse(const char *text, size_t size, CliPins **ret, char *errbuf, size_t errsize) {
        _cleanup_(cli_pins_freep) CliPins *p = NULL;
        Ctx c = { errbuf, errsize, NULL };
        json_error_t jerr;
        json_t *root;
        int r;

        root = json_loadb(text, size, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
                c.where = "file";
                return fail(&c, "line %d: %s", jerr.line, jerr.text);
        }
        p = calloc(1, sizeof *p);
        r = p ? parse_root(&c, root, p) : -ENOMEM;
        json_decref(root);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

char *cli_pin_package_json(const CliPin *p) {
        char *s;

        return asprintf(&s, "node_modules/%s/package.json", p->package) < 0 ? NULL : s;
}

int cli_pins_package_version(const char *text, size_t size, char **ret) {
        json_t *root = json_loadb(text, size, 0, NULL), *v;
        int r = -EINVAL;

        v = json_object_get(root, "version");
        if (json_is_string(v) && chars_ok(json_string_value(v), ".+-")) {
                *ret = strdup(json_string_value(v));
                r = *ret ? 0 : -ENOMEM;
        }
        json_decref(root);
        return r;
}
