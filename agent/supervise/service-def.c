/* The service model and its JSON form (see service-def.h for the schema).
 * Pure: jansson in, ServiceDefs out, no system calls, so it is unit tested
 * and linked by the agent alike.  Validation is strict because a typo in a
 * services file should stop the agent at start with the key named, not
 * leave a service silently never started. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "launch.h"
#include "macro.h"
#include "service-def.h"
#include "socket-util.h"
#include "string-table.h"
#include "strv.h"

static const char *const probe_type_table[_PROBE_TYPE_MAX] = {
        [PROBE_NONE] = "none", [PROBE_DISPLAYFD] = "displayfd", [PROBE_FD_LINE] = "fd-line",
        [PROBE_TCP_BANNER] = "tcp-banner", [PROBE_HTTP] = "http", [PROBE_FILE] = "file",
        [PROBE_UNIX_BANNER] = "unix-banner",
};
DEFINE_STRING_TABLE_LOOKUP(probe_type, ProbeType);

static const char *const restart_policy_table[_RESTART_POLICY_MAX] = {
        [RESTART_ALWAYS] = "always", [RESTART_ON_FAILURE] = "on-failure", [RESTART_NEVER] = "never",
};
DEFINE_STRING_TABLE_LOOKUP(restart_policy, RestartPolicy);

void service_def_done(ServiceDef *d) {
        if (!d)
                return;
        free(d->name);
        strv_free(d->argv);
        strv_free(d->env);
        free(d->cwd);
        free(d->user);
        strv_free(d->depends_on);
        free(d->probe.host);
        free(d->probe.expect);
        free(d->probe.path);
        free(d->stale_lock);
        strv_free(d->create_dirs);
        strv_free(d->owned_files);
        strv_free(d->quiet_output);
        strv_free(d->others_files);
        *d = (ServiceDef){};
}

void service_defs_done(ServiceDefs *d) {
        for (size_t i = 0; d && i < d->n; i++)
                service_def_done(&d->services[i]);
        if (d) {
                free(d->services);
                *d = (ServiceDefs){};
        }
}

int service_defs_add(ServiceDefs *d, ServiceDef *def) {
        ServiceDef *n;

        if (d->n >= SERVICES_MAX)
                return -E2BIG;
        n = realloc(d->services, (d->n + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        d->services = n;
        d->services[d->n++] = *def;
        *def = (ServiceDef){};
        return 0;
}

int service_defs_find(const ServiceDefs *d, const char *name) {
        for (size_t i = 0; i < d->n; i++)
                if (streq(d->services[i].name, name))
                        return (int)i;
        return -ENOENT;
}

/* Names and keys come from the file: errbuf keeps the message one line. */
#define fail(errbuf, size, ...) errbuf_fail(errbuf, size, NULL, NULL, __VA_ARGS__)

static bool name_valid(const char *s) {
        size_t l = strlen(s);

        if (l == 0 || l > SERVICE_NAME_MAX)
                return false;
        return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == l;
}

static bool http_path_valid(const char *p) {
        size_t l = strlen(p);

        if (p[0] != '/' || l > PROBE_HTTP_PATH_MAX)
                return false;
        for (size_t i = 0; i < l; i++)
                if (p[i] <= ' ' || p[i] > '~')
                        return false;
        return true;
}

static int check_one(const ServiceDefs *d, size_t i, char *errbuf, size_t size) {
        const ServiceDef *s = &d->services[i];

        if (!s->name || !name_valid(s->name))
                return fail(errbuf, size, "service %zu: invalid name '%s'", i, s->name ?: "");
        for (size_t j = 0; j < i; j++)
                if (streq(d->services[j].name, s->name))
                        return fail(errbuf, size, "service %s: defined twice", s->name);
        if (s->user && (isempty(s->user) || strpbrk(s->user, ":\n")))
                return fail(errbuf, size, "service %s: user '%s' is not a user name", s->name, s->user);
        /* A close is started again whatever the policy: under on-failure
         * or never, an exit 0 after ready is the end the policy asks for. */
        if (s->quit_restarts && s->restart != RESTART_ALWAYS)
                return fail(errbuf, size, "service %s: quit_restarts needs restart always", s->name);
        if (strv_length(s->argv) == 0 || isempty(s->argv[0]))
                return fail(errbuf, size, "service %s: argv is empty", s->name);
        /* Looked up from the agent's directory, run from cwd. */
        if (strchr(s->argv[0], '/') && s->argv[0][0] != '/')
                return fail(errbuf, size, "service %s: argv[0] '%s' must be a program's name or an absolute path",
                            s->name, s->argv[0]);
        for (char **e = s->env; e && *e; e++)
                if (!strchr(*e, '=') || **e == '=')
                        return fail(errbuf, size, "service %s: env entry '%s' is not K=V", s->name, *e);
        if ((s->probe.type == PROBE_TCP_BANNER || s->probe.type == PROBE_HTTP) && s->probe.port == 0)
                return fail(errbuf, size, "service %s: probe needs a port", s->name);
        if (s->probe.type == PROBE_HTTP && s->probe.path && !http_path_valid(s->probe.path))
                return fail(errbuf, size, "service %s: http probe path must start with '/', be printable ASCII "
                            "without spaces and at most %d bytes", s->name, PROBE_HTTP_PATH_MAX);
        if (s->probe.type == PROBE_TCP_BANNER && isempty(s->probe.expect))
                return fail(errbuf, size, "service %s: tcp-banner probe needs expect", s->name);
        if (s->probe.type == PROBE_FILE &&
            (isempty(s->probe.expect) || !s->probe.path || s->probe.path[0] != '/' ||
             s->probe.path[strlen(s->probe.path) - 1] == '/'))
                return fail(errbuf, size, "service %s: file probe needs an absolute path to a file and expect", s->name);
        if (s->probe.type == PROBE_UNIX_BANNER &&
            (isempty(s->probe.expect) || !s->probe.path || s->probe.path[0] != '/' ||
             s->probe.path[strlen(s->probe.path) - 1] == '/' || strlen(s->probe.path) >= SUN_PATH_SIZE))
                return fail(errbuf, size, "service %s: unix-banner probe needs an absolute socket path (under %zu "
                            "bytes) and expect", s->name, SUN_PATH_SIZE);
        for (char **dep = s->depends_on; dep && *dep; dep++) {
                int k = service_defs_find(d, *dep);
                if (k < 0)
                        return fail(errbuf, size, "service %s: depends on unknown service '%s'", s->name, *dep);
                if ((size_t)k == i)
                        return fail(errbuf, size, "service %s: depends on itself", s->name);
                /* The supervisor keeps at most SERVICES_MAX dependencies per
                 * service; distinct known names cannot exceed that.  Bounded:
                 * past n distinct names the next one is a repeat. */
                for (char **p = s->depends_on; p < dep; p++)
                        if (streq(*p, *dep))
                                return fail(errbuf, size, "service %s: depends on '%s' twice", s->name, *dep);
                if (d->services[k].on_demand && !s->on_demand)
                        return fail(errbuf, size, "service %s: depends on on-demand service '%s'",
                                    s->name, *dep);
        }
        return 0;
}

/* Kahn's algorithm, taking the first ready service in file order each
 * round so the result is stable; O(n³) on n ≤ 32 is nothing. */
int service_defs_finalize(ServiceDefs *d, char *errbuf, size_t size) {
        ServiceDef sorted[SERVICES_MAX];
        bool placed[SERVICES_MAX] = {};
        int r;

        for (size_t i = 0; i < d->n; i++) {
                r = check_one(d, i, errbuf, size);
                if (r < 0)
                        return r;
        }
        for (size_t k = 0; k < d->n; k++) {
                size_t pick = d->n;
                for (size_t i = 0; i < d->n && pick == d->n; i++) {
                        bool ok = !placed[i];
                        for (char **dep = d->services[i].depends_on; ok && dep && *dep; dep++)
                                ok = placed[service_defs_find(d, *dep)];
                        if (ok)
                                pick = i;
                }
                if (pick == d->n)
                        return fail(errbuf, size, "services: dependency cycle");
                placed[pick] = true;
                sorted[k] = d->services[pick];
        }
        if (d->n > 0) /* services is NULL for an empty list: memcpy() needs a pointer */
                memcpy(d->services, sorted, d->n * sizeof *sorted);
        return 0;
}

static int json_strv(json_t *v, const char *svc, const char *key, char ***ret, char *errbuf, size_t size) {
        size_t i, n;
        json_t *e;
        char **l;

        if (!json_is_array(v))
                return fail(errbuf, size, "service %s: %s must be a list of strings", svc, key);
        n = json_array_size(v);
        l = calloc(n + 1, sizeof *l);
        if (!l)
                return -ENOMEM;
        json_array_foreach(v, i, e) {
                if (!json_is_string(e)) {
                        strv_free(l);
                        return fail(errbuf, size, "service %s: %s must be a list of strings", svc, key);
                }
                l[i] = strdup(json_string_value(e));
                if (!l[i]) {
                        strv_free(l);
                        return -ENOMEM;
                }
        }
        strv_free(*ret);
        *ret = l;
        return 0;
}

static int json_str(json_t *v, const char *svc, const char *key, char **ret, char *errbuf, size_t size) {
        char *c;

        if (!json_is_string(v))
                return fail(errbuf, size, "service %s: %s must be a string", svc, key);
        c = strdup(json_string_value(v));
        if (!c)
                return -ENOMEM;
        free(*ret);
        *ret = c;
        return 0;
}

static int json_uint(json_t *v, const char *svc, const char *key, uint32_t max, uint32_t *ret,
                     char *errbuf, size_t size) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
                return fail(errbuf, size, "service %s: %s must be an integer 0-%u", svc, key, max);
        *ret = (uint32_t)json_integer_value(v);
        return 0;
}

static int parse_probe(json_t *o, const char *svc, ProbeSpec *p, char *errbuf, size_t size) {
        const char *key;
        json_t *v;
        uint32_t port;
        int r = 0;

        if (!json_is_object(o))
                return fail(errbuf, size, "service %s: probe must be an object", svc);
        json_object_foreach(o, key, v) {
                if (streq(key, "type")) {
                        p->type = probe_type_from_string(json_string_value(v));
                        if (p->type < 0)
                                return fail(errbuf, size, "service %s: probe.type must be none, displayfd, fd-line, tcp-banner, http, "
                                            "file or unix-banner", svc);
                } else if (streq(key, "host"))
                        r = json_str(v, svc, "probe.host", &p->host, errbuf, size);
                else if (streq(key, "expect"))
                        r = json_str(v, svc, "probe.expect", &p->expect, errbuf, size);
                else if (streq(key, "path"))
                        r = json_str(v, svc, "probe.path", &p->path, errbuf, size);
                else if (streq(key, "port")) {
                        r = json_uint(v, svc, "probe.port", 65535, &port, errbuf, size);
                        p->port = (uint16_t)port;
                } else
                        return fail(errbuf, size, "service %s: unknown key 'probe.%s'", svc, key);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int json_bool(json_t *v, const char *svc, const char *key, bool *ret, char *errbuf, size_t size) {
        if (!json_is_boolean(v))
                return fail(errbuf, size, "service %s: %s must be true or false", svc, key);
        *ret = json_is_true(v);
        return 0;
}

static int parse_key(ServiceDef *d, const char *svc, const char *key, json_t *v, char *errbuf, size_t size) {
        if (streq(key, "name"))
                return 0; /* read first, by the caller */
        if (streq(key, "argv"))
                return json_strv(v, svc, key, &d->argv, errbuf, size);
        if (streq(key, "env"))
                return json_strv(v, svc, key, &d->env, errbuf, size);
        if (streq(key, "depends_on"))
                return json_strv(v, svc, key, &d->depends_on, errbuf, size);
        if (streq(key, "create_dirs"))
                return json_strv(v, svc, key, &d->create_dirs, errbuf, size);
        if (streq(key, "owned_files"))
                return json_strv(v, svc, key, &d->owned_files, errbuf, size);
        if (streq(key, "cwd"))
                return json_str(v, svc, key, &d->cwd, errbuf, size);
        if (streq(key, "user"))
                return json_str(v, svc, key, &d->user, errbuf, size);
        if (streq(key, "stale_lock"))
                return json_str(v, svc, key, &d->stale_lock, errbuf, size);
        if (streq(key, "probe"))
                return parse_probe(v, svc, &d->probe, errbuf, size);
        if (streq(key, "stop_timeout_ms"))
                return json_uint(v, svc, key, UINT32_MAX, &d->stop_timeout_ms, errbuf, size);
        if (streq(key, "ready_timeout_ms"))
                return json_uint(v, svc, key, UINT32_MAX, &d->ready_timeout_ms, errbuf, size);
        if (streq(key, "memory_max_mb"))
                return json_uint(v, svc, key, SERVICE_MEMORY_MAX_MB_MAX, &d->memory_max_mb, errbuf, size);
        if (streq(key, "on_demand"))
                return json_bool(v, svc, key, &d->on_demand, errbuf, size);
        if (streq(key, "quit_restarts"))
                return json_bool(v, svc, key, &d->quit_restarts, errbuf, size);
        if (streq(key, "restart")) {
                d->restart = restart_policy_from_string(json_string_value(v));
                if (d->restart < 0)
                        return fail(errbuf, size, "service %s: restart must be always, on-failure or never", svc);
                return 0;
        }
        return fail(errbuf, size, "service %s: unknown key '%s'", svc, key);
}

static int parse_service(json_t *o, size_t idx, ServiceDef *ret, char *errbuf, size_t size) {
        _cleanup_(service_def_done) ServiceDef d = {};
        const char *key;
        json_t *v, *name;
        int r;

        if (!json_is_object(o))
                return fail(errbuf, size, "service %zu: must be an object", idx);
        name = json_object_get(o, "name");
        if (!json_is_string(name))
                return fail(errbuf, size, "service %zu: name is required", idx);
        d.name = strdup(json_string_value(name));
        if (!d.name)
                return -ENOMEM;
        json_object_foreach(o, key, v) {
                r = parse_key(&d, d.name, key, v, errbuf, size);
                if (r < 0)
                        return r;
        }
        *ret = d;
        d = (ServiceDef){};
        return 0;
}

int service_defs_from_json(const char *text, ServiceDefs *ret, char *errbuf, size_t size) {
        _cleanup_(service_defs_done) ServiceDefs d = {};
        json_error_t jerr;
        json_t *root, *list, *e;
        size_t i;
        int r = 0;

        root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return fail(errbuf, size, "services: line %d: %s", jerr.line, jerr.text);
        list = root;
        if (json_is_object(root)) {
                const char *key;
                json_t *v;
                json_object_foreach(root, key, v)
                        if (!streq(key, "services")) {
                                r = fail(errbuf, size, "services: unknown key '%s'", key);
                                goto finish;
                        }
                list = json_object_get(root, "services");
        }
        if (!json_is_array(list)) {
                r = fail(errbuf, size, "services: expected a list of services");
                goto finish;
        }
        json_array_foreach(list, i, e) {
                ServiceDef s = {};
                r = parse_service(e, i, &s, errbuf, size);
                if (r >= 0) {
                        r = service_defs_add(&d, &s);
                        if (r == -E2BIG)
                                r = fail(errbuf, size, "services: more than %d services", SERVICES_MAX);
                        service_def_done(&s);
                }
                if (r < 0)
                        goto finish;
        }
        r = service_defs_finalize(&d, errbuf, size);
        if (r >= 0) {
                *ret = d;
                d = (ServiceDefs){};
        }
finish:
        json_decref(root);
        return r;
}

/* What systemd hands the agent itself: a child must not notify or take
 * over socket activation in our name. */
static bool env_is_ours(const char *e) {
        static const char *const keys[] = {
                "NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=",
                "LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=",
        };
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (startswith(e, keys[i]))
                        return true;
        return false;
}

/* Index of the entry in env with entry's key ("K=V" or "K="), or n: env's
 * length, when none has it. */
static size_t env_find(char *const *env, const char *entry) {
        size_t kl = strcspn(entry, "="), i = 0;

        for (; env && env[i]; i++)
                if (strncmp(env[i], entry, kl + 1) == 0)
                        break;
        return i;
}

static bool env_has(char *const *env, const char *entry) {
        return env && env[env_find(env, entry)];
}

/* Another user's service: its own entries and a PATH, nothing of ours
 * (XAUTHORITY, HOME and the rest name root's files). */
static char **user_env(const ServiceDef *def, const char *bin_path) {
        _cleanup_(freep) char *path = NULL;
        char *extra[2] = {};

        if (!env_has(def->env, "PATH=")) {
                if (asprintf(&path, "PATH=%s", bin_path ?: DEFAULT_PATH) < 0)
                        return NULL;
                extra[0] = path;
        }
        return strv_concat(def->env, extra);
}

/* Its own K=V entries first, then the agent's, minus the keys it
 * overrides (getenv() takes the first match, but not every program uses
 * getenv()) and minus the agent's own. */
char **service_def_env(const ServiceDef *def, const char *bin_path, char *const *agent_env) {
        size_t n = strv_length(agent_env), k = 0;
        char **l, **all;

        if (def->user)
                return user_env(def, bin_path);
        l = calloc(n + 1, sizeof *l);
        if (!l)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (!env_is_ours(agent_env[i]) && !env_has(def->env, agent_env[i]))
                        l[k++] = agent_env[i];
        all = strv_concat(def->env, l);
        free(l);
        return all;
}

int service_def_set_env(ServiceDef *def, const char *entry) {
        size_t kl = strcspn(entry, "="), n = strv_length(def->env), i;
        char *copy, **l;

        if (entry[kl] != '=' || kl == 0)
                return -EINVAL;
        i = env_find(def->env, entry);
        copy = strdup(entry);
        if (!copy)
                return -ENOMEM;
        if (i == n) {
                l = reallocarray(def->env, n + 2, sizeof *l);
                if (!l) {
                        free(copy);
                        return -ENOMEM;
                }
                l[n] = l[n + 1] = NULL;
                def->env = l;
        }
        free(def->env[i]);
        def->env[i] = copy;
        return 0;
}
