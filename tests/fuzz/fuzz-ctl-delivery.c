/* libFuzzer target for agent/ctl/ctl-delivery.c: one line of the push
 * handoff, as any process in a guest can send it to the host's receiver.
 * Beyond "no crash": a line is taken only with the VM's token, and then
 * its session id names a file, <id>.json, that stays in the receiver's
 * directory (no '/'; with the suffix never "." or ".."; any id the agent
 * takes, a leading dot included), its delivery id is fit to echo on one
 * line, its provider fit to print on one (no blank, no control byte), and
 * its credentials are an object; the cause of a refusal is one of the
 * three words, and a token that is there but not the VM's is
 * "token-wrong" whatever else the line holds (it is checked first); an id
 * echoed for a refused line is fit to echo too. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ctl/ctl-delivery.h"
#include "fuzz.h"
#include "id-util.h"

#define TOKEN "fuzz-token-0123456789"

static bool echo_safe(const char *id) {
        size_t n = strlen(id);

        return n > 0 && n <= CTL_DELIVERY_ID_MAX && !strpbrk(id, " \r\n\t/");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_t *j = json_loadb((const char *)data, size, 0, NULL), *t = json_object_get(j, "token");
        CtlDelivery d = {};
        const char *cause = ctl_delivery_parse(j, TOKEN, &d);

        if (json_is_object(j) && json_is_string(t) &&
            (json_string_length(t) != strlen(TOKEN) || memcmp(json_string_value(t), TOKEN, strlen(TOKEN)) != 0))
                CHECK(cause && !strcmp(cause, "token-wrong"));
        if (cause)
                CHECK(!strcmp(cause, "malformed") || !strcmp(cause, "token-missing") ||
                      !strcmp(cause, "token-wrong"));
        else {
                CHECK(json_is_object(j));
                CHECK(!strcmp(json_string_value(json_object_get(j, "token")) ?: "", TOKEN));
                CHECK(d.sid && d.sid[0] && strlen(d.sid) <= SESSION_ID_MAX && !strchr(d.sid, '/'));
                CHECK(d.id && json_is_object(d.credentials));
                CHECK(d.provider && d.provider[0] && strlen(d.provider) <= 64);
                for (const char *c = d.provider; *c; c++)
                        CHECK(*c > 0x20 && *c < 0x7f && *c != ')' && *c != '(');
        }
        if (d.id)
                CHECK(echo_safe(d.id));
        json_decref(j);
        return 0;
}
