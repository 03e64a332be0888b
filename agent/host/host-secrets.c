/* Implementation of host-secrets.h.  MMDS is asked once at start and, on
 * failure, again with a growing delay (a host may put the metadata a
 * moment after boot); without mmds_forever it gives up after
 * MMDS_ATTEMPTS_MAX tries and the secrets stay missing (closed). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "host-secrets.h"
#include "log.h"
#include "mmds.h"
#include "restore-plan.h"
#include "secret-util.h"
#include "time-util.h"

#define SECRET_FILE_MAX 4096
#define MMDS_TIMEOUT_USEC (2 * USEC_PER_SEC)
#define MMDS_RETRY_FIRST_USEC (200 * USEC_PER_MSEC)
#define MMDS_RETRY_MAX_USEC (10 * USEC_PER_SEC)
#define MMDS_ATTEMPTS_MAX 8

struct HostSecrets {
        HostSecretsOptions o;
        HostSecretsHooks hooks;
        char *token, *desktop;
        char *replaced_token, *replaced_desktop; /* the ones before host_secrets_replace() */
        SecretState token_state, desktop_state;
        MmdsRequest *mmds;
        sd_event_source *retry;
        usec_t retry_usec;
        unsigned attempts;
        bool mmds_asked; /* at start: MMDS is the host's channel */
        char mmds_error[160]; /* what the last answer's failure was, "": its errno says it */
};

static const char *const auth_table[_SECRET_STATE_MAX] = {
        [SECRET_MISSING] = "no-token", [SECRET_PENDING] = "pending", [SECRET_SET] = "token",
};
static const char *const desktop_table[_SECRET_STATE_MAX] = {
        [SECRET_MISSING] = "no-secret", [SECRET_PENDING] = "pending", [SECRET_SET] = "secret",
};

/* The first line of path: 0 and it (NULL when the file is absent or the
 * line empty), or -errno when it exists but cannot be read or is not a
 * regular file (a symlink included), with what failed in errbuf.  A file
 * others may read is used, with a warning. */
static int secret_file_read(const char *path, const char *what, char **ret, char *errbuf, size_t size) {
        _cleanup_(closep) int fd = -EBADF;
        _cleanup_(erase_and_freep) char *buf = NULL;
        struct stat st;
        int r;

        *ret = NULL;
        if (isempty(path))
                return 0;
        /* Not open(): a FIFO put there would block the start until
         * someone writes to it. */
        fd = open_regular_nofollow(path, &st);
        if (fd == -ENOENT)
                return 0;
        r = fd < 0 ? fd : read_full_fd(fd, SECRET_FILE_MAX, &buf, NULL);
        if (r == -EBADFD)
                snprintf(errbuf, size, "the %s file %s is not a regular file", what, path);
        else if (r < 0)
                snprintf(errbuf, size, "cannot read the %s file %s: %s", what, path, strerror(-r));
        if (r < 0)
                return r;
        if ((st.st_mode & 0077) != 0)
                log_warning("%s is readable by group or others; expected mode 0600.", path);
        buf[strcspn(buf, "\r\n")] = '\0';
        if (*buf)
                *ret = TAKE_PTR(buf);
        return 0;
}

/* Any local process may try tokens at the loopback as fast as the agent
 * answers: a short one is a guessable one.  Said, not refused: the host
 * chose it, and a refused token would lock its own routes. */
static void token_strength_check(const char *token, const char *from) {
        size_t n = token ? strlen(token) : 0;

        if (n > 0 && n < CONTROL_TOKEN_STRONG_MIN)
                log_warning("The control token %s is %zu bytes long: short enough to guess from inside the VM. "
                            "Give at least %d random characters (32 random hex digits, say).", from, n,
                            CONTROL_TOKEN_STRONG_MIN);
}

/* A value from the explicit option, else the file: the first that has it. */
static int secret_load(const char *value, const char *path, const char *what, char **ret, SecretState *state,
                       char *errbuf, size_t size) {
        int r;

        if (!isempty(value)) {
                *ret = strdup(value);
                if (!*ret)
                        return -ENOMEM;
                *state = SECRET_SET;
                return 0;
        }
        r = secret_file_read(path, what, ret, errbuf, size);
        *state = *ret ? SECRET_SET : SECRET_MISSING;
        return r;
}

/* 32 random bytes as hex: the desktop's lock when the host gave no key. */
static int random_secret(char **ret) {
        uint8_t raw[32];
        char *s = malloc(2 * sizeof raw + 1);

        if (!s)
                return -ENOMEM;
        if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
                free(s);
                return -EIO;
        }
        for (size_t i = 0; i < sizeof raw; i++)
                snprintf(s + 2 * i, 3, "%02x", raw[i]);
        explicit_bzero(raw, sizeof raw);
        *ret = s;
        return 0;
}

static int mmds_ask(HostSecrets *s);

/* It goes into a URL, a token file and a password file unescaped
 * (desktop_secret_is_valid()): anything else is refused, never mangled,
 * and the desktop stays locked with a random one. */
static bool desktop_secret_usable(const char *secret) {
        if (desktop_secret_is_valid(secret))
                return true;
        log_error("The desktop secret the host gave is not %d to %d of A-Z a-z 0-9 . _ ~ -: ignored.",
                  DESKTOP_SECRET_MIN, DESKTOP_SECRET_MAX);
        return false;
}

/* Why the last question failed: what MMDS answered, else r's text. */
static const char *mmds_why(const HostSecrets *s, int r) {
        return s->mmds_error[0] ? s->mmds_error : strerror(-r);
}

static void mmds_give_up(HostSecrets *s, int r) {
        log_warning_errno(r, "MMDS gave no %s%s%s after %u attempts: %s",
                          s->token_state == SECRET_PENDING ? "control token" : "",
                          s->token_state == SECRET_PENDING && s->desktop_state == SECRET_PENDING ? " and no " : "",
                          s->desktop_state == SECRET_PENDING ? "desktop secret" : "", s->attempts,
                          mmds_why(s, r));
        if (s->token_state == SECRET_PENDING)
                s->token_state = SECRET_MISSING;
        if (s->desktop_state == SECRET_PENDING)
                s->desktop_state = SECRET_MISSING;
}

/* MMDS did not answer: given up on for good. */
static void mmds_abandon(HostSecrets *s, int r) {
        mmds_give_up(s, r);
        if (s->hooks.on_mmds_object)
                s->hooks.on_mmds_object(NULL, s->hooks.userdata);
}

static void mmds_retry(HostSecrets *s, int r);

/* A question that could not even be sent (no route yet: connect() fails
 * at once) is asked again as one that got no answer; only a bad
 * mmds_address or mmds_path (-EINVAL) never will be. */
static void mmds_ask_or_retry(HostSecrets *s) {
        int r = mmds_ask(s);

        if (r == -EINVAL)
                mmds_abandon(s, r);
        else if (r < 0)
                mmds_retry(s, r);
}

static int on_retry(sd_event_source *es, uint64_t usec, void *userdata) {
        mmds_ask_or_retry(userdata);
        return 0;
}

static void mmds_retry(HostSecrets *s, int r) {
        if (!s->o.mmds_forever && s->attempts >= MMDS_ATTEMPTS_MAX) {
                mmds_abandon(s, r);
                return;
        }
        /* Said: a boot that waits for MMDS shows why; asking for ever
         * (mmds_forever), the rest only at debug. */
        log_full_errno(s->attempts <= MMDS_ATTEMPTS_MAX ? LOG_INFO : LOG_DEBUG, r,
                       "MMDS attempt %u failed, retrying in %llu ms: %s", s->attempts,
                       (unsigned long long)(s->retry_usec / USEC_PER_MSEC), mmds_why(s, r));
        s->retry = sd_event_source_disable_unref(s->retry);
        r = sd_event_add_time_relative(s->o.event, &s->retry, CLOCK_MONOTONIC, s->retry_usec, 0, on_retry, s);
        s->retry_usec = MIN(s->retry_usec * 2, MMDS_RETRY_MAX_USEC);
        if (r < 0)
                mmds_abandon(s, r);
}

/* Takes what MMDS has for the secrets still pending; true when the
 * desktop secret changed. */
static bool mmds_take(HostSecrets *s, char **token, char **desktop) {
        if (s->token_state == SECRET_PENDING && *token) {
                s->token = TAKE_PTR(*token);
                s->token_state = SECRET_SET;
                log_info("Control token received from MMDS.");
                token_strength_check(s->token, "from MMDS");
        }
        if (s->desktop_state == SECRET_PENDING && *desktop && desktop_secret_usable(*desktop)) {
                s->desktop = erase_and_free(s->desktop); /* the random stand-in */
                s->desktop = TAKE_PTR(*desktop);
                s->desktop_state = SECRET_SET;
                log_info("Desktop secret received from MMDS.");
                return true;
        }
        return false;
}

static void on_mmds(int r, const char *json, const char *error, void *userdata) {
        HostSecrets *s = userdata;
        _cleanup_(erase_and_freep) char *token = NULL, *desktop = NULL;
        const char *why = NULL;
        bool changed;

        s->mmds = NULL; /* freed after this callback */
        snprintf(s->mmds_error, sizeof s->mmds_error, "%s", error ?: "");
        if (r >= 0)
                r = mmds_parse_secrets(json, &token, &desktop, &why);
        if (r < 0) {
                if (why)
                        log_warning("MMDS's object at %s is refused: %s.", s->o.mmds_path, why);
                mmds_retry(s, r);
                return;
        }
        changed = mmds_take(s, &token, &desktop);
        if (s->token_state == SECRET_PENDING || s->desktop_state == SECRET_PENDING)
                mmds_give_up(s, -ENOENT); /* the object has no such key: asking again will not help */
        if (changed && s->hooks.on_change)
                s->hooks.on_change(s->hooks.userdata);
        if (s->hooks.on_mmds_object)
                s->hooks.on_mmds_object(json, s->hooks.userdata);
}

static int mmds_ask(HostSecrets *s) {
        s->attempts++;
        s->mmds_error[0] = '\0'; /* a question not sent: its errno says why */
        return mmds_get(s->o.event, s->o.mmds_address, s->o.mmds_port, s->o.mmds_path, MMDS_TIMEOUT_USEC,
                        on_mmds, s, &s->mmds);
}

int host_secrets_new(const HostSecretsOptions *o, const HostSecretsHooks *hooks, HostSecrets **ret, char *errbuf,
                     size_t size) {
        _cleanup_(host_secrets_freep) HostSecrets *s = calloc(1, sizeof *s);
        bool ask = o->mmds;
        int r;

        snprintf(errbuf, size, "%s", strerror(ENOMEM)); /* unless a step says more */
        if (!s)
                return -ENOMEM;
        s->o = *o;
        if (hooks)
                s->hooks = *hooks;
        s->retry_usec = MMDS_RETRY_FIRST_USEC;
        r = secret_load(o->token, o->token_file, "control token", &s->token, &s->token_state, errbuf, size);
        if (r < 0)
                return r;
        token_strength_check(s->token, isempty(o->token) ? "in token_file" : "given");
        r = secret_load(o->desktop_secret, o->desktop_secret_file, "desktop secret", &s->desktop,
                        &s->desktop_state, errbuf, size);
        if (r < 0)
                return r;
        if (s->desktop && !desktop_secret_usable(s->desktop)) {
                s->desktop = erase_and_free(s->desktop);
                s->desktop_state = SECRET_MISSING;
        }
        /* mmds_alone: MMDS is the host's channel only when it gave nothing
         * else.  A host that wrote one secret and not the other left that
         * one missing (fail closed), not to be taken from an address
         * nothing authenticates: where the host enabled no MMDS on the
         * interface, any machine on the bridge that poisons the VM's ARP
         * entry for its gateway answers for it. */
        if (o->mmds_alone && (s->token_state == SECRET_SET || s->desktop_state == SECRET_SET))
                ask = false;
        if (ask && s->token_state == SECRET_MISSING)
                s->token_state = SECRET_PENDING;
        if (ask && s->desktop_state == SECRET_MISSING)
                s->desktop_state = SECRET_PENDING;
        if (!s->desktop && (r = random_secret(&s->desktop)) < 0) {
                snprintf(errbuf, size, "no random desktop secret: %s", strerror(-r));
                return r;
        }
        if (s->token_state == SECRET_PENDING || s->desktop_state == SECRET_PENDING) {
                s->mmds_asked = true;
                mmds_ask_or_retry(s);
        }
        *ret = TAKE_PTR(s);
        return 0;
}

bool host_secrets_mmds_asked(HostSecrets *s) {
        return s && s->mmds_asked;
}

bool host_secrets_mmds_pending(HostSecrets *s) {
        return s && (s->token_state == SECRET_PENDING || s->desktop_state == SECRET_PENDING);
}

int host_secrets_replace(HostSecrets *s, const char *token, const char *desktop) {
        char *t, *d;

        if (!s || isempty(token) || !desktop_secret_is_valid(desktop))
                return -EINVAL;
        /* The same pair again (a restore retried part way): the ones it
         * replaced the first time stay the ones to redact. */
        if (s->token_state == SECRET_SET && s->desktop_state == SECRET_SET &&
            secret_equal(s->token, strlen(s->token), token) && secret_equal(s->desktop, strlen(s->desktop), desktop))
                return 0;
        t = strdup(token);
        d = strdup(desktop);
        if (!t || !d) {
                erase_and_free(t);
                erase_and_free(d);
                return -ENOMEM;
        }
        s->mmds = mmds_request_free(s->mmds);
        s->retry = sd_event_source_disable_unref(s->retry);
        erase_and_free(s->replaced_token);
        erase_and_free(s->replaced_desktop);
        s->replaced_token = s->token_state == SECRET_SET ? s->token : erase_and_free(s->token);
        s->replaced_desktop = s->desktop;
        s->token = t;
        s->desktop = d;
        s->token_state = s->desktop_state = SECRET_SET;
        token_strength_check(t, "of the restore");
        return 0;
}

HostSecrets *host_secrets_free(HostSecrets *s) {
        if (!s)
                return NULL;
        mmds_request_free(s->mmds);
        sd_event_source_disable_unref(s->retry);
        erase_and_free(s->token);
        erase_and_free(s->desktop);
        erase_and_free(s->replaced_token);
        erase_and_free(s->replaced_desktop);
        free(s);
        return NULL;
}

const char *host_secrets_token(HostSecrets *s) {
        return s && s->token_state == SECRET_SET ? s->token : NULL;
}

const char *host_secrets_desktop(HostSecrets *s) {
        return s ? s->desktop : NULL;
}

const char *host_secrets_replaced_token(HostSecrets *s) {
        return s ? s->replaced_token : NULL;
}

const char *host_secrets_replaced_desktop(HostSecrets *s) {
        return s ? s->replaced_desktop : NULL;
}

SecretState host_secrets_token_state(HostSecrets *s) {
        return s ? s->token_state : SECRET_MISSING;
}

SecretState host_secrets_desktop_state(HostSecrets *s) {
        return s ? s->desktop_state : SECRET_MISSING;
}

const char *host_secrets_auth_string(HostSecrets *s) {
        return auth_table[host_secrets_token_state(s)];
}

const char *host_secrets_desktop_string(HostSecrets *s) {
        return desktop_table[host_secrets_desktop_state(s)];
}
