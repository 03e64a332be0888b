/* Unit tests for agent/login/cli-pins.c: the shipped clis.json parses and
 * pins each shipped provider, each malformed key is an error naming it,
 * and the version of a package.json. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "agent/login/cli-pins.h"
#include "agent/login/provider-def.h"
#include "fileio.h"
#include "macro.h"

static void test_shipped_file(void **state) {
        _cleanup_(freep) char *text = NULL, *providers = NULL, *json = NULL;
        _cleanup_(cli_pins_freep) CliPins *p = NULL;
        ProviderSet *s = NULL;
        char err[256] = "";
        size_t n, m;

        assert_int_equal(read_full_file(SOURCE_ROOT "/packaging/clis.json", 1 << 20, &text, &n), 0);
        assert_int_equal(cli_pins_parse(text, n, &p, err, sizeof err), 0);
        assert_string_equal(p->node_suite, "trixie");
        assert_string_equal(p->node_package, "nodejs");
        assert_int_equal(p->n, 3);
        /* One pin per shipped provider, whose argv[0] is the pin's command. */
        assert_int_equal(read_full_file(SOURCE_ROOT "/packaging/providers.json", 1 << 20, &providers, &m), 0);
        assert_int_equal(provider_set_parse(providers, m, &s, err, sizeof err), 0);
        assert_int_equal(s->n, p->n);
        for (size_t i = 0; i < p->n; i++) {
                const ProviderDef *d = provider_set_find(s, p->pins[i].provider);
                assert_non_null(d);
                assert_string_equal(d->id, p->pins[i].provider);
                assert_string_equal(d->argv[0], p->pins[i].command);
        }
        /* Only Gemini CLI runs on Node; the other two are native programs. */
        assert_string_equal(p->pins[2].provider, "gemini_cli");
        assert_true(p->pins[2].needs_node);
        assert_false(p->pins[0].needs_node || p->pins[1].needs_node);
        json = cli_pin_package_json(&p->pins[0]);
        assert_string_equal(json, "node_modules/@anthropic-ai/claude-code/package.json");
        provider_set_free(s);
}

#define NODE "\"node\":{\"debian_suite\":\"trixie\",\"package\":\"nodejs\",\"version\":\"20.19.2+dfsg-1\"}"
#define PIN(extra) "{" NODE ",\"clis\":[{\"provider\":\"a\",\"package\":\"@s/a\",\"version\":\"1.0.0\"," \
                   "\"command\":\"a\",\"entry\":\"node_modules/@s/a/bin/a\"" extra "}]}"

static const struct {
        const char *text, *error;
} bad[] = {
        { "[]", "clis ?: the file must be an object" },
        { "{" NODE ",\"clis\":[],\"extra\":1}", "clis ?: unknown key \"extra\"" },
        { "{\"clis\":[]}", "clis node: \"node\" must be an object" },
        { "{\"node\":{\"debian_suite\":\"trixie\",\"package\":\"nodejs\"},\"clis\":[]}", "clis node: missing \"version\"" },
        { "{" NODE ",\"clis\":{}}", "clis ?: \"clis\" must be an array of at most 32 entries" },
        { "{" NODE ",\"clis\":[{\"package\":\"a\"}]}", "clis ?: missing \"provider\"" },
        { PIN(",\"colour\":1"), "clis a: unknown key \"colour\"" },
        { PIN(",\"needs_node\":1"), "clis a: \"needs_node\" must be a boolean" },
        { "{" NODE ",\"clis\":[{\"provider\":\"a\",\"package\":\"@S/a\",\"version\":\"1\",\"command\":\"a\",\"entry\":\"x\"}]}",
          "clis a: \"package\" must be an npm package name" },
        { "{" NODE ",\"clis\":[{\"provider\":\"a\",\"package\":\"@s/a/b\",\"version\":\"1\",\"command\":\"a\",\"entry\":\"x\"}]}",
          "clis a: \"package\" must be an npm package name" },
        { "{" NODE ",\"clis\":[{\"provider\":\"a\",\"package\":\"a\",\"version\":\"1 2\",\"command\":\"a\",\"entry\":\"x\"}]}",
          "clis a: \"version\" must be a string of letters, digits and \".+-\" (1..256)" },
        { "{" NODE ",\"clis\":[{\"provider\":\"a\",\"package\":\"a\",\"version\":\"1\",\"command\":\"a\",\"entry\":\"x/../../y\"}]}",
          "clis a: \"entry\" must be a path below the install prefix" },
        { "{" NODE ",\"clis\":[{\"provider\":\"a\",\"package\":\"a\",\"version\":\"1\",\"command\":\"a\",\"entry\":\"/bin/sh\"}]}",
          "clis a: \"entry\" must be a path below the install prefix" },
        { "{" NODE ",\"clis\":[{\"provider\":\"a\",\"package\":\"a\",\"version\":\"1\",\"command\":\"a/b\",\"entry\":\"x\"}]}",
          "clis a: \"command\" must be a string of letters, digits and \"-._\" (1..256)" },
        { "{" NODE ",\"clis\":[{\"provider\":\"a\",\"package\":\"a\",\"version\":\"1\",\"command\":\"a\",\"entry\":\"x\"},"
          "{\"provider\":\"a\",\"package\":\"b\",\"version\":\"1\",\"command\":\"b\",\"entry\":\"y\"}]}",
          "clis a: \"provider\" is pinned twice" },
        { "{\"node\":1,", "clis file: line 1: string or '}' expected near end of file" },
};

static void test_errors_name_the_key(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                CliPins *p = NULL;
                char err[256] = "";

                assert_int_equal(cli_pins_parse(bad[i].text, strlen(bad[i].text), &p, err, sizeof err), -EINVAL);
                assert_null(p);
                if (!streq(err, bad[i].error))
                        fail_msg("%s: got %s, expected %s", bad[i].text, err, bad[i].error);
        }
}

static void test_minimal(void **state) {
        _cleanup_(cli_pins_freep) CliPins *p = NULL;
        char err[256] = "";

        assert_int_equal(cli_pins_parse(PIN(""), strlen(PIN("")), &p, err, sizeof err), 0);
        assert_int_equal(p->n, 1);
        assert_false(p->pins[0].needs_node);
        assert_string_equal(p->node_version, "20.19.2+dfsg-1");
}

static void test_package_version(void **state) {
        static const char good[] = "{\"name\":\"@openai/codex\",\"version\":\"0.171.0\"}";
        static const char *const refused[] = {
                "{\"name\":\"x\"}", "{\"version\":171}", "{\"version\":\"\"}", "{\"version\":\"1 2\"}", "[]", "{",
        };
        char *v = NULL;

        assert_int_equal(cli_pins_package_version(good, strlen(good), &v), 0);
        assert_string_equal(v, "0.171.0");
        free(v);
        for (size_t i = 0; i < ELEMENTSOF(refused); i++)
                assert_int_equal(cli_pins_package_version(refused[i], strlen(refused[i]), &v), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_shipped_file),
                cmocka_unit_test(test_errors_name_the_key),
                cmocka_unit_test(test_minimal),
                cmocka_unit_test(test_package_version),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
