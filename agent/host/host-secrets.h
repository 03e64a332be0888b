/* What the host hands this VM before it can be used: the bearer token of
 * the control routes and the desktop's secret (the VNC password and the
 * noVNC token).  Per secret, the first source that has it wins:
 *   1. an explicit value (vmba.token= / vmba.desktop_secret= on the kernel
 *      command line, or --set: both readable by any local process, so the
 *      caller warns);
 *   2. the file the host wrote into the rootfs before boot (mode 0600);
 *   3. Firecracker's MMDS v2 (mmds.h), asked on the event loop, with
 *      retries, when the options say so.
 * Missing secrets fail closed: no token means the control routes are
 * refused, no desktop secret means a random one nobody is told. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "macro.h"

typedef struct HostSecrets HostSecrets;

typedef enum SecretState {
        SECRET_MISSING, /* no source had it: closed */
        SECRET_PENDING, /* MMDS is being asked */
        SECRET_SET,
        _SECRET_STATE_MAX,
        _SECRET_STATE_INVALID = -22,
} SecretState;

typedef struct HostSecretsOptions {
        sd_event *event;
        const char *token, *desktop_secret;           /* explicit values; NULL or "" = none */
        const char *token_file, *desktop_secret_file; /* "" = none */
        bool mmds;                                    /* ask MMDS for what is still missing */
        bool mmds_forever;                            /* keep asking (mmds=true), else give up */
        bool mmds_alone;                              /* only when nothing else gave either (mmds=auto) */
        const char *mmds_address;                     /* an IPv4 or IPv6 literal */
        uint16_t mmds_port;                           /* 80 */
        const char *mmds_path;
} HostSecretsOptions;

typedef struct HostSecretsHooks {
        /* A secret arrived later (from MMDS); the desktop's services must
         * take the new desktop secret. */
        void (*on_change)(void *userdata);
        /* Every object MMDS answered with (borrowed for the call; it holds
         * the secrets), so that the restore learns the boot's generation
         * from the same answer instead of asking again; NULL once MMDS was
         * given up on.  Optional. */
        void (*on_mmds_object)(const char *json, void *userdata);
        void *userdata;
} HostSecretsHooks;

/* Reads the explicit values and files now and starts MMDS when asked.
 * A file that exists but cannot be read is an error naming it (in errbuf,
 * for the caller's one log line); it is not a fallback to another
 * source. */
int host_secrets_new(const HostSecretsOptions *o, const HostSecretsHooks *hooks, HostSecrets **ret, char *errbuf,
                     size_t size);
HostSecrets *host_secrets_free(HostSecrets *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(HostSecrets *, host_secrets_free);

/* A restored clone's new secrets (both non-empty; desktop must pass
 * desktop_secret_is_valid(), else -EINVAL and nothing changes).  The old
 * ones are kept until the next replace, for the log's redaction only
 * (host_secrets_replaced_*(): output the old servers wrote may still be
 * read, and those secrets still open the template); a pending MMDS
 * request for boot secrets is dropped.  The same pair again changes
 * nothing; s NULL (never set up) is -EINVAL.  The caller rewrites the
 * desktop's files. */
int host_secrets_replace(HostSecrets *s, const char *token, const char *desktop);

/* True while MMDS is being asked (or will be, after a failed try): its
 * answer will reach on_mmds_object. */
bool host_secrets_mmds_pending(HostSecrets *s);
/* Whether MMDS was asked for a secret at start (one that no explicit
 * value or file gave): whether MMDS is the host's channel to this VM. */
bool host_secrets_mmds_asked(HostSecrets *s);

/* Borrowed, NULL while missing or pending.  The desktop secret is never
 * NULL after host_secrets_new(): missing, it is a random one. */
const char *host_secrets_token(HostSecrets *s);
const char *host_secrets_desktop(HostSecrets *s);
/* The ones the last host_secrets_replace() replaced; NULL: none. */
const char *host_secrets_replaced_token(HostSecrets *s);
const char *host_secrets_replaced_desktop(HostSecrets *s);
SecretState host_secrets_token_state(HostSecrets *s);
SecretState host_secrets_desktop_state(HostSecrets *s);

/* For /health: "token" | "pending" | "no-token", and "secret" | "pending"
 * | "no-secret". */
const char *host_secrets_auth_string(HostSecrets *s);
const char *host_secrets_desktop_string(HostSecrets *s);
