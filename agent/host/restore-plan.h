/* Snapshot restore, the pure decision.  A guest restored from a memory
 * snapshot is a clone: it still has the snapshot's address, clock, control
 * token and desktop secret.  When something hints at a restore (the host's
 * POST /restore-check, a wall-clock step), the agent asks MMDS for the
 * host's handover, an object at mmds_path that holds, besides the boot
 * keys "token" and "desktop_secret":
 *
 *   "generation": a non-empty string (at most 128 bytes of printable
 *                 ASCII: it is logged) or a non-negative integer; the
 *                 host changes it for every clone it starts
 *   "network":    the new ip= value ("10.0.0.7::10.0.0.1:24::eth0:off"),
 *                 with or without the leading "ip=" (optional)
 *   "time":       the host's wall clock, unix milliseconds (optional; a
 *                 restore with one before RESTORE_TIME_MS_MIN or past
 *                 RESTORE_TIME_MS_MAX is refused)
 *   "machine_id": the clone's machine id (optional), by the rules of the
 *                 boot's systemd.machine_id= (common/machine-id.h); a
 *                 restore with a malformed one is refused, and so is one
 *                 with any where the agent does not set the machine id
 *                 (RestoreIdentity.machine_id_ours) or cannot
 *                 (RestoreIdentity.machine_id_link_foreign)
 *
 * restore_plan_decide() compares it with what the agent has now and says
 * what to redo, or why it refuses.  An unchanged generation is not a
 * restore (anyone may poke; the VM just keeps going).  A new generation
 * whose token or desktop secret is missing or equal to the current one is
 * refused: the clone would share them with the original. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "machine-id.h"

#define RESTORE_GENERATION_MAX 128
/* A token or desktop secret from MMDS, at boot or in a handover: at most
 * this many bytes, as the host's secret files. */
#define HOST_SECRET_MAX 4096
#define RESTORE_NETWORK_MAX 1024
/* 2200-01-01T00:00:00Z: the kernel refuses to set the clock much past
 * 2232 (EINVAL, and the same handover would fail every retry), and the
 * time plus the seconds since it was read must not overflow. */
#define RESTORE_TIME_MS_MAX INT64_C(7258118400000)
/* 2020-01-01T00:00:00Z: an earlier time is a host's mistake (seconds for
 * milliseconds: 1767225600 would set 1970-01-21, and TLS would fail in
 * the browser), or one the kernel refuses (before the guest's uptime). */
#define RESTORE_TIME_MS_MIN INT64_C(1577836800000)

typedef struct RestoreHandover {
        char *generation;     /* owned; NULL: absent */
        char *network;        /* owned, the ip= value without "ip="; NULL: absent */
        int64_t time_ms;      /* -1: absent */
        char *token;          /* owned, secret; NULL: absent */
        char *desktop_secret; /* owned, secret; NULL: absent */
        char *machine_id;     /* owned, as given (restore_plan_decide() judges it); NULL: absent */
} RestoreHandover;

/* What the agent holds now (borrowed strings; NULL: none). */
typedef struct RestoreIdentity {
        const char *generation;
        /* While a redo that failed part way is pending, the token and the
         * desktop secret from before it (it may have installed the new
         * ones already): the same handover is then a new generation
         * still, not one that reuses them. */
        const char *token;
        const char *desktop_secret;
        /* MMDS answered before (the boot's object had no generation), or
         * the boot's questions ran out unanswered: a generation now is a
         * clone's, not the boot's to adopt. */
        bool answered;
        const char *pending; /* the generation of that pending redo; NULL: none */
        unsigned done;       /* RestoreStep bits it did */
        /* The agent sets the machine id, as at boot: PID 1 with a
         * machine_id_file.  Under systemd the id is systemd's (it and
         * journald keep the one they read at boot): a handover's is
         * refused there rather than half applied. */
        bool machine_id_ours;
        /* machine_id_file is, or leads through, a symlink another user
         * owns: the agent follows root's only (pid1_machine_id_install():
         * -EPERM), so no retry would set the id until it is gone. */
        bool machine_id_link_foreign;
} RestoreIdentity;

typedef enum RestoreVerdict {
        RESTORE_REDO,             /* a new generation: redo what the plan says */
        RESTORE_FIRST,            /* the boot's: MMDS's first answer, with no secrets or the agent's: adopt it */
        RESTORE_SAME,             /* unchanged generation: not a restore */
        RESTORE_NO_GENERATION,    /* the handover has none: nothing can be told */
        RESTORE_TOKEN_MISSING,    /* refused: the clone would keep the old token */
        RESTORE_TOKEN_REUSED,     /* refused */
        RESTORE_DESKTOP_MISSING,  /* refused: the clone would keep the old desktop secret */
        RESTORE_DESKTOP_REUSED,   /* refused */
        RESTORE_DESKTOP_INVALID,  /* refused: not desktop_secret_is_valid() */
        RESTORE_TIME_INVALID,     /* refused: before RESTORE_TIME_MS_MIN or past RESTORE_TIME_MS_MAX */
        RESTORE_MACHINE_ID_INVALID, /* refused: not machine_id_parse()'s */
        RESTORE_MACHINE_ID_NOT_OURS, /* refused: a machine id where the agent does not set it */
        RESTORE_MACHINE_ID_FOREIGN_LINK, /* refused: a machine id where another user's symlink is in the way */
        _RESTORE_VERDICT_MAX,
        _RESTORE_VERDICT_INVALID = -EINVAL,
} RestoreVerdict;

/* The bits are not the order: restore.c runs machine id, network, clock,
 * secrets, logins, desktop. */
typedef enum RestoreStep {
        RESTORE_STEP_NETWORK = 1 << 0,  /* re-apply ip= from the handover */
        RESTORE_STEP_CLOCK = 1 << 1,    /* step CLOCK_REALTIME to the host's time */
        RESTORE_STEP_SECRETS = 1 << 2,  /* install the new token and desktop secret */
        RESTORE_STEP_LOGINS = 1 << 3,   /* end the snapshot's logins, reason "restored" (signed in: wiped) */
        RESTORE_STEP_DESKTOP = 1 << 4,  /* restart x11vnc and websockify */
        RESTORE_STEP_MACHINE_ID = 1 << 5, /* install the handover's machine id (first, as at boot) */
} RestoreStep;

typedef struct RestorePlan {
        RestoreVerdict verdict;
        unsigned steps;           /* RestoreStep bits; 0 unless RESTORE_REDO */
        /* With RESTORE_STEP_MACHINE_ID: the id in machine-id(5)'s form
         * (lowercase, no dashes); else "". */
        char machine_id[MACHINE_ID_STRING_MAX];
} RestorePlan;

/* Pure: the boot's two secrets from MMDS's object (JSON text); each NULL
 * when absent (owned, wipe before freeing).  -EBADMSG unless a JSON
 * object whose present "token" and "desktop_secret" are non-empty strings
 * of at most HOST_SECRET_MAX bytes, without NUL; then nothing is set, and
 * *ret_reason (if non-NULL) is a static phrase naming the key at fault,
 * for the log (no value: they are secrets). */
int mmds_parse_secrets(const char *json, char **ret_token, char **ret_desktop_secret, const char **ret_reason);

/* Pure.  0 and *ret filled, or -EBADMSG unless a JSON object whose
 * present keys have the types above (other keys are ignored), with
 * *ret_reason as for mmds_parse_secrets(); -ENOMEM.  On error *ret is
 * untouched. */
int restore_handover_parse(const char *json, RestoreHandover *ret, const char **ret_reason);
/* Frees and wipes the members; the struct itself is the caller's. */
void restore_handover_done(RestoreHandover *h);

/* Pure. */
RestorePlan restore_plan_decide(const RestoreIdentity *now, const RestoreHandover *h);
/* True for the verdicts that keep the agent restoring (refusals). */
bool restore_verdict_is_refusal(RestoreVerdict v);
/* One phrase for the log, e.g. "the handover reuses the old control
 * token"; NULL out of range. */
const char *restore_verdict_to_string(RestoreVerdict v);
/* "network", "clock", "secrets", "logins", "desktop", "machine id"; NULL
 * unless one bit. */
const char *restore_step_to_string(RestoreStep s);
