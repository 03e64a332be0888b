/* libFuzzer target for agent/login/login-json.c: everything the host API
 * parses from the network.  The first byte picks the parser: the body of
 * POST /auth/{provider}, of POST /open-url, of POST /auth/oauth, the query
 * of GET /oauth/callback (as a JSON object), or one query parameter.
 * Beyond "no crash": a parser returns 0 or -EINVAL, an error has a
 * message, what it accepts obeys the grammar (a valid sessionId, URLs
 * absolute http(s) and printable, a state present), and a callback query
 * gives an object of at most 64 string values. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/login/login-json.h"
#include "agent/login/session-fsm.h"
#include "fuzz.h"
#include "id-util.h"

static void start_request(const char *body, size_t size) {
        LoginStartRequest q = {};
        const char *err = NULL;
        int r = login_start_request_parse(body, size, &q, &err);

        CHECK(r == 0 || r == -EINVAL);
        if (r < 0) {
                CHECK(err && *err);
                CHECK(!q.session_id);
                return;
        }
        CHECK(session_id_is_valid(q.session_id));
        login_start_request_done(&q);
}

static void open_url_request(const char *body, size_t size) {
        OpenUrlRequest q = {};
        const char *err = NULL;
        int r = open_url_request_parse(body, size, &q, &err);

        CHECK(r == 0 || r == -EINVAL);
        if (r < 0) {
                CHECK(err && *err);
                return;
        }
        CHECK(http_url_is_valid(q.url));
        CHECK(!q.session_id || session_id_is_valid(q.session_id));
        open_url_request_done(&q);
}

static void oauth_request(const char *body, size_t size) {
        OAuthStartRequest q = {};
        const char *err = NULL;
        int r = oauth_start_request_parse(body, size, &q, &err);

        CHECK(r == 0 || r == -EINVAL);
        if (r < 0) {
                CHECK(err && *err);
                return;
        }
        CHECK(session_id_is_valid(q.session_id));
        CHECK(http_url_is_valid(q.authorize_url));
        CHECK(q.state && *q.state);
        oauth_start_request_done(&q);
}

static void callback_query(const char *text) {
        json_t *o = login_query_to_json(text), *v;
        const char *k;
        size_t n = 0;

        if (!o)
                return; /* over 64 parameters, not UTF-8, an escaped NUL (or out of memory) */
        /* Every parameter before the fragment is decoded: one escaped NUL
         * in any of them refuses the query (it would cut a value short). */
        {
                char *nul = strstr(text, "%00"), *frag = strchr(text, '#');
                CHECK(!nul || (frag && frag < nul));
        }
        CHECK(json_is_object(o));
        json_object_foreach(o, k, v) {
                CHECK(*k);
                CHECK(json_is_string(v));
                n++;
        }
        CHECK(n <= 64);
        json_decref(o);
}

static void query_get(const char *text) {
        char *v = login_query_get(text, "state");

        CHECK(!v || strlen(v) <= strlen(text));
        free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text;

        if (size < 1 || size > 64 * 1024)
                return 0;
        text = fuzz_text(data + 1, size - 1);
        if (!text)
                return 0;
        switch (data[0] % 5) {
        case 0: start_request(text, size - 1); break;
        case 1: open_url_request(text, size - 1); break;
        case 2: oauth_request(text, size - 1); break;
        case 3: callback_query(text); break;
        default: query_get(text); break;
        }
        free(text);
        return 0;
}
