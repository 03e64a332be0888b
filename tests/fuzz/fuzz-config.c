/* libFuzzer target for the config parsers: the JSON file and the kernel
 * command line's vmba.* words, and on the same command line its
 * systemd.machine_id= (common/machine-id.h: an id is 32 lowercase hex
 * digits, not all zero; a refusal is one line).  The first byte picks the
 * parser.  Beyond
 * "no crash": only 0/-EINVAL/-ENOMEM, an error always has a one-line
 * message naming something, the Config stays freeable, and a token set by
 * the input never appears in an error message. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/config.h"
#include "machine-id.h"
#include "fuzz.h"

static void check_machine_id(const char *cmdline) {
        char id[MACHINE_ID_STRING_MAX] = "", error[MACHINE_ID_ERROR_MAX];
        unsigned refused;
        int r = machine_id_from_cmdline(cmdline, id, &refused, error);

        CHECK(r == 0 || r == 1 || r == -ENOMEM);
        if (r == 1) {
                CHECK(strlen(id) == 32 && strspn(id, "0123456789abcdef") == 32);
                CHECK(strspn(id, "0") != 32);
        }
        if (r >= 0)
                CHECK((refused == 0) == (error[0] == '\0') && !strchr(error, '\n') && !strchr(error, '\x1b'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char err[256] = "";
        Config c;
        int r;

        if (size < 1 || size > 64 * 1024)
                return 0;
        char *text = malloc(size);
        CHECK(text);
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';

        config_init(&c);
        /* A known token first: later errors must not echo it. */
        CHECK(config_set(&c, "token", "Zq9-fuzz-secret", err, sizeof err) == 0);
        if (data[0] & 1) {
                r = config_apply_cmdline(&c, text, err, sizeof err);
                check_machine_id(text);
        }
        else
                r = config_load_json(&c, text, "fuzz.json", err, sizeof err);
        CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
        if (r == -EINVAL) {
                CHECK(err[0] != '\0');
                CHECK(!strchr(err, '\n') || strstr(text, "\n"));
                /* ...unless the input spells it (the cmdline drops quotes). */
                char *unquoted = strdup(text), *w = unquoted;
                CHECK(unquoted);
                for (const char *p = text; *p; p++)
                        if (*p != '"')
                                *w++ = *p;
                *w = '\0';
                CHECK(!strstr(err, "Zq9-fuzz-secret") || strstr(unquoted, "Zq9-fuzz-secret"));
                free(unquoted);
        }
        CHECK(c.shutdown_action >= 0 && c.shutdown_action < _SHUTDOWN_ACTION_MAX);
        CHECK(c.netinit >= -1 && c.netinit <= 1);
        CHECK(c.log_level >= 0 && c.log_level <= 7);
        config_done(&c);
        free(text);
        return 0;
}
