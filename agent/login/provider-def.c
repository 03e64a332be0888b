/* providers.json → ProviderSet.  Pure: no syscalls, only jansson (but
 * provider_set_program_hidden(), which looks where the CLIs' programs
 * and their scripts' interpreters are on this file system).  Strict
 * like the agent's config: unknown keys, wrong types, duplicate ids or
 * aliases and unsafe credential paths are errors naming the provider and
 * the key, because a typo here would otherwise surface only as a login that
 * never completes.  Grammar:
 *   {"providers": [ {"id": "codex", "aliases": ["codex_cli"],
 *     "argv": ["codex", "login"], "env": {"K": "V"}, "pty": true,
 *     "prompts": [{"match": "Press Enter", "send": "\r", "repeat": false}],
 *     "failures": ["Failed to sign in"],
 *     "url_patterns": ["https://auth.openai.com/oauth/authorize?"],
 *     "credential_file": ".codex/auth.json", "credential_keys": ["tokens"],
 *     "callback_port": 1455, "callback_path": "/auth/callback"} ] } */
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "errbuf.h"
#include "fileio.h"
#include "id-util.h"
#include "launch.h"
#include "macro.h"
#include "mount-util.h"
#include "provider-def.h"
#include "shebang.h"
#include "strv.h"
#include "url-util.h"

static void provider_def_done(ProviderDef *p) {
        free(p->id);
        strv_free(p->aliases);
        strv_free(p->argv);
        strv_free(p->env);
        for (size_t i = 0; i < p->n_prompts; i++) {
                free(p->prompts[i].match);
                free(p->prompts[i].send);
        }
        free(p->prompts);
        strv_free(p->url_patterns);
        free(p->credential_file);
        strv_free(p->credential_keys);
        strv_free(p->failures);
        free(p->callback_path);
}

ProviderSet *provider_set_free(ProviderSet *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n; i++)
                provider_def_done(&s->defs[i]);
        free(s->defs);
        free(s);
        return NULL;
}

static void provider_set_freep(ProviderSet **s) {
        provider_set_free(*s);
}

typedef struct Ctx {
        char *errbuf;
        size_t errsize;
        const char *id; /* for messages; may be NULL before "id" is read */
} Ctx;

/* Keys and values from the file are quoted in messages: errbuf keeps
 * them one line. */
_printf_(2, 3) static int fail(Ctx *c, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = errbuf_vfail(c->errbuf, c->errsize, "provider", c->id, fmt, ap);
        va_end(ap);
        return r;
}

static bool string_ok(const char *s) {
        size_t n = strlen(s);

        return n > 0 && n <= PROVIDER_STRING_MAX;
}

static int parse_string(Ctx *c, json_t *v, const char *key, char **ret) {
        if (!json_is_string(v) || json_string_length(v) != strlen(json_string_value(v)) ||
            !string_ok(json_string_value(v)))
                return fail(c, "\"%s\" must be a non-empty string without NUL (max %d bytes)",
                            key, PROVIDER_STRING_MAX);
        *ret = strdup(json_string_value(v));
        return *ret ? 0 : -ENOMEM;
}

/* A list of strings, each entry checked by ok (NULL: any string), whose
 * refusal quotes it and says what it is not. */
typedef struct {
        const char *key;
        size_t offset; /* of the char ** in ProviderDef */
        bool need_one;
        bool (*ok)(const char *s);
        const char *not_ok; /* "is not ..." */
} ListKey;

static int parse_strv(Ctx *c, json_t *v, const ListKey *k, char ***ret) {
        _cleanup_(strv_freep) char **l = NULL;
        size_t i, n;
        json_t *e;

        if (!json_is_array(v))
                return fail(c, "\"%s\" must be an array of strings", k->key);
        n = json_array_size(v);
        if (n > PROVIDER_LIST_MAX)
                return fail(c, "\"%s\" has more than %d entries", k->key, PROVIDER_LIST_MAX);
        if (k->need_one && n == 0)
                return fail(c, "\"%s\" must not be empty", k->key);
        l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        json_array_foreach(v, i, e) {
                int r = parse_string(c, e, k->key, &l[i]);
                if (r < 0)
                        return r;
                if (k->ok && !k->ok(l[i]))
                        return fail(c, "\"%s\": \"%.64s\" %s", k->key, l[i], k->not_ok);
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static bool env_name_ok(const char *k) {
        if (!*k || (*k >= '0' && *k <= '9'))
                return false;
        for (; *k; k++)
                if (!(*k == '_' || (*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') ||
                      (*k >= '0' && *k <= '9')))
                        return false;
        return true;
}

static int parse_env(Ctx *c, json_t *v, char ***ret) {
        const char *k;
        json_t *e;
        size_t i = 0;
        char **l;

        if (!json_is_object(v))
                return fail(c, "\"env\" must be an object of strings");
        if (json_object_size(v) > PROVIDER_LIST_MAX)
                return fail(c, "\"env\" has more than %d entries", PROVIDER_LIST_MAX);
        l = calloc(json_object_size(v) + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        json_object_foreach(v, k, e) {
                if (!env_name_ok(k) || !json_is_string(e) ||
                    json_string_length(e) != strlen(json_string_value(e)) ||
                    asprintf(&l[i], "%s=%s", k, json_string_value(e)) < 0) {
                        l[i] = NULL;
                        strv_free(l);
                        return fail(c, "\"env\": \"%.64s\" must be a variable name with a string value", k);
                }
                i++;
        }
        *ret = l;
        return 0;
}

static int parse_prompt(Ctx *c, json_t *v, ProviderPrompt *p) {
        const char *k;
        json_t *e;
        int r;

        if (!json_is_object(v))
                return fail(c, "\"prompts\" entries must be objects");
        json_object_foreach(v, k, e) {
                if (streq(k, "match"))
                        r = parse_string(c, e, "prompts.match", &p->match);
                else if (streq(k, "send"))
                        r = parse_string(c, e, "prompts.send", &p->send);
                else if (streq(k, "repeat")) {
                        if (!json_is_boolean(e))
                                return fail(c, "\"prompts.repeat\" must be a boolean");
                        p->repeat = json_is_true(e);
                        r = 0;
                } else
                        return fail(c, "\"prompts\": unknown key \"%.64s\"", k);
                if (r < 0)
                        return r;
        }
        if (!p->match || !p->send)
                return fail(c, "\"prompts\" entries need \"match\" and \"send\"");
        return 0;
}

static int parse_prompts(Ctx *c, json_t *v, ProviderDef *p) {
        size_t i;
        json_t *e;

        if (!json_is_array(v))
                return fail(c, "\"prompts\" must be an array");
        if (json_array_size(v) > PROVIDER_LIST_MAX)
                return fail(c, "\"prompts\" has more than %d entries", PROVIDER_LIST_MAX);
        p->prompts = calloc(json_array_size(v) + 1, sizeof(ProviderPrompt));
        if (!p->prompts)
                return -ENOMEM;
        json_array_foreach(v, i, e) {
                p->n_prompts = i + 1; /* so provider_def_done() frees a partial entry */
                int r = parse_prompt(c, e, &p->prompts[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Dotted paths of JSON object keys: no empty part, at most
 * PROVIDER_KEY_DEPTH_MAX parts. */
static bool credential_key_ok(const char *s) {
        size_t parts = 0;

        for (const char *p = s;; p++) {
                size_t n = strcspn(p, ".");
                if (n == 0 || ++parts > PROVIDER_KEY_DEPTH_MAX)
                        return false;
                p += n;
                if (!*p)
                        return true;
        }
}

/* A prefix that holds the whole host: "https://claude.com" would also
 * match https://claude.com.evil.example/.  Its authority ends with '/',
 * '?' or '#' (then the prefix is itself a valid URL), or with ':' before
 * a port (then it is one with a port appended). */
static bool url_pattern_ok(const char *s) {
        const char *h = startswith(s, "https://") ?: startswith(s, "http://");
        _cleanup_(freep) char *with_port = NULL;
        size_t n;

        if (!h)
                return false;
        n = strcspn(h, "/?#");
        if (h[n])
                return http_url_is_valid(s);
        if (n == 0 || h[n - 1] != ':' || asprintf(&with_port, "%s1", s) < 0)
                return false;
        return http_url_is_valid(with_port);
}

/* One row of the CLI's output, matched from its first character. */
static bool failure_ok(const char *s) {
        return s[0] != ' ' && !strchr(s, '\n');
}

/* The capture watches exactly this file, below HOME. */
static int parse_credential_file(Ctx *c, json_t *e, ProviderDef *p) {
        int r = parse_string(c, e, "credential_file", &p->credential_file);

        if (r < 0)
                return r;
        if (!path_is_safe_relative(p->credential_file))
                return fail(c, "\"credential_file\" must be relative to HOME without \"..\"");
        return 0;
}

static int parse_callback_port(Ctx *c, json_t *e, ProviderDef *p) {
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > 65535)
                return fail(c, "\"callback_port\" must be an integer 0..65535");
        p->callback_port = (uint16_t)json_integer_value(e);
        return 0;
}

static int parse_callback_path(Ctx *c, json_t *e, ProviderDef *p) {
        int r = parse_string(c, e, "callback_path", &p->callback_path);

        if (r < 0)
                return r;
        if (p->callback_path[0] != '/' || strpbrk(p->callback_path, "?#\r\n "))
                return fail(c, "\"callback_path\" must be an absolute path without query");
        return 0;
}

static int parse_pty(Ctx *c, json_t *e, ProviderDef *p) {
        if (!json_is_boolean(e))
                return fail(c, "\"pty\" must be a boolean");
        p->pty = json_is_true(e);
        return 0;
}

/* A ListKey for ProviderDef's field, which must be a char ** (the parser
 * writes one there): any other type has no _Generic branch, and does not
 * compile. */
#define LIST_KEY(field, need_one, ok, not_ok)                                                                   \
        { #field, offsetof(ProviderDef, field) + _Generic(((ProviderDef *)0)->field, char **: 0), need_one, ok, \
          not_ok }

static const ListKey list_keys[] = {
        LIST_KEY(aliases, false, NULL, NULL),
        LIST_KEY(argv, true, NULL, NULL),
        LIST_KEY(url_patterns, true, url_pattern_ok,
                 "is not an http(s) URL prefix that ends its host with /, ? or # (or : before a port)"),
        LIST_KEY(failures, false, failure_ok, "is not one row of text that starts with no blank"),
        LIST_KEY(credential_keys, false, credential_key_ok, "is not a dotted key path"),
};

static int parse_key(Ctx *c, ProviderDef *p, const char *k, json_t *e) {
        static const struct {
                const char *key;
                int (*parse)(Ctx *c, json_t *e, ProviderDef *p);
        } keys[] = {
                { "pty", parse_pty },
                { "prompts", parse_prompts },
                { "credential_file", parse_credential_file },
                { "callback_port", parse_callback_port },
                { "callback_path", parse_callback_path },
        };

        if (streq(k, "id"))
                return 0; /* read first, by the caller */
        for (size_t i = 0; i < ELEMENTSOF(list_keys); i++)
                if (streq(k, list_keys[i].key))
                        return parse_strv(c, e, &list_keys[i], (char ***)((char *)p + list_keys[i].offset));
        if (streq(k, "env"))
                return parse_env(c, e, &p->env);
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (streq(k, keys[i].key))
                        return keys[i].parse(c, e, p);
        return fail(c, "unknown key \"%.64s\"", k);
}

static int parse_provider(Ctx *c, json_t *v, ProviderDef *p) {
        const char *k;
        json_t *e, *id;
        int r;

        if (!json_is_object(v))
                return fail(c, "each entry of \"providers\" must be an object");
        id = json_object_get(v, "id");
        if (!id)
                return fail(c, "missing \"id\"");
        r = parse_string(c, id, "id", &p->id);
        if (r < 0)
                return r;
        c->id = p->id;
        if (!provider_id_is_valid(p->id))
                return fail(c, "\"id\" must be [a-z0-9_-], at most 64 characters");
        json_object_foreach(v, k, e) {
                r = parse_key(c, p, k, e);
                if (r < 0)
                        return r;
        }
        if (!p->argv)
                return fail(c, "missing \"argv\"");
        /* Looked up from the agent's directory, run from the CLI's home. */
        if (strchr(p->argv[0], '/') && p->argv[0][0] != '/')
                return fail(c, "\"argv\"[0] must be a program's name (found on bin_path) or an absolute path");
        if (!p->url_patterns)
                return fail(c, "missing \"url_patterns\"");
        if (!p->credential_file)
                return fail(c, "missing \"credential_file\"");
        if (p->aliases)
                for (char **a = p->aliases; *a; a++)
                        if (!provider_id_is_valid(*a))
                                return fail(c, "\"aliases\": \"%.64s\" must be [a-z0-9_-]", *a);
        if (!p->aliases && !(p->aliases = calloc(1, sizeof(char *))))
                return -ENOMEM;
        if (!p->env && !(p->env = calloc(1, sizeof(char *))))
                return -ENOMEM;
        if (!p->credential_keys && !(p->credential_keys = calloc(1, sizeof(char *))))
                return -ENOMEM;
        if (!p->failures && !(p->failures = calloc(1, sizeof(char *))))
                return -ENOMEM;
        if (!p->callback_path && !(p->callback_path = strdup("/auth/callback")))
                return -ENOMEM;
        return 0;
}

static bool name_taken(const ProviderSet *s, size_t upto, const char *name) {
        for (size_t i = 0; i < upto; i++) {
                if (streq(s->defs[i].id, name))
                        return true;
                for (char **a = s->defs[i].aliases; a && *a; a++)
                        if (streq(*a, name))
                                return true;
        }
        return false;
}

static int check_unique(Ctx *c, const ProviderSet *s, size_t i) {
        const ProviderDef *p = &s->defs[i];

        if (name_taken(s, i, p->id))
                return fail(c, "\"id\" is already used by another provider");
        for (char **a = p->aliases; *a; a++) {
                if (name_taken(s, i, *a) || streq(*a, p->id))
                        return fail(c, "\"aliases\": \"%s\" is already used", *a);
                for (char **b = p->aliases; b < a; b++)
                        if (streq(*a, *b))
                                return fail(c, "\"aliases\": \"%s\" is listed twice", *a);
        }
        return 0;
}

int provider_set_parse(const char *text, size_t size, ProviderSet **ret, char *errbuf, size_t errsize) {
        _cleanup_(provider_set_freep) ProviderSet *s = NULL;
        json_t *root, *list;
        json_error_t jerr;
        Ctx c = { errbuf, errsize, NULL };
        const char *k;
        json_t *e;
        size_t i;
        int r = 0;

        root = json_loadb(text, size, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
                return errbuf_fail(errbuf, errsize, NULL, NULL, "providers: line %d: %s", jerr.line, jerr.text);
        }
        json_object_foreach(root, k, e)
                if (!streq(k, "providers")) {
                        r = fail(&c, "unknown top-level key \"%.64s\"", k);
                        goto out;
                }
        list = json_object_get(root, "providers");
        if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > PROVIDER_MAX) {
                r = fail(&c, "\"providers\" must be an array of 1..%d providers", PROVIDER_MAX);
                goto out;
        }
        s = calloc(1, sizeof *s);
        if (!s || !(s->defs = calloc(json_array_size(list), sizeof(ProviderDef)))) {
                r = -ENOMEM;
                goto out;
        }
        json_array_foreach(list, i, e) {
                c.id = NULL;
                s->n = i + 1;
                r = parse_provider(&c, e, &s->defs[i]);
                if (r >= 0)
                        r = check_unique(&c, s, i);
                if (r < 0)
                        goto out;
        }
        *ret = TAKE_PTR(s);
out:
        json_decref(root);
        return r;
}

const ProviderDef *provider_set_find(const ProviderSet *s, const char *name) {
        if (!s || !name)
                return NULL;
        for (size_t i = 0; i < s->n; i++) {
                if (streq(s->defs[i].id, name))
                        return &s->defs[i];
                for (char **a = s->defs[i].aliases; *a; a++)
                        if (streq(*a, name))
                                return &s->defs[i];
        }
        return NULL;
}

/* The "#!" line of the file at path: 1 and *ret for a script, 0 for
 * anything else (another binary format, no regular file, not readable
 * here: its exec is left to say), -ENOEXEC for a line the kernel fails. */
static int shebang_read(const char *path, Shebang *ret) {
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        char buf[SHEBANG_BUF_SIZE];
        struct stat st;
        ssize_t n;

        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return 0;
        n = read(fd, buf, sizeof buf);
        return n < 0 ? 0 : shebang_parse(buf, (size_t)n, ret);
}

/* What judges a program: the CLIs' PATH and user (uid 0: none known),
 * and where the verdict goes. */
typedef struct Judge {
        const char *path;
        uid_t uid;
        gid_t gid;
        ProgramHidden *ret;
} Judge;

/* What exec refuses (EACCES) to any user, file being there: no regular
 * file where it leads, or one on a file system mounted noexec (the
 * kernel's path_noexec(), of the mount the file is on); true, and
 * j->ret (block, where; the type and mode), when it does. */
static bool exec_refused(const Judge *j, const char *file) {
        ProgramHidden *h = j->ret;
        struct statvfs sv;
        struct stat st;

        if (stat(file, &st) < 0 || statvfs(file, &sv) < 0)
                return false;
        if (S_ISREG(st.st_mode) && !(sv.f_flag & ST_NOEXEC))
                return false;
        h->block = S_ISREG(st.st_mode) ? PROGRAM_BLOCK_NOEXEC : PROGRAM_BLOCK_NOT_FILE;
        snprintf(h->where, sizeof h->where, "%s", file);
        h->mode = st.st_mode;
        h->owner = st.st_uid;
        h->group = st.st_gid;
        return true;
}

/* file, which each CLI execs (want X_OK) or whose script its interpreter
 * opens (R_OK), into j->ret (block, where, the modes) when a CLI cannot:
 * below a /tmp of its own (exec only), kept out by the mode bits, or
 * (exec only) refused by exec itself (exec_refused()). */
static bool file_blocked(const Judge *j, const char *file, int want) {
        ProgramHidden *h = j->ret;
        PathDenial d;

        if (want == X_OK && private_tmp_hides_where(file, h->where, sizeof h->where)) {
                h->block = PROGRAM_BLOCK_PRIVATE_TMP;
                return true;
        }
        if (j->uid == 0 || path_access_denied(file, j->uid, j->gid, want, &d) <= 0)
                return want == X_OK && exec_refused(j, file);
        h->block = d.is_dir ? PROGRAM_BLOCK_SEARCH : want == R_OK ? PROGRAM_BLOCK_READ : PROGRAM_BLOCK_EXECUTE;
        memcpy(h->where, d.where, sizeof h->where);
        h->uid = j->uid;
        h->gid = j->gid;
        h->mode = d.mode;
        h->owner = d.owner;
        h->group = d.group;
        return true;
}

/* interpreter ("" for the program itself) into j->ret; true. */
static bool blocked_at(const Judge *j, const char *interpreter) {
        snprintf(j->ret->interpreter, sizeof j->ret->interpreter, "%s", interpreter);
        return true;
}

/* A relative name the kernel (or env's execvp()) looks up from each
 * CLI's working directory, its HOME, new and empty but for its TMPDIR,
 * also empty: one that stays below it finds nothing to run.  One that
 * climbs out ("../../usr/bin/node") lands where login_home's depth says:
 * not judged. */
static bool relative_blocked(const Judge *j, const char *name) {
        int depth = 0;

        for (const char *p = name; *p;) {
                size_t n = strcspn(p, "/");

                if (n == 2 && p[0] == '.' && p[1] == '.') {
                        if (--depth < 0)
                                return false;
                } else if (n > 0 && !(n == 1 && p[0] == '.'))
                        depth++;
                p += n + (p[n] == '/');
        }
        j->ret->block = PROGRAM_BLOCK_RELATIVE;
        snprintf(j->ret->where, sizeof j->ret->where, "%s", name);
        return blocked_at(j, name);
}

/* entry/name when it is there but exec refuses it to every user
 * (exec_refused()), which find_executable() passes over: owned; NULL
 * when not, or on ENOMEM (then not judged). */
static char *entry_refused(const Judge *j, const char *entry, const char *name) {
        _cleanup_(freep) char *full = NULL;

        if (asprintf(&full, "%s/%s", entry, name) < 0)
                return NULL;
        return exec_refused(j, full) ? TAKE_PTR(full) : NULL;
}

/* Where env(1), as the CLI's user, finds name on j->path: the first
 * entry's file it may execute, as execvp() goes on past one it may not
 * (EACCES), past one that exec refuses to anyone (a directory, on a
 * noexec mount) and past one below a /tmp of its own (ENOENT there).  1
 * and *ret (owned); 0 when there is none (not judged); 1, *ret NULL and
 * j->ret when the CLI can run none of them (the first one's verdict:
 * execvp() then fails). */
static int env_program_find(const Judge *j, const char *name, char **ret) {
        _cleanup_(freep) char *first = NULL;

        for (const char *p = j->path; *p;) {
                size_t l = strcspn(p, ":");
                _cleanup_(freep) char *entry = strndup(p, l), *found = NULL;

                p += l + (p[l] == ':');
                if (!entry)
                        return -ENOMEM;
                if (l == 0)
                        continue;
                if (find_executable(name, entry, &found) < 0) {
                        if (!first)
                                first = entry_refused(j, entry, name);
                        continue;
                }
                if (!file_blocked(j, found, X_OK)) {
                        *ret = TAKE_PTR(found);
                        return 1;
                }
                if (!first)
                        first = TAKE_PTR(found);
        }
        if (!first)
                return 0;
        (void)file_blocked(j, first, X_OK);
        blocked_at(j, first);
        *ret = NULL;
        return 1;
}

/* What runs program's script: its "#!" interpreter, and for env(1) the
 * program env runs (found as env_program_find() says), which may be a
 * script again; and each script's own reading by its interpreter.  true,
 * with the first of them each CLI cannot run in j->ret, when one is
 * blocked (a relative name can be, relative_blocked()); false when none
 * is, or when the chain stops at what is not judged here (a name path
 * does not find now, a command env would have to work out, a file not
 * there). */
static bool interpreter_blocked(const Judge *j, const char *program) {
        char cur[PATH_MAX];

        snprintf(cur, sizeof cur, "%s", program);
        for (unsigned depth = 0; depth < PROVIDER_INTERPRETERS_MAX; depth++) {
                _cleanup_(freep) char *found = NULL;
                char name[SHEBANG_BUF_SIZE];
                const char *next;
                Shebang sb;

                if (shebang_read(cur, &sb) <= 0)
                        return false;
                if (file_blocked(j, cur, R_OK))
                        return blocked_at(j, depth == 0 ? "" : cur);
                next = sb.interpreter;
                if (next[0] != '/')
                        return relative_blocked(j, next);
                if (file_blocked(j, next, X_OK))
                        return blocked_at(j, next);
                if (shebang_env_program(&sb, name, sizeof name) > 0) {
                        if (name[0] == '/') {
                                if (file_blocked(j, name, X_OK))
                                        return blocked_at(j, name);
                        } else if (strchr(name, '/'))
                                return relative_blocked(j, name);
                        else if (env_program_find(j, name, &found) <= 0)
                                return false;
                        else if (!found)
                                return true;
                        next = found ?: name;
                }
                snprintf(cur, sizeof cur, "%s", next);
        }
        return false;
}

const ProviderDef *provider_set_program_hidden(const ProviderSet *s, const char *path, uid_t uid, gid_t gid,
                                               ProgramHidden *ret) {
        Judge j = { .path = path, .uid = uid, .gid = gid, .ret = ret };

        for (size_t i = 0; s && i < s->n; i++) {
                const char *name = s->defs[i].argv[0];
                _cleanup_(freep) char *found = NULL;

                /* A name not found (yet) is left to the login that looks
                 * it up: a CLI installed after the agent's start runs. */
                if (name[0] != '/' && find_executable(name, path, &found) < 0)
                        continue;
                ret->interpreter[0] = '\0';
                if (!file_blocked(&j, found ?: name, X_OK) && !interpreter_blocked(&j, found ?: name))
                        continue;
                snprintf(ret->program, sizeof ret->program, "%s", found ?: name);
                return &s->defs[i];
        }
        return NULL;
}

#define HIDDEN_WHY "each provider CLI has an empty /tmp, /var/tmp, /dev/shm or /run/lock of its own"

static void private_tmp_describe(const ProviderDef *p, const ProgramHidden *h, char *buf, size_t size) {
        const char *what = h->interpreter[0] ? h->interpreter : h->program;

        if (!h->interpreter[0] && streq(h->program, h->where))
                snprintf(buf, size, "provider %.64s's program %.64s is where " HIDDEN_WHY, p->id, h->program);
        else if (!h->interpreter[0])
                snprintf(buf, size, "provider %.64s's program %.96s, which leads to %.96s, where " HIDDEN_WHY, p->id,
                         h->program, h->where);
        else if (streq(what, h->where))
                snprintf(buf, size, "provider %.64s's program %.96s has its interpreter (#!) %.96s where " HIDDEN_WHY,
                         p->id, h->program, what);
        else
                snprintf(buf, size, "provider %.64s's program %.80s has its interpreter (#!) %.80s, which leads to "
                         "%.80s, where " HIDDEN_WHY, p->id, h->program, what, h->where);
}

/* A file of type mode (S_IFMT) that exec does not run, with an article. */
static const char *file_type_name(mode_t mode) {
        return S_ISDIR(mode) ? "a directory" : S_ISCHR(mode) ? "a character device" : S_ISBLK(mode) ? "a block device"
               : S_ISFIFO(mode) ? "a FIFO" : S_ISSOCK(mode) ? "a socket" : "not a regular file";
}

void provider_program_hidden_describe(const ProviderDef *p, const ProgramHidden *h, char *buf, size_t size) {
        char who[96], bits[64];
        int n;

        if (h->block == PROGRAM_BLOCK_PRIVATE_TMP) {
                private_tmp_describe(p, h, buf, size);
                return;
        }
        if (h->interpreter[0])
                n = snprintf(buf, size, "provider %.64s's program %.80s has its interpreter (#!) %.80s", p->id,
                             h->program, h->interpreter);
        else
                n = snprintf(buf, size, "provider %.64s's program %.80s", p->id, h->program);
        if (n < 0 || (size_t)n >= size)
                return;
        snprintf(who, sizeof who, "a provider CLI's user (uid %u, gid %u)", (unsigned)h->uid, (unsigned)h->gid);
        snprintf(bits, sizeof bits, "mode %04o, owner %u:%u", (unsigned)h->mode, (unsigned)h->owner,
                 (unsigned)h->group);
        switch (h->block) {
        case PROGRAM_BLOCK_RELATIVE:
                snprintf(buf + n, size - (size_t)n, ", a relative name, which each provider CLI's exec looks up "
                         "in its new, empty HOME");
                break;
        case PROGRAM_BLOCK_SEARCH:
                snprintf(buf + n, size - (size_t)n, ", below %.80s, a directory %s may not search (%s)", h->where,
                         who, bits);
                break;
        case PROGRAM_BLOCK_NOT_FILE:
                snprintf(buf + n, size - (size_t)n, ", which is %s, not a file exec runs", file_type_name(h->mode));
                break;
        case PROGRAM_BLOCK_NOEXEC:
                snprintf(buf + n, size - (size_t)n, ", on a file system mounted noexec, where exec runs nothing");
                break;
        case PROGRAM_BLOCK_READ:
                snprintf(buf + n, size - (size_t)n, ", a script, which %s may not read for its interpreter (%s)", who,
                         bits);
                break;
        default:
                snprintf(buf + n, size - (size_t)n, ", which %s may not execute (%s)", who, bits);
                break;
        }
}

bool provider_url_matches(const ProviderDef *p, const char *url) {
        for (char **u = p->url_patterns; u && *u; u++)
                if (startswith(url, *u))
                        return true;
        return false;
}

static bool value_says_something(const json_t *v) {
        switch (json_typeof(v)) {
        case JSON_NULL:
        case JSON_FALSE:
                return false;
        case JSON_STRING:
                return json_string_length(v) > 0;
        case JSON_OBJECT:
                return json_object_size(v) > 0;
        case JSON_ARRAY:
                return json_array_size(v) > 0;
        default:
                return true;
        }
}

/* Follows a dotted path ("a.b") through objects; NULL when a part is
 * missing or not an object on the way. */
static const json_t *key_path_get(const json_t *j, const char *path) {
        char part[PROVIDER_STRING_MAX + 1];

        while (j && *path) {
                size_t n = strcspn(path, ".");
                if (!json_is_object(j) || n > PROVIDER_STRING_MAX)
                        return NULL;
                memcpy(part, path, n);
                part[n] = '\0';
                j = json_object_get(j, part);
                path += n + (path[n] == '.');
        }
        return j;
}

bool provider_credentials_complete(const ProviderDef *p, const json_t *credentials) {
        if (!json_is_object(credentials))
                return false;
        for (char **k = p->credential_keys; k && *k; k++) {
                const json_t *v = key_path_get(credentials, *k);
                if (!v || !value_says_something(v))
                        return false;
        }
        return true;
}
