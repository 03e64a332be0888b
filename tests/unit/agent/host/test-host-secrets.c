/* Unit tests for agent/host/host-secrets.c without MMDS: explicit values
 * win, and host_secrets_replace() keeps the pair it replaced for the log's
 * redaction, also when a retried restore replaces with the same pair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/host/host-secrets.h"
#include "macro.h"

static HostSecrets *secrets_new(sd_event *e) {
        HostSecretsOptions o = { .event = e, .token = "token-1", .desktop_secret = "desktop-1",
                                 .token_file = "", .desktop_secret_file = "" };
        HostSecrets *s = NULL;

        assert_int_equal(host_secrets_new(&o, NULL, &s, NULL, 0), 0);
        return s;
}

static void assert_pair(HostSecrets *s, const char *token, const char *desktop, const char *old_token,
                        const char *old_desktop) {
        assert_string_equal(host_secrets_token(s), token);
        assert_string_equal(host_secrets_desktop(s), desktop);
        if (old_token)
                assert_string_equal(host_secrets_replaced_token(s), old_token);
        else
                assert_null(host_secrets_replaced_token(s));
        if (old_desktop)
                assert_string_equal(host_secrets_replaced_desktop(s), old_desktop);
        else
                assert_null(host_secrets_replaced_desktop(s));
}

static void test_replace(void **state) {
        sd_event *e = NULL;
        HostSecrets *s;

        assert_int_equal(sd_event_new(&e), 0);
        s = secrets_new(e);
        assert_pair(s, "token-1", "desktop-1", NULL, NULL);
        assert_string_equal(host_secrets_auth_string(s), "token");
        assert_int_equal(host_secrets_replace(s, "token-2", "desktop-2"), 0);
        assert_pair(s, "token-2", "desktop-2", "token-1", "desktop-1");
        /* A restore retried part way hands the same pair again: the
         * template's secrets stay the ones to redact. */
        assert_int_equal(host_secrets_replace(s, "token-2", "desktop-2"), 0);
        assert_pair(s, "token-2", "desktop-2", "token-1", "desktop-1");
        /* Half the same is a new pair. */
        assert_int_equal(host_secrets_replace(s, "token-2", "desktop-3"), 0);
        assert_pair(s, "token-2", "desktop-3", "token-2", "desktop-2");
        /* Refused, nothing changes. */
        assert_int_equal(host_secrets_replace(s, "", "desktop-4"), -EINVAL);
        assert_int_equal(host_secrets_replace(s, "token-4", "short"), -EINVAL);
        assert_int_equal(host_secrets_replace(s, "token-4", "bad desktop secret"), -EINVAL);
        /* Secrets never set up (PID 1 goes on without them). */
        assert_int_equal(host_secrets_replace(NULL, "token-4", "desktop-4"), -EINVAL);
        assert_pair(s, "token-2", "desktop-3", "token-2", "desktop-2");
        host_secrets_free(s);
        sd_event_unref(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_replace),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
