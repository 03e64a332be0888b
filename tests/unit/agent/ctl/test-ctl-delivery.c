/* Unit tests for agent/ctl/ctl-delivery.c: which pushed lines the host's
 * receiver takes, the cause of each refusal (the token before anything
 * else), and which ids it echoes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "agent/ctl/ctl-delivery.h"
#include "macro.h"

#define T "\"token\":\"tok-0123456789\""
#define ID "\"deliveryId\":\"0123456789abcdef0123456789abcdef\""
#define OK_REST ID ",\"sessionId\":\"s-1\",\"provider\":\"claude_code\",\"credentials\":{\"a\":1}"

typedef struct DeliveryCase {
        const char *line;
        const char *cause; /* NULL: taken */
        const char *id;    /* echoed, or NULL */
} DeliveryCase;

static const DeliveryCase delivery_cases[] = {
        { "{" T "," OK_REST "}", NULL, "0123456789abcdef0123456789abcdef" },
        { "{" T ",\"deliveryId\":\"d\",\"sessionId\":\"a.b:c_d-e\",\"provider\":\"oauth\",\"credentials\":{}}",
          NULL, "d" },
        /* The provider is printed on the receiver's stdout, a line a
         * host's script reads: an id as providers.json has them. */
        { "{" T "," ID ",\"sessionId\":\"s\",\"credentials\":{}}", "malformed",
          "0123456789abcdef0123456789abcdef" },
        { "{" T "," ID ",\"sessionId\":\"s\",\"provider\":\"x)\\nreceived: /etc/shadow (y\","
          "\"credentials\":{}}", "malformed", "0123456789abcdef0123456789abcdef" },
        { "{" T "," ID ",\"sessionId\":\"s\",\"provider\":\"Codex\",\"credentials\":{}}", "malformed",
          "0123456789abcdef0123456789abcdef" },
        { "{" T "," ID ",\"sessionId\":\"s\",\"provider\":\"\",\"credentials\":{}}", "malformed",
          "0123456789abcdef0123456789abcdef" },
        { "{" T "," ID ",\"sessionId\":\"s\",\"provider\":7,\"credentials\":{}}", "malformed",
          "0123456789abcdef0123456789abcdef" },
        /* The token first: a wrong one wins over every other fault. */
        { "{\"token\":\"tok-0123456789x\"," OK_REST "}", "token-wrong", "0123456789abcdef0123456789abcdef" },
        { "{\"token\":\"tok\",\"sessionId\":\"../x\"}", "token-wrong", NULL },
        { "{\"token\":7," OK_REST "}", "token-missing", "0123456789abcdef0123456789abcdef" },
        { "{" OK_REST "}", "token-missing", "0123456789abcdef0123456789abcdef" },
        { "[1]", "malformed", NULL },
        { NULL, "malformed", NULL }, /* no JSON */
        /* The session id names a file in the receiver's directory,
         * <id>.json: one with a '/' is refused... */
        { "{" T "," ID ",\"sessionId\":\"../x\",\"provider\":\"oauth\",\"credentials\":{}}", "malformed",
          "0123456789abcdef0123456789abcdef" },
        { "{" T "," ID ",\"sessionId\":\"a/b\",\"provider\":\"oauth\",\"credentials\":{}}", "malformed",
          "0123456789abcdef0123456789abcdef" },
        /* ...every id the agent takes is taken: one refused would be
         * resent, refused again, and never reach the host.  With the
         * suffix, none names "." or "..". */
        { "{" T "," ID ",\"sessionId\":\".x\",\"provider\":\"oauth\",\"credentials\":{}}", NULL,
          "0123456789abcdef0123456789abcdef" },
        { "{" T "," ID ",\"sessionId\":\"..\",\"provider\":\"oauth\",\"credentials\":{}}", NULL,
          "0123456789abcdef0123456789abcdef" },
        { "{" T "," ID ",\"sessionId\":\".\",\"provider\":\"oauth\",\"credentials\":{}}", NULL,
          "0123456789abcdef0123456789abcdef" },
        { "{" T "," ID ",\"sessionId\":\"\",\"credentials\":{}}", "malformed", "0123456789abcdef0123456789abcdef" },
        { "{" T "," ID ",\"sessionId\":\"s\",\"credentials\":[]}", "malformed", "0123456789abcdef0123456789abcdef" },
        { "{" T "," ID ",\"credentials\":{}}", "malformed", "0123456789abcdef0123456789abcdef" },
        /* An id not fit to echo on one line is not echoed, and
         * without one the line is not taken. */
        { "{" T ",\"deliveryId\":\"a b\\nACK x\",\"sessionId\":\"s\",\"credentials\":{}}", "malformed", NULL },
        { "{" T ",\"deliveryId\":\"" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0"
          "\",\"sessionId\":\"s\",\"credentials\":{}}", "malformed", NULL },
        { "{" T ",\"deliveryId\":5,\"sessionId\":\"s\",\"credentials\":{}}", "malformed", NULL },
};

static void test_parse(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(delivery_cases); i++) {
                const DeliveryCase *c = &delivery_cases[i];
                json_t *j = c->line ? json_loads(c->line, 0, NULL) : NULL;
                CtlDelivery d = {};
                const char *cause;

                assert_true(!c->line || j);
                cause = ctl_delivery_parse(j, "tok-0123456789", &d);
                if (c->cause)
                        assert_string_equal(cause, c->cause);
                else {
                        assert_null(cause);
                        assert_true(json_is_object(d.credentials));
                        assert_non_null(d.provider);
                }
                if (c->id)
                        assert_string_equal(d.id, c->id);
                else
                        assert_null(d.id);
                json_decref(j);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
