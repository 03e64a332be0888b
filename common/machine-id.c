/* Implementation of machine-id.h.  systemd's grammar, which this follows
 * byte for byte: 32 hex digits, or a dash after the 8th and then after
 * the 12th, 16th and 20th (a UUID; a dash anywhere else, or only some of
 * them, is refused), nothing after; upper case is taken and written
 * lower, as systemd writes it.  A bare "systemd.machine_id" has no value
 * (systemd: "Missing argument"), and an empty one is not 32 digits. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline-util.h"
#include "machine-id.h"
#include "macro.h"

#define WHY_FORM "not 32 hex digits or a UUID (8-4-4-4-12)"
#define WHY_ZERO "all zero, which means no id"
#define WHY_FIRMWARE "\"firmware\" (systemd's SMBIOS product UUID) is not read: pass the id itself"
#define WHY_MISSING "no value"

static int refuse(const char *why, const char **ret_reason) {
        if (ret_reason)
                *ret_reason = why;
        return -EINVAL;
}

int machine_id_parse(const char *s, char ret[static MACHINE_ID_STRING_MAX], const char **ret_reason) {
        static const char digits[] = "0123456789abcdef";
        char id[MACHINE_ID_STRING_MAX];
        bool uuid = false, zero = true;
        size_t i = 0, n = 0;

        if (!s)
                return refuse(WHY_MISSING, ret_reason);
        if (strcmp(s, "firmware") == 0)
                return refuse(WHY_FIRMWARE, ret_reason);
        while (n < MACHINE_ID_STRING_MAX - 1) {
                int v;

                if (s[i] == '-') {
                        if (i == 8)
                                uuid = true;
                        else if (!uuid || (i != 13 && i != 18 && i != 23))
                                return refuse(WHY_FORM, ret_reason);
                        i++;
                        continue;
                }
                v = unhexchar(s[i++]);
                if (v < 0)
                        return refuse(WHY_FORM, ret_reason);
                id[n++] = digits[v];
                zero = zero && v == 0;
        }
        /* All 32 digits read: a UUID took four dashes, and nothing follows. */
        if (i != (uuid ? 36u : 32u) || s[i] != '\0')
                return refuse(WHY_FORM, ret_reason);
        if (zero)
                return refuse(WHY_ZERO, ret_reason);
        id[n] = '\0';
        memcpy(ret, id, sizeof id);
        return 0;
}

/* systemd's proc_cmdline_key_streq(): '-' and '_' are the same in a key. */
static bool key_is_machine_id(const char *param) {
        const char *want = "systemd.machine_id";

        for (; *param && *want; param++, want++)
                if (*param != *want && !(strchr("-_", *param) && strchr("-_", *want)))
                        return false;
        return *param == '\0' && *want == '\0';
}

/* The value is echoed when it reads as one word (the command line is
 * every local user's to read already); anything else by its length, so
 * no control byte reaches the console. */
static void describe(const char *val, const char *why, char error[static MACHINE_ID_ERROR_MAX]) {
        size_t n = val ? strlen(val) : 0;
        bool printable = n <= 64;

        for (size_t k = 0; printable && k < n; k++)
                printable = val[k] > ' ' && val[k] < 0x7f;
        if (!val)
                snprintf(error, MACHINE_ID_ERROR_MAX, "systemd.machine_id: %s", why);
        else if (printable)
                snprintf(error, MACHINE_ID_ERROR_MAX, "systemd.machine_id=%s: %s", val, why);
        else
                snprintf(error, MACHINE_ID_ERROR_MAX, "systemd.machine_id= (a value of %zu bytes): %s", n, why);
}

int machine_id_from_cmdline(const char *cmdline, char ret_id[static MACHINE_ID_STRING_MAX],
                            unsigned *ret_refused, char error[static MACHINE_ID_ERROR_MAX]) {
        char *buf = strdup(cmdline ? cmdline : ""), *args = buf;
        char id[MACHINE_ID_STRING_MAX] = "";
        unsigned refused = 0;

        if (!buf)
                return -ENOMEM;
        error[0] = '\0';
        while (*args) {
                const char *why;
                char *param, *val;

                args = cmdline_next_arg(args, &param, &val);
                if (!val && strcmp(param, "--") == 0)
                        break;
                if (!key_is_machine_id(param))
                        continue;
                if (machine_id_parse(val, id, &why) < 0) {
                        describe(val, why, error);
                        refused++;
                }
        }
        free(buf);
        *ret_refused = refused;
        if (!id[0])
                return 0;
        memcpy(ret_id, id, sizeof id);
        return 1;
}
