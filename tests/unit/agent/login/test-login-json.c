/* Unit tests for agent/login-json.c: the host API's exact shapes and the
 * request validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "agent/login/login-json.h"
#include "agent/login/session-fsm.h"
#include "id-util.h"
#include "macro.h"

#define SID "123e4567-e89b-12d3-a456-426614174000"

static void check(json_t *j, const char *want) {
        char *s;

        assert_non_null(j);
        s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        assert_string_equal(s, want);
        free(s);
        json_decref(j);
}

static void test_responses(void **state) {
        json_t *creds = json_pack("{s:{s:s}}", "claudeAiOauth", "accessToken", "t");

        check(login_json_started_url(SID, "https://a/x"),
              "{\"message\":\"OAuth URL captured\",\"oauthUrl\":\"https://a/x\",\"sessionId\":\"" SID "\",\"success\":true}");
        check(login_json_started_output(SID, "out\n", 15, NULL),
              "{\"cliOutput\":\"out\\n\",\"message\":\"CLI started; no OAuth URL within 15 s\",\"sessionId\":\"" SID "\",\"success\":true}");
        check(login_json_started_output(SID, "", 15, ""),
              "{\"cliOutput\":\"\",\"message\":\"CLI started; no OAuth URL within 15 s\",\"sessionId\":\"" SID "\",\"success\":true}");
        /* Its CLI crawling at its memory.max: said after the message. */
        check(login_json_started_output(SID, "", 15, "CLI codex at its memory.max 64 MiB"),
              "{\"cliOutput\":\"\",\"message\":\"CLI started; no OAuth URL within 15 s; CLI codex at its memory.max 64 "
              "MiB\",\"sessionId\":\"" SID "\",\"success\":true}");
        check(login_json_started_ended(SID, "Error: no network\n"),
              "{\"cliOutput\":\"Error: no network\\n\",\"message\":\"Login ended before an OAuth URL was printed\",\"sessionId\":\"" SID "\",\"success\":true}");
        check(login_json_url_waiting(1234), "{\"elapsedMs\":1234,\"message\":\"Waiting for OAuth URL\",\"waiting\":true}");
        check(login_json_url_ready("https://a/x"), "{\"oauthUrl\":\"https://a/x\"}");
        check(login_json_status_authenticated("/root/.codex/auth.json", 1763769149123456ULL, "codex"),
              "{\"authenticated\":true,\"modifiedAt\":\"2025-11-21T23:52:29.123Z\",\"path\":\"/root/.codex/auth.json\",\"provider\":\"codex\"}");
        check(login_json_status_waiting(5), "{\"authenticated\":false,\"elapsedMs\":5,\"waiting\":true}");
        check(login_json_status_failed("access_denied"), "{\"authenticated\":false,\"error\":\"access_denied\",\"failed\":true}");
        check(login_json_credentials("claude_code", creds, "/root/.claude/.credentials.json"),
              "{\"credPath\":\"/root/.claude/.credentials.json\",\"credentials\":{\"claudeAiOauth\":{\"accessToken\":\"t\"}},\"provider\":\"claude_code\",\"success\":true}");
        check(login_json_open_url("keyboard_navigation"), "{\"method\":\"keyboard_navigation\",\"success\":true}");
        check(login_json_oauth_started(SID), "{\"message\":\"Authorize URL opened\",\"sessionId\":\"" SID
                                             "\",\"success\":true}");
        char *line = login_json_handoff_line("tok\"en", "d1", SID, "codex", creds, "/p");
        /* The token first, escaped like any value; the credentials are
         * borrowed and stay whole (only the line's own token copy is wiped). */
        assert_string_equal(line, "{\"token\":\"tok\\\"en\",\"deliveryId\":\"d1\",\"sessionId\":\"" SID "\",\"provider\":\"codex\",\"credentials\":{\"claudeAiOauth\":{\"accessToken\":\"t\"}},\"credPath\":\"/p\"}");
        free(line);
        assert_string_equal(json_string_value(json_object_get(json_object_get(creds, "claudeAiOauth"),
                                                              "accessToken")), "t");
        json_decref(creds);
}

static void test_start_request(void **state) {
        LoginStartRequest q = {};
        const char *err = NULL;
        const char *ok = "{\"sessionId\":\"" SID "\",\"proxy\":{\"httpProxy\":\"http://p:3128\",\"noProxy\":\"localhost\"},\"debug\":{}}";

        assert_int_equal(login_start_request_parse(ok, strlen(ok), &q, &err), 0);
        assert_string_equal(q.session_id, SID);
        assert_string_equal(q.http_proxy, "http://p:3128");
        assert_null(q.https_proxy);
        assert_string_equal(q.no_proxy, "localhost");
        login_start_request_done(&q);

        static const struct { const char *body, *error; } bad[] = {
                { "", "Request body must be JSON" },
                { "{", "Invalid JSON body" },
                { "[]", "Invalid JSON body" },
                { "{\"sessionId\":\"a b\",\"sessionId\":\"" SID "\"}", "Invalid JSON body" }, /* which one? */
                { "{}", "sessionId is required" },
                { "{\"sessionId\":null}", "sessionId is required" },
                { "{\"sessionId\":5}", SESSION_ID_ERROR },
                { "{\"sessionId\":\"\"}", SESSION_ID_ERROR },
                { "{\"sessionId\":\"a b\"}", SESSION_ID_ERROR },
                { "{\"sessionId\":\"$(touch /tmp/x)\"}", SESSION_ID_ERROR },
                { "{\"sessionId\":\"" SID "\",\"proxy\":\"x\"}", "proxy and debug must be objects" },
                { "{\"sessionId\":\"" SID "\",\"proxy\":{\"httpProxy\":\"a\\nb\"}}", "proxy settings must be strings" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                err = NULL;
                assert_int_equal(login_start_request_parse(bad[i].body, strlen(bad[i].body), &q, &err), -EINVAL);
                assert_string_equal(err, bad[i].error);
                assert_null(q.session_id);
        }
}

static void test_urls(void **state) {
        OpenUrlRequest o = {};
        OAuthStartRequest a = {};
        const char *err = NULL, *b;

        b = "{\"url\":\"https://a/`touch${IFS}/tmp/x`$(id)\"}";
        assert_int_equal(open_url_request_parse(b, strlen(b), &o, &err), 0); /* backticks are URL chars; no shell sees them */
        assert_string_equal(o.url, "https://a/`touch${IFS}/tmp/x`$(id)");
        open_url_request_done(&o);
        b = "{\"url\":\"ftp://a/\"}";
        assert_int_equal(open_url_request_parse(b, strlen(b), &o, &err), -EINVAL);
        assert_string_equal(err, "url must be an absolute http(s) URL");

        b = "{\"sessionId\":\"" SID "\",\"authorizeUrl\":\"https://p/authorize?client_id=c&state=st%2B1-abc&x=y\"}";
        assert_int_equal(oauth_start_request_parse(b, strlen(b), &a, &err), 0);
        assert_string_equal(a.state, "st+1-abc");
        oauth_start_request_done(&a);
        /* Shorter than 8 bytes (decoded): a local process could
         * guess it within the wrong states a login lets go by. */
        b = "{\"sessionId\":\"" SID "\",\"authorizeUrl\":\"https://p/authorize?state=st%2B1-ab\"}";
        assert_int_equal(oauth_start_request_parse(b, strlen(b), &a, &err), -EINVAL);
        assert_string_equal(err, "state must be at least 8 bytes: a shorter one can be guessed");
        b = "{\"sessionId\":\"" SID "\",\"authorizeUrl\":\"https://p/authorize?state=long-enough\",\"state\":\"1234567\"}";
        assert_int_equal(oauth_start_request_parse(b, strlen(b), &a, &err), -EINVAL);
        b = "{\"sessionId\":\"" SID "\",\"authorizeUrl\":\"https://p/authorize?state=s\",\"state\":\"12345678\"}";
        assert_int_equal(oauth_start_request_parse(b, strlen(b), &a, &err), 0);
        assert_string_equal(a.state, "12345678");
        oauth_start_request_done(&a);
        b = "{\"sessionId\":\"" SID "\",\"authorizeUrl\":\"https://p/authorize\"}";
        assert_int_equal(oauth_start_request_parse(b, strlen(b), &a, &err), -EINVAL);
        assert_string_equal(err, "state is required (in the body or in authorizeUrl, without a %00)");
        /* The longest state, and one byte more: its message names the limit. */
        for (size_t n = OAUTH_STATE_MAX; n <= OAUTH_STATE_MAX + 1; n++) {
                char *body = NULL;
                assert_true(asprintf(&body, "{\"sessionId\":\"" SID "\",\"authorizeUrl\":\"https://p/a\",\"state\":\"%0*d\"}",
                                     (int)n, 0) > 0);
                assert_int_equal(oauth_start_request_parse(body, strlen(body), &a, &err),
                                 n == OAUTH_STATE_MAX ? 0 : -EINVAL);
                if (n > OAUTH_STATE_MAX)
                        assert_string_equal(err, "state must be a string of at most 1024 bytes");
                oauth_start_request_done(&a);
                free(body);
        }
}

/* A parameter's value in a query or a URL's query, decoded; an escaped NUL
 * refuses it (in authorizeUrl's state too). */
static void test_query_values(void **state) {
        OAuthStartRequest a = {};
        const char *err = NULL, *b;
        char *v;

        v = login_query_get("code=a%20b+c&state=x", "code");
        assert_string_equal(v, "a b c");
        free(v);
        v = login_query_get("https://h/cb?xcode=1&code=2#code=3", "code");
        assert_string_equal(v, "2");
        free(v);
        assert_null(login_query_get("https://h/cb?x=1#code=3", "code"));
        v = login_query_get("a=%zz%4", "a");
        assert_string_equal(v, "%zz%4");
        free(v);
        /* A raw query: a '?' in a value does not start another one. */
        v = login_query_param("next=%3F&x=?state=a&state=b", "state");
        assert_string_equal(v, "b");
        free(v);
        assert_null(login_query_param(NULL, "state"));
        /* An escaped NUL would end the decoded text early: refused, not
         * read as "a" (a state that matched "a" would pass). */
        assert_null(login_query_get("https://h/cb?state=a%00b", "state"));
        assert_null(login_query_param("state=%00", "state"));
        v = login_query_param("state=a%2500&x=%00", "state");
        assert_string_equal(v, "a%00");
        free(v);
        b = "{\"sessionId\":\"" SID "\",\"authorizeUrl\":\"https://p/authorize?state=12345678%00x\"}";
        assert_int_equal(oauth_start_request_parse(b, strlen(b), &a, &err), -EINVAL);
        assert_string_equal(err, "state is required (in the body or in authorizeUrl, without a %00)");
}


static void test_query_to_json(void **state) {
        json_t *j = login_query_to_json("code=a%2Bb&state=s+1&scope&code=dup&=x&e=");

        check(j, "{\"code\":\"a+b\",\"e\":\"\",\"scope\":\"\",\"state\":\"s 1\"}");
        check(login_query_to_json(""), "{}");
        /* Not UTF-8: the whole query is refused, not captured without it. */
        assert_null(login_query_to_json("a=%ff&b=1"));
        assert_null(login_query_to_json("b=1&%ff=a"));
        /* An escaped NUL, in a value or a key: refused whole, too. */
        assert_null(login_query_to_json("code=a%00b&state=s"));
        assert_null(login_query_to_json("state=s&%00=x"));
        check(login_query_to_json("state=s#x=%00"), "{\"state\":\"s\"}");
        /* A key has one spelling: the state is checked by its raw key, and
         * "st%61te" would be another state in the credentials. */
        assert_null(login_query_to_json("st%61te=X&state=s&code=c"));
        assert_null(login_query_to_json("code=c&state=s&a+b=1"));
        check(login_query_to_json("code=c%25&state=s+%2B"), "{\"code\":\"c%\",\"state\":\"s +\"}");
}

static void test_query_keys_plain(void **state) {
        assert_true(login_query_keys_plain(NULL));
        assert_true(login_query_keys_plain(""));
        assert_true(login_query_keys_plain("code=a%2B&state=b+c&scope&=x#%25=1"));
        assert_false(login_query_keys_plain("st%61te=X"));
        assert_false(login_query_keys_plain("state=s&%73tate=X"));
        assert_false(login_query_keys_plain("a+b=1"));
        assert_false(login_query_keys_plain("state=s&x%"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_responses),
                cmocka_unit_test(test_start_request),
                cmocka_unit_test(test_urls),
                cmocka_unit_test(test_query_values),
                cmocka_unit_test(test_query_to_json),
                cmocka_unit_test(test_query_keys_plain),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
