/* Unit tests for agent/host/restore-plan.c: the handover's JSON (every key
 * present, absent, of the wrong type) and the decision for every verdict
 * (each one has a row: test_every_verdict_decided()), with the steps each
 * one asks for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/host/restore-plan.h"
#include "macro.h"

#define D1 "desktop-secret-one"
#define D2 "desktop-secret-two"

typedef struct HandoverCase {
        const char *json;
        int r;
        const char *generation, *network, *token, *desktop;
        int64_t time_ms;
        const char *machine_id;
} HandoverCase;

static const HandoverCase handover_cases[] = {
        { "{\"generation\":\"g2\",\"network\":\"ip=10.0.0.7::10.0.0.1:24::eth0:off\",\"time\":1700000000123,"
          "\"token\":\"t2\",\"desktop_secret\":\"" D2 "\"}",
          0, "g2", "10.0.0.7::10.0.0.1:24::eth0:off", "t2", D2, 1700000000123 },
        /* "ip=" is optional: the value alone is the same. */
        { "{\"network\":\"10.0.0.7::10.0.0.1:24::eth0:off\"}", 0, NULL, "10.0.0.7::10.0.0.1:24::eth0:off",
          NULL, NULL, -1 },
        /* Integers count generations; kept as their decimal text. */
        { "{\"generation\":42}", 0, "42", NULL, NULL, NULL, -1 },
        { "{\"generation\":0,\"time\":0}", 0, "0", NULL, NULL, NULL, 0 },
        { "{}", 0, NULL, NULL, NULL, NULL, -1 },
        /* Other keys (the host's own) are not ours to judge. */
        { "{\"generation\":\"g\",\"extra\":[1,2]}", 0, "g", NULL, NULL, NULL, -1 },
        { "{\"generation\":-1}", -EBADMSG },
        { "{\"generation\":\"\"}", -EBADMSG },
        { "{\"generation\":1.5}", -EBADMSG },
        { "{\"generation\":true}", -EBADMSG },
        { "{\"generation\":\"a\\u0000b\"}", -EBADMSG },
        /* It is logged: printable ASCII only, a blank included. */
        { "{\"generation\":\"gen 2 ~\"}", 0, "gen 2 ~", NULL, NULL, NULL, -1 },
        { "{\"generation\":\"g\\nRestore done: generation x\"}", -EBADMSG },
        { "{\"generation\":\"g\\u001b[31m\"}", -EBADMSG },
        { "{\"generation\":\"g\\u007f\"}", -EBADMSG },
        { "{\"generation\":\"caf\\u00e9\"}", -EBADMSG },
        { "{\"generation\":\"" "0123456789012345678901234567890123456789012345678901234567890123"
          "0123456789012345678901234567890123456789012345678901234567890123" "X\"}", -EBADMSG },
        { "{\"time\":-5}", -EBADMSG },
        /* Any time is read; restore_plan_decide() judges it. */
        { "{\"time\":9223372036854775807}", 0, NULL, NULL, NULL, NULL, INT64_MAX },
        { "{\"time\":\"1700000000000\"}", -EBADMSG },
        { "{\"time\":1.5}", -EBADMSG },
        { "{\"network\":\"ip=\"}", -EBADMSG },
        { "{\"network\":\"\"}", -EBADMSG },
        /* A blank or a quote would start another command-line word
         * (a second ip=, a vmba.* key) when netinit tokenises it. */
        { "{\"network\":\"10.0.0.7::::: vmba.token=x\"}", -EBADMSG },
        { "{\"network\":\"10.0.0.7\\\"\"}", -EBADMSG },
        { "{\"network\":\"10.0.0.7\\n\"}", -EBADMSG },
        { "{\"network\":7}", -EBADMSG },
        { "{\"token\":\"\"}", -EBADMSG },
        { "{\"token\":1}", -EBADMSG },
        { "{\"desktop_secret\":null}", -EBADMSG },
        /* Any string is read as given; restore_plan_decide() judges its
         * form (a malformed id refuses the restore, the clone is not left
         * as the template).  Only another type makes the object unusable. */
        { "{\"machine_id\":\"FEDCBA98-7654-3210-FEDC-BA9876543210\"}", 0, NULL, NULL, NULL, NULL, -1,
          "FEDCBA98-7654-3210-FEDC-BA9876543210" },
        { "{\"machine_id\":\"\"}", 0, NULL, NULL, NULL, NULL, -1, "" },
        { "{\"machine_id\":\"firmware\"}", 0, NULL, NULL, NULL, NULL, -1, "firmware" },
        { "{\"machine_id\":\"0123456789abcdef0123456789abcdef\\u0000\"}", -EBADMSG },
        { "{\"machine_id\":null}", -EBADMSG },
        { "{\"machine_id\":1234}", -EBADMSG },
        { "{\"machine_id\":[\"0123456789abcdef0123456789abcdef\"]}", -EBADMSG },
        { "{\"generation\":\"a\",\"generation\":\"b\"}", -EBADMSG },
        { "[]", -EBADMSG },
        { "generation=2", -EBADMSG },
        { NULL, -EBADMSG },
};

static void test_parse(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(handover_cases); i++) {
                const HandoverCase *c = &handover_cases[i];
                RestoreHandover h = { .generation = (char *)"untouched" };
                int r = restore_handover_parse(c->json, &h, NULL);

                print_message("%s\n", c->json ?: "(null)");
                assert_int_equal(r, c->r);
                if (r < 0) {
                        assert_string_equal(h.generation, "untouched");
                        continue;
                }
#define CHECK_STR(got, want) do { if (want) assert_string_equal(got, want); else assert_null(got); } while (0)
                CHECK_STR(h.generation, c->generation);
                CHECK_STR(h.network, c->network);
                CHECK_STR(h.token, c->token);
                CHECK_STR(h.desktop_secret, c->desktop);
                CHECK_STR(h.machine_id, c->machine_id);
                assert_int_equal(h.time_ms, c->time_ms);
                restore_handover_done(&h);
                assert_null(h.generation);
                assert_null(h.token);
                assert_null(h.machine_id);
        }
}

/* A refused handover's log line names the key at fault, never its value
 * (the object holds the secrets). */
static void test_parse_reason(void **state) {
        static const struct {
                const char *json, *reason;
        } t[] = {
                /* A host that puts its boot arguments' nameserver= in: a
                 * blank would start another word of the command line. */
                { "{\"generation\":\"g2\",\"network\":\"ip=10.0.0.7::10.0.0.1:24::eth0:off nameserver=10.0.0.1\"}",
                  "\"network\" is not an ip= value of 1 to 1024 bytes of printable ASCII without blanks, quotes or "
                  "backslashes" },
                /* Python's time.time() * 1000. */
                { "{\"generation\":\"g2\",\"time\":1733550000000.25}",
                  "\"time\" is not a non-negative integer (unix milliseconds)" },
                { "{\"generation\":true}",
                  "\"generation\" is not a non-negative integer or 1 to 128 bytes of printable ASCII" },
                { "{\"generation\":\"g2\",\"token\":null}", "\"token\" is not a string of 1 to 4096 bytes without NUL" },
                /* systemd-id128's output taken as a number by a host's
                 * templating. */
                { "{\"generation\":\"g2\",\"machine_id\":12345678901234567}",
                  "\"machine_id\" is not a string without NUL" },
                { "{\"generation\":\"g2\",\"token\":\"secret-t2\",\"desktop_secret\":7}",
                  "\"desktop_secret\" is not a string of 1 to 4096 bytes without NUL" },
                { "{\"generation\":\"a\",\"generation\":\"b\"}", "not one JSON object (invalid JSON, a key twice, or an integer past 64 bits)" },
                { "[]", "not one JSON object (invalid JSON, a key twice, or an integer past 64 bits)" },
                /* jansson refuses the whole text: a uint64 counter past INT64_MAX. */
                { "{\"generation\":18446744073709551615}",
                  "not one JSON object (invalid JSON, a key twice, or an integer past 64 bits)" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                RestoreHandover h = {};
                const char *why = NULL;

                print_message("%s\n", t[i].json);
                assert_int_equal(restore_handover_parse(t[i].json, &h, &why), -EBADMSG);
                assert_non_null(why);
                assert_string_equal(why, t[i].reason);
        }
}

#define ALWAYS (RESTORE_STEP_SECRETS | RESTORE_STEP_LOGINS | RESTORE_STEP_DESKTOP)

typedef struct DecideCase {
        const char *why;
        RestoreIdentity now;
        RestoreHandover h;
        RestoreVerdict verdict;
        unsigned steps;
        const char *machine_id; /* the plan's; NULL: "" */
} DecideCase;

#define ID "0123456789abcdef0123456789abcdef"
#define G2(machine_id) { (char *)"g2", NULL, -1, (char *)"t2", (char *)D2, (char *)(machine_id) }
#define OURS(generation) { generation, "t1", D1, .machine_id_ours = true }

static const DecideCase decide_cases[] = {
        { "new generation, everything handed over",
          { "g1", "t1", D1 }, { (char *)"g2", (char *)"10.0.0.7::10.0.0.1:24::eth0:off", 1700000000000, (char *)"t2", (char *)D2 },
          RESTORE_REDO, ALWAYS | RESTORE_STEP_NETWORK | RESTORE_STEP_CLOCK },
        { "no network: the address is kept (the host routes the clone there)",
          { "g1", "t1", D1 }, { (char *)"g2", NULL, 1700000000000, (char *)"t2", (char *)D2 },
          RESTORE_REDO, ALWAYS | RESTORE_STEP_CLOCK },
        { "no time: the clock is left alone",
          { "g1", "t1", D1 }, { (char *)"g2", (char *)"10.0.0.7", -1, (char *)"t2", (char *)D2 },
          RESTORE_REDO, ALWAYS | RESTORE_STEP_NETWORK },
        { "time 0 is a time (the epoch), not absent: refused, as before 2020",
          { "g1", "t1", D1 }, { (char *)"g2", NULL, 0, (char *)"t2", (char *)D2 }, RESTORE_TIME_INVALID, 0 },
        { "seconds for milliseconds: 1970-01-21, refused",
          { "g1", "t1", D1 }, { (char *)"g2", NULL, 1767225600, (char *)"t2", (char *)D2 }, RESTORE_TIME_INVALID, 0 },
        { "2020-01-01 is stepped to",
          { "g1", "t1", D1 }, { (char *)"g2", NULL, RESTORE_TIME_MS_MIN, (char *)"t2", (char *)D2 },
          RESTORE_REDO, ALWAYS | RESTORE_STEP_CLOCK },
        { "a millisecond before it is not",
          { "g1", "t1", D1 }, { (char *)"g2", NULL, RESTORE_TIME_MS_MIN - 1, (char *)"t2", (char *)D2 },
          RESTORE_TIME_INVALID, 0 },
        { "no token before (none was configured): any new one is new",
          { "g1", NULL, D1 }, { (char *)"g2", NULL, -1, (char *)"t2", (char *)D2 }, RESTORE_REDO, ALWAYS },
        { "unchanged generation: not a restore, even with new secrets (a neighbour's poke)",
          { "g1", "t1", D1 }, { (char *)"g1", NULL, -1, (char *)"t2", (char *)D2 }, RESTORE_SAME, 0 },
        { "nothing known yet: the generation is adopted",
          { NULL, "t1", D1 }, { (char *)"g1", NULL, -1, (char *)"t1", (char *)D1 }, RESTORE_FIRST, 0 },
        { "the boot's first answer has a generation and another token: a clone's handover",
          { NULL, "t1", D1 }, { (char *)"g1", NULL, -1, (char *)"t2", (char *)D2 }, RESTORE_REDO, ALWAYS },
        { "the boot's first answer with a generation and no secrets (they came from elsewhere)",
          { NULL, "t1", D1 }, { (char *)"g1", NULL, -1, NULL, NULL }, RESTORE_FIRST, 0 },
        { "no token yet (MMDS never gave one): a handover's token is new",
          { NULL, NULL, D1 }, { (char *)"g1", NULL, -1, (char *)"t2", (char *)D2 }, RESTORE_REDO, ALWAYS },
        { "MMDS answered before without a generation: a generation now is a clone's",
          { NULL, "t1", D1, .answered = true }, { (char *)"g1", NULL, -1, (char *)"t2", (char *)D2 },
          RESTORE_REDO, ALWAYS },
        { "... and one that keeps the old token is refused, not adopted",
          { NULL, "t1", D1, .answered = true }, { (char *)"g1", NULL, -1, (char *)"t1", (char *)D2 },
          RESTORE_TOKEN_REUSED, 0 },
        { "a redo that failed after the clock: the same handover again, the clock not stepped back",
          { "g1", "t1", D1, .pending = "g2", .done = RESTORE_STEP_NETWORK | RESTORE_STEP_CLOCK },
          { (char *)"g2", (char *)"10.0.0.7", 1700000000000, (char *)"t2", (char *)D2 },
          RESTORE_REDO, ALWAYS | RESTORE_STEP_NETWORK },
        { "a redo that failed before the clock: stepped this time",
          { "g1", "t1", D1, .pending = "g2", .done = RESTORE_STEP_NETWORK },
          { (char *)"g2", NULL, 1700000000000, (char *)"t2", (char *)D2 }, RESTORE_REDO, ALWAYS | RESTORE_STEP_CLOCK },
        { "a newer handover while one is pending: its own time is stepped to",
          { "g1", "t1", D1, .pending = "g2", .done = RESTORE_STEP_CLOCK | RESTORE_STEP_SECRETS },
          { (char *)"g3", NULL, 1700000000000, (char *)"t3", (char *)D2 }, RESTORE_REDO, ALWAYS | RESTORE_STEP_CLOCK },
        { "no generation in the handover: cannot tell",
          { "g1", "t1", D1 }, { NULL, NULL, -1, (char *)"t2", (char *)D2 }, RESTORE_NO_GENERATION, 0 },
        { "no generation on either side", { NULL, NULL, NULL }, { NULL, NULL, -1, NULL, NULL }, RESTORE_NO_GENERATION, 0 },
        { "the old token again", { "g1", "t1", D1 }, { (char *)"g2", NULL, -1, (char *)"t1", (char *)D2 }, RESTORE_TOKEN_REUSED, 0 },
        { "no token", { "g1", "t1", D1 }, { (char *)"g2", NULL, -1, NULL, (char *)D2 }, RESTORE_TOKEN_MISSING, 0 },
        { "the old desktop secret again",
          { "g1", "t1", D1 }, { (char *)"g2", NULL, -1, (char *)"t2", (char *)D1 }, RESTORE_DESKTOP_REUSED, 0 },
        { "no desktop secret", { "g1", "t1", D1 }, { (char *)"g2", NULL, -1, (char *)"t2", NULL }, RESTORE_DESKTOP_MISSING, 0 },
        { "a desktop secret that cannot go into a URL",
          { "g1", "t1", D1 }, { (char *)"g2", NULL, -1, (char *)"t2", (char *)"short" }, RESTORE_DESKTOP_INVALID, 0 },
        { "a time up to 2200 is stepped to",
          { "g1", "t1", D1 }, { (char *)"g2", NULL, RESTORE_TIME_MS_MAX, (char *)"t2", (char *)D2 },
          RESTORE_REDO, ALWAYS | RESTORE_STEP_CLOCK },
        { "a later one is refused: the kernel sets no clock much past 2232 (every retry would fail)",
          { "g1", "t1", D1 }, { (char *)"g2", NULL, RESTORE_TIME_MS_MAX + 1, (char *)"t2", (char *)D2 },
          RESTORE_TIME_INVALID, 0 },
        { "... up to the largest integer JSON gives",
          { "g1", "t1", D1 }, { (char *)"g2", NULL, INT64_MAX, (char *)"t2", (char *)D2 }, RESTORE_TIME_INVALID, 0 },
        { "token checked before the desktop secret: the first reason is reported",
          { "g1", "t1", D1 }, { (char *)"g2", NULL, -1, (char *)"t1", (char *)D1 }, RESTORE_TOKEN_REUSED, 0 },
        { "a prefix of the old token is a different token",
          { "g1", "t1x", D1 }, { (char *)"g2", NULL, -1, (char *)"t1", (char *)D2 }, RESTORE_REDO, ALWAYS },

        /* machine_id: systemd.machine_id='s rules (common/machine-id.c),
         * judged here so that a malformed one is a refusal. */
        { "a machine id, the agent PID 1: installed first", OURS("g1"), G2(ID), RESTORE_REDO,
          ALWAYS | RESTORE_STEP_MACHINE_ID, ID },
        { "a UUID in upper case: the plan has machine-id(5)'s form", OURS("g1"),
          G2("FEDCBA98-7654-3210-FEDC-BA9876543210"), RESTORE_REDO, ALWAYS | RESTORE_STEP_MACHINE_ID,
          "fedcba9876543210fedcba9876543210" },
        { "no machine id: the clone keeps the snapshot's", OURS("g1"), G2(NULL), RESTORE_REDO, ALWAYS },
        { "all zero means no id: refused", OURS("g1"), G2("00000000000000000000000000000000"),
          RESTORE_MACHINE_ID_INVALID, 0 },
        { "\"firmware\" (SMBIOS) is not read: refused", OURS("g1"), G2("firmware"), RESTORE_MACHINE_ID_INVALID, 0 },
        { "31 digits", OURS("g1"), G2("0123456789abcdef0123456789abcde"), RESTORE_MACHINE_ID_INVALID, 0 },
        { "33 digits", OURS("g1"), G2(ID "0"), RESTORE_MACHINE_ID_INVALID, 0 },
        { "a trailing newline (the file's form) is not the id's", OURS("g1"), G2(ID "\n"),
          RESTORE_MACHINE_ID_INVALID, 0 },
        { "a dash out of the UUID's places", OURS("g1"), G2("01234567-89abcdef-0123-4567-89abcdef"),
          RESTORE_MACHINE_ID_INVALID, 0 },
        { "empty", OURS("g1"), G2(""), RESTORE_MACHINE_ID_INVALID, 0 },
        { "under systemd (not PID 1): refused, not half applied", { "g1", "t1", D1 }, G2(ID),
          RESTORE_MACHINE_ID_NOT_OURS, 0 },
        { "... a malformed one is named as such first", { "g1", "t1", D1 }, G2("xyz"), RESTORE_MACHINE_ID_INVALID, 0 },
        { "machine_id_file through another user's symlink: refused up front (following it would fail, -EPERM, "
          "at every retry)", { "g1", "t1", D1, .machine_id_ours = true, .machine_id_link_foreign = true }, G2(ID),
          RESTORE_MACHINE_ID_FOREIGN_LINK, 0 },
        { "... a malformed one is named as such first there too",
          { "g1", "t1", D1, .machine_id_ours = true, .machine_id_link_foreign = true }, G2("xyz"),
          RESTORE_MACHINE_ID_INVALID, 0 },
        { "... and no machine id in the handover: the link is not in the way",
          { "g1", "t1", D1, .machine_id_ours = true, .machine_id_link_foreign = true }, G2(NULL), RESTORE_REDO,
          ALWAYS },
        { "the secrets are judged before the machine id",
          OURS("g1"), { (char *)"g2", NULL, -1, (char *)"t1", (char *)D2, (char *)"xyz" }, RESTORE_TOKEN_REUSED, 0 },
        { "... and the time too",
          OURS("g1"), { (char *)"g2", NULL, 5, (char *)"t2", (char *)D2, (char *)"xyz" }, RESTORE_TIME_INVALID, 0 },
        { "an unchanged generation is not a restore, whatever its machine id", OURS("g1"),
          { (char *)"g1", NULL, -1, NULL, NULL, (char *)"xyz" }, RESTORE_SAME, 0 },
        { "the boot's first answer: adopted, its machine id not read (systemd.machine_id= is the boot's)",
          { NULL, "t1", D1, .machine_id_ours = true }, { (char *)"g1", NULL, -1, NULL, NULL, (char *)ID },
          RESTORE_FIRST, 0 },
        { "a redo that failed after the machine id: installed again (found in place, nothing written)",
          { "g1", "t1", D1, .pending = "g2", .done = RESTORE_STEP_MACHINE_ID, .machine_id_ours = true },
          { (char *)"g2", (char *)"10.0.0.7", -1, (char *)"t2", (char *)D2, (char *)ID },
          RESTORE_REDO, ALWAYS | RESTORE_STEP_NETWORK | RESTORE_STEP_MACHINE_ID, ID },
        { "a newer handover while one is pending: its own machine id",
          { "g1", "t1", D1, .pending = "g2", .done = RESTORE_STEP_MACHINE_ID, .machine_id_ours = true },
          { (char *)"g3", NULL, -1, (char *)"t3", (char *)D2, (char *)"FEDCBA9876543210FEDCBA9876543210" },
          RESTORE_REDO, ALWAYS | RESTORE_STEP_MACHINE_ID, "fedcba9876543210fedcba9876543210" },
};

static void test_decide(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(decide_cases); i++) {
                const DecideCase *c = &decide_cases[i];
                RestorePlan p = restore_plan_decide(&c->now, &c->h);

                print_message("%s\n", c->why);
                assert_int_equal(p.verdict, c->verdict);
                assert_int_equal(p.steps, c->steps);
                assert_string_equal(p.machine_id, c->machine_id ?: "");
        }
}

/* A verdict added without a row here fails. */
static void test_every_verdict_decided(void **state) {
        for (int v = 0; v < _RESTORE_VERDICT_MAX; v++) {
                bool found = false;

                for (size_t i = 0; !found && i < ELEMENTSOF(decide_cases); i++)
                        found = decide_cases[i].verdict == (RestoreVerdict)v;
                print_message("%s\n", restore_verdict_to_string(v));
                assert_true(found);
        }
}

static void test_strings(void **state) {
        for (int v = 0; v < _RESTORE_VERDICT_MAX; v++) {
                assert_non_null(restore_verdict_to_string(v));
                assert_int_equal(restore_verdict_is_refusal(v), v >= RESTORE_TOKEN_MISSING);
        }
        assert_null(restore_verdict_to_string(_RESTORE_VERDICT_MAX));
        assert_null(restore_verdict_to_string(_RESTORE_VERDICT_INVALID));
        assert_false(restore_verdict_is_refusal(_RESTORE_VERDICT_INVALID));
        assert_string_equal(restore_step_to_string(RESTORE_STEP_NETWORK), "network");
        assert_string_equal(restore_step_to_string(RESTORE_STEP_DESKTOP), "desktop");
        assert_string_equal(restore_step_to_string(RESTORE_STEP_MACHINE_ID), "machine id");
        assert_null(restore_step_to_string(RESTORE_STEP_NETWORK | RESTORE_STEP_CLOCK));
        assert_null(restore_step_to_string(0));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_parse_reason),
                cmocka_unit_test(test_decide),
                cmocka_unit_test(test_every_verdict_decided),
                cmocka_unit_test(test_strings),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
