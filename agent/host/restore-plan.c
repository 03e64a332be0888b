/* Implementation of restore-plan.h: the handover's JSON read with jansson
 * (wiped after: it holds the secrets), and the decision as a short chain
 * of rules, the first that holds wins. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-wipe.h"
#include "macro.h"
#include "restore-plan.h"
#include "secret-util.h"
#include "string-table.h"

/* Why an object was refused, naming its key (static strings; the
 * values are never quoted: the object holds the secrets). */
#define WHY_OBJECT "not one JSON object (invalid JSON, a key twice, or an integer past 64 bits)"
#define WHY_GENERATION "\"generation\" is not a non-negative integer or 1 to 128 bytes of printable ASCII"
#define WHY_NETWORK "\"network\" is not an ip= value of 1 to 1024 bytes of printable ASCII without blanks, " \
                    "quotes or backslashes"
#define WHY_TIME "\"time\" is not a non-negative integer (unix milliseconds)"
#define WHY_TOKEN "\"token\" is not a string of 1 to 4096 bytes without NUL"
#define WHY_DESKTOP "\"desktop_secret\" is not a string of 1 to 4096 bytes without NUL"
#define WHY_MACHINE_ID "\"machine_id\" is not a string without NUL"

static int refuse(const char *why, const char **ret_reason) {
        if (ret_reason)
                *ret_reason = why;
        return -EBADMSG;
}

/* A present key must be a non-empty string without NUL bytes. */
static int string_get(json_t *o, const char *key, size_t max, char **ret) {
        json_t *v = json_object_get(o, key);

        *ret = NULL;
        if (!v)
                return 0;
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
            strlen(json_string_value(v)) != json_string_length(v))
                return -EBADMSG;
        *ret = strdup(json_string_value(v));
        return *ret ? 0 : -ENOMEM;
}

/* A string of printable ASCII (it is logged: no line breaks or escapes
 * from whoever answers for MMDS), or a non-negative integer kept as its
 * decimal text (hosts count generations as often as they name them). */
static int generation_get(json_t *o, char **ret) {
        json_t *v = json_object_get(o, "generation");
        char buf[32];
        int r;

        if (!json_is_integer(v)) {
                r = string_get(o, "generation", RESTORE_GENERATION_MAX, ret);
                for (const char *p = r >= 0 && *ret ? *ret : ""; *p; p++)
                        if (*p < 0x20 || *p > 0x7e) {
                                free(*ret);
                                *ret = NULL;
                                return -EBADMSG;
                        }
                return r;
        }
        if (json_integer_value(v) < 0)
                return -EBADMSG;
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

/* The ip= value goes back into a command line netinit tokenises: a blank
 * or a quote would start another word there (another ip=, a vmba.* key),
 * so only printable ASCII without them. */
static int network_get(json_t *o, char **ret) {
        int r = string_get(o, "network", RESTORE_NETWORK_MAX, ret);

        if (r < 0 || !*ret)
                return r;
        if (startswith(*ret, "ip="))
                memmove(*ret, *ret + 3, strlen(*ret + 3) + 1);
        for (const char *p = *ret; *p; p++)
                if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\'' || *p == '\\') {
                        free(*ret);
                        *ret = NULL;
                        return -EBADMSG;
                }
        if (!**ret) {
                free(*ret);
                *ret = NULL;
                return -EBADMSG;
        }
        return 0;
}

static int time_get(json_t *o, int64_t *ret) {
        json_t *v = json_object_get(o, "time");

        *ret = -1;
        if (!v)
                return 0;
        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return -EBADMSG;
        *ret = json_integer_value(v);
        return 0;
}

/* Any string: its form is restore_plan_decide()'s to judge, so that a
 * malformed id refuses the restore (the clone is not taken for the
 * template) rather than making the answer unusable. */
static int machine_id_get(json_t *o, char **ret) {
        json_t *v = json_object_get(o, "machine_id");

        *ret = NULL;
        if (!v)
                return 0;
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
                return -EBADMSG;
        *ret = strdup(json_string_value(v));
        return *ret ? 0 : -ENOMEM;
}

/* "token" and "desktop_secret": the boot's keys, a handover's too. */
static int secrets_get(json_t *o, char **ret_token, char **ret_desktop_secret, const char **ret_reason) {
        int r = string_get(o, "token", HOST_SECRET_MAX, ret_token);

        if (r == -EBADMSG)
                return refuse(WHY_TOKEN, ret_reason);
        if (r >= 0)
                r = string_get(o, "desktop_secret", HOST_SECRET_MAX, ret_desktop_secret);
        return r == -EBADMSG ? refuse(WHY_DESKTOP, ret_reason) : r;
}

int mmds_parse_secrets(const char *json, char **ret_token, char **ret_desktop_secret, const char **ret_reason) {
        _cleanup_(erase_and_freep) char *token = NULL, *desktop = NULL;
        json_t *o = json ? json_loads(json, JSON_REJECT_DUPLICATES, NULL) : NULL;
        int r = json_is_object(o) ? secrets_get(o, &token, &desktop, ret_reason) : refuse(WHY_OBJECT, ret_reason);

        json_wipe(o);
        json_decref(o);
        if (r < 0)
                return r;
        *ret_token = TAKE_PTR(token);
        *ret_desktop_secret = TAKE_PTR(desktop);
        return 0;
}

int restore_handover_parse(const char *json, RestoreHandover *ret, const char **ret_reason) {
        _cleanup_(restore_handover_done) RestoreHandover h = { .time_ms = -1 };
        json_t *o = json ? json_loads(json, JSON_REJECT_DUPLICATES, NULL) : NULL;
        int r = json_is_object(o) ? 0 : refuse(WHY_OBJECT, ret_reason);

        if (r >= 0 && (r = generation_get(o, &h.generation)) == -EBADMSG)
                r = refuse(WHY_GENERATION, ret_reason);
        if (r >= 0 && (r = network_get(o, &h.network)) == -EBADMSG)
                r = refuse(WHY_NETWORK, ret_reason);
        if (r >= 0 && (r = time_get(o, &h.time_ms)) == -EBADMSG)
                r = refuse(WHY_TIME, ret_reason);
        if (r >= 0 && (r = machine_id_get(o, &h.machine_id)) == -EBADMSG)
                r = refuse(WHY_MACHINE_ID, ret_reason);
        if (r >= 0)
                r = secrets_get(o, &h.token, &h.desktop_secret, ret_reason);
        json_wipe(o);
        json_decref(o);
        if (r < 0)
                return r;
        *ret = h;
        h = (RestoreHandover){};
        return 0;
}

void restore_handover_done(RestoreHandover *h) {
        free(h->generation);
        free(h->network);
        free(h->machine_id);
        h->generation = h->network = h->machine_id = NULL;
        h->token = erase_and_free(h->token);
        h->desktop_secret = erase_and_free(h->desktop_secret);
        h->time_ms = -1;
}

static bool same_secret(const char *given, const char *now) {
        return given && now && secret_equal(given, strlen(given), now);
}

/* id: the handover's machine id in machine-id(5)'s form, when valid. */
static RestoreVerdict verdict_of(const RestoreIdentity *now, const RestoreHandover *h,
                                 char id[static MACHINE_ID_STRING_MAX]) {
        if (!h->generation)
                return RESTORE_NO_GENERATION;
        /* The boot's generation comes with MMDS's first answer, which holds
         * no token or the one the agent took from it.  A later first
         * generation, or one handing over another token, is a clone's
         * (its template never learnt one): adopting it would keep the
         * template's secrets. */
        if (!now->generation && !now->answered && (!h->token || same_secret(h->token, now->token)))
                return RESTORE_FIRST;
        if (now->generation && streq(now->generation, h->generation))
                return RESTORE_SAME;
        if (!h->token)
                return RESTORE_TOKEN_MISSING;
        if (same_secret(h->token, now->token))
                return RESTORE_TOKEN_REUSED;
        if (!h->desktop_secret)
                return RESTORE_DESKTOP_MISSING;
        if (same_secret(h->desktop_secret, now->desktop_secret))
                return RESTORE_DESKTOP_REUSED;
        if (!desktop_secret_is_valid(h->desktop_secret))
                return RESTORE_DESKTOP_INVALID;
        if (h->time_ms >= 0 && (h->time_ms < RESTORE_TIME_MS_MIN || h->time_ms > RESTORE_TIME_MS_MAX))
                return RESTORE_TIME_INVALID;
        if (h->machine_id && machine_id_parse(h->machine_id, id, NULL) < 0)
                return RESTORE_MACHINE_ID_INVALID;
        if (h->machine_id && !now->machine_id_ours)
                return RESTORE_MACHINE_ID_NOT_OURS;
        if (h->machine_id && now->machine_id_link_foreign)
                return RESTORE_MACHINE_ID_FOREIGN_LINK;
        return RESTORE_REDO;
}

RestorePlan restore_plan_decide(const RestoreIdentity *now, const RestoreHandover *h) {
        RestorePlan p = {};

        p.verdict = verdict_of(now, h, p.machine_id);

        if (p.verdict != RESTORE_REDO) {
                p.machine_id[0] = '\0';
                return p;
        }
        /* Secrets, logins and the desktop always: every one of them is
         * tied to the identity the clone must not share. */
        p.steps = RESTORE_STEP_SECRETS | RESTORE_STEP_LOGINS | RESTORE_STEP_DESKTOP;
        if (h->network)
                p.steps |= RESTORE_STEP_NETWORK;
        if (h->time_ms >= 0)
                p.steps |= RESTORE_STEP_CLOCK;
        /* Again after a failure part way too: writing the same id is a
         * no-op (it is compared first), and a newer handover's may differ. */
        if (h->machine_id)
                p.steps |= RESTORE_STEP_MACHINE_ID;
        /* Again after a failure part way: the other steps are idempotent,
         * but the clock would go back to the handover's time, older now. */
        if (now->pending && streq(now->pending, h->generation))
                p.steps &= ~(now->done & RESTORE_STEP_CLOCK);
        return p;
}

bool restore_verdict_is_refusal(RestoreVerdict v) {
        return v >= RESTORE_TOKEN_MISSING && v < _RESTORE_VERDICT_MAX;
}

static const char *const restore_verdict_table[_RESTORE_VERDICT_MAX] = {
        [RESTORE_REDO] = "a new generation",
        [RESTORE_FIRST] = "the first generation known",
        [RESTORE_SAME] = "the generation is unchanged",
        [RESTORE_NO_GENERATION] = "the handover has no generation",
        [RESTORE_TOKEN_MISSING] = "the handover has no new control token",
        [RESTORE_TOKEN_REUSED] = "the handover reuses the old control token",
        [RESTORE_DESKTOP_MISSING] = "the handover has no new desktop secret",
        [RESTORE_DESKTOP_REUSED] = "the handover reuses the old desktop secret",
        [RESTORE_DESKTOP_INVALID] = "the handover's desktop secret is not 8 to 256 of A-Z a-z 0-9 . _ ~ -",
        [RESTORE_TIME_INVALID] = "the handover's time is not in unix milliseconds from 2020 to 2200",
        [RESTORE_MACHINE_ID_INVALID] = "the handover's machine_id is not 32 hex digits or a UUID (8-4-4-4-12), "
                                       "not all zero",
        [RESTORE_MACHINE_ID_NOT_OURS] = "the handover has a machine_id, and the agent sets the machine id only as "
                                        "PID 1 with a machine_id_file (under systemd, systemd and journald keep "
                                        "the boot's until a reboot: boot such clones instead)",
        [RESTORE_MACHINE_ID_FOREIGN_LINK] = "the handover has a machine_id, and machine_id_file is, or leads "
                                            "through, a symlink another user owns, which the agent does not "
                                            "follow (root's only): remove the link or hand over no machine_id",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(restore_verdict, RestoreVerdict);

const char *restore_step_to_string(RestoreStep s) {
        switch (s) {
        case RESTORE_STEP_NETWORK: return "network";
        case RESTORE_STEP_CLOCK: return "clock";
        case RESTORE_STEP_SECRETS: return "secrets";
        case RESTORE_STEP_LOGINS: return "logins";
        case RESTORE_STEP_DESKTOP: return "desktop";
        case RESTORE_STEP_MACHINE_ID: return "machine id";
        }
        return NULL;
}
