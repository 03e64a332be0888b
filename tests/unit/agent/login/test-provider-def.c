/* Unit tests for agent/provider-def.c: the shipped file parses, lookups by
 * id and alias, each malformed key is an error naming it, which
 * credential files count as complete, and which programs the CLIs cannot
 * reach (on symlinks of its own in /var/lib/vmba-tests and /tmp). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/login/provider-def.h"
#include "fileio.h"
#include "macro.h"

static void test_shipped_file(void **state) {
        _cleanup_(freep) char *text = NULL;
        ProviderSet *s = NULL;
        const ProviderDef *p;
        char err[256] = "";
        size_t n;

        assert_int_equal(read_full_file(SOURCE_ROOT "/packaging/providers.json", 1 << 20, &text, &n), 0);
        assert_int_equal(provider_set_parse(text, n, &s, err, sizeof err), 0);
        assert_int_equal(s->n, 3);

        p = provider_set_find(s, "codex_cli");
        assert_non_null(p);
        assert_string_equal(p->id, "codex");
        assert_ptr_equal(provider_set_find(s, "codex"), p);
        assert_string_equal(p->credential_file, ".codex/auth.json");
        assert_int_equal(p->callback_port, 1455);
        assert_string_equal(p->callback_path, "/auth/callback");
        assert_string_equal(p->credential_keys[0], "tokens");
        assert_true(provider_url_matches(p, "https://auth.openai.com/oauth/authorize?client_id=x"));
        assert_false(provider_url_matches(p, "https://auth.openai.com.evil/oauth/authorize?"));

        /* `claude auth login --claudeai`: nothing to answer; the URL it
         * prints is the paste-a-code link, which is not the login's: the
         * real one comes through $BROWSER. */
        p = provider_set_find(s, "claude_code");
        assert_non_null(p);
        assert_string_equal(p->argv[1], "auth");
        assert_int_equal(p->n_prompts, 0);
        assert_string_equal(p->credential_file, ".claude/.credentials.json");
        assert_string_equal(p->credential_keys[0], "claudeAiOauth");
        assert_true(provider_url_matches(p, "https://claude.com/cai/oauth/authorize?code=true&client_id=9d"));
        assert_false(provider_url_matches(p, "https://claude.ai/oauth/authorize?z-0123456789"));

        /* Gemini CLI 0.61: "Sign in with Google", then the consent screen,
         * answered again each time it draws them again: it draws its first
         * screen before it reads keys, and a key sent then is lost. */
        p = provider_set_find(s, "gemini_cli");
        assert_non_null(p);
        assert_true(p->pty);
        assert_int_equal(p->n_prompts, 2);
        assert_string_equal(p->prompts[0].match, "Sign in with Google");
        assert_string_equal(p->prompts[1].match, "Do you want to continue?");
        assert_true(p->prompts[0].repeat && p->prompts[1].repeat);
        assert_string_equal(p->credential_file, ".gemini/oauth_creds.json");
        assert_string_equal(p->credential_keys[0], "refresh_token");
        /* It goes on running after a failed token exchange: its screen says so. */
        assert_string_equal(p->failures[0], "Failed to sign in. Message:");
        assert_null(p->failures[1]);

        assert_null(provider_set_find(s, "nope"));
        assert_null(provider_set_find(s, ""));
        provider_set_free(s);
}

/* Prefixes that end the host: with a path, a query, or a port to come. */
static void test_url_patterns_accepted(void **state) {
        static const char *const ok[] = {
                "https://claude.com/cai/oauth/authorize?", "https://auth.openai.com/oauth/authorize?",
                "http://127.0.0.1:", "http://127.0.0.1:9/held/", "https://a.example?", "http://[::1]:",
                "https://a.example#",
        };

        for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
                char t[512], err[256] = "";
                ProviderSet *s = NULL;

                snprintf(t, sizeof t, "{\"providers\":[{\"id\":\"x\",\"argv\":[\"x\"],\"url_patterns\":[\"%s\"],"
                         "\"credential_file\":\"c.json\"}]}", ok[i]);
                assert_int_equal(provider_set_parse(t, strlen(t), &s, err, sizeof err), 0);
                provider_set_free(s);
        }
}

/* A directory D outside /tmp (its bin/ the CLIs' PATH here) with links
 * that lead through T, one below /tmp. */
typedef struct Dirs {
        char d[sizeof "/var/lib/vmba-tests/program-XXXXXX"], t[sizeof "/tmp/vmba-program-XXXXXX"];
} Dirs;

static const struct { const char *at, *to; } program_links[] = {
        { "T/env", "/usr/bin/env" }, { "D/bin/vmba-ok", "/usr/bin/env" }, { "D/bin/vmba-cli", "T/env" },
        { "D/bin/vmba-dangling", "T/vmba-no-such-program" },
};

/* "D/x" and "T/x" as the paths they stand for; others as they are. */
static void dirs_name(const Dirs *ds, const char *in, char *buf, size_t size) {
        const char *base = startswith(in, "D/") ? ds->d : startswith(in, "T/") ? ds->t : NULL;

        snprintf(buf, size, "%s%s", strempty(base), in + (base ? 1 : 0));
}

static void dirs_make(Dirs *ds) {
        char a[PATH_MAX], b[PATH_MAX];

        memcpy(ds->d, "/var/lib/vmba-tests/program-XXXXXX", sizeof ds->d);
        memcpy(ds->t, "/tmp/vmba-program-XXXXXX", sizeof ds->t);
        assert_int_equal(mkdir("/var/lib/vmba-tests", 0755) < 0 && errno != EEXIST, 0);
        assert_non_null(mkdtemp(ds->d));
        assert_non_null(mkdtemp(ds->t));
        dirs_name(ds, "D/bin", a, sizeof a);
        assert_int_equal(mkdir(a, 0755), 0);
        for (size_t i = 0; i < ELEMENTSOF(program_links); i++) {
                dirs_name(ds, program_links[i].at, a, sizeof a);
                dirs_name(ds, program_links[i].to, b, sizeof b);
                assert_int_equal(symlink(b, a), 0);
        }
}

static void dirs_remove(const Dirs *ds) {
        char a[PATH_MAX];

        for (size_t i = 0; i < ELEMENTSOF(program_links); i++) {
                dirs_name(ds, program_links[i].at, a, sizeof a);
                assert_int_equal(unlink(a), 0);
        }
        dirs_name(ds, "D/bin", a, sizeof a);
        assert_int_equal(rmdir(a), 0);
        assert_int_equal(rmdir(ds->d), 0);
        assert_int_equal(rmdir(ds->t), 0);
}

/* Which program a CLI with a /tmp, /var/tmp and /dev/shm of its own
 * cannot reach: an absolute one below them, by name or through its
 * symlinks; a bare name where the CLIs' PATH finds it now, and none when
 * it finds none (installed later, a login finds it then); a relative
 * path is refused. */
static void test_program_hidden(void **state) {
        static const struct { const char *argv0a, *argv0b, *hidden, *program, *where; } cases[] = {
                { "/usr/bin/codex", "claude", NULL, NULL, NULL },
                { "/usr/bin/codex", "/tmp/vmba-bin/claude", "b", "/tmp/vmba-bin/claude", "/tmp/vmba-bin/claude" },
                { "/dev/shm/codex", "/var/tmp/claude", "a", "/dev/shm/codex", "/dev/shm/codex" },
                { "codex", "/tmpx/claude", NULL, NULL, NULL },
                { "/var/tmpfs/codex", "/usr/../tmp/claude", "b", "/usr/../tmp/claude", "/tmp/claude" },
                /* /usr/bin/env, as realpath() says, but through T. */
                { "vmba-ok", "vmba-cli", "b", "D/bin/vmba-cli", "T/env" },
                { "D/bin/vmba-cli", "vmba-ok", "a", "D/bin/vmba-cli", "T/env" },
                { "D/bin/vmba-ok", "vmba-missing", NULL, NULL, NULL },
                /* Not there yet for the agent either: a login says so. */
                { "vmba-dangling", "D/bin/vmba-dangling", NULL, NULL, NULL },
        };
        char path[PATH_MAX];
        Dirs ds;

        (void)state;
        dirs_make(&ds);
        dirs_name(&ds, "D/bin", path, sizeof path);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char t[2 * PATH_MAX + 512], a[PATH_MAX], b[PATH_MAX], err[256] = "";
                ProviderSet *s = NULL;
                ProgramHidden h;
                const ProviderDef *p;

                dirs_name(&ds, cases[i].argv0a, a, sizeof a);
                dirs_name(&ds, cases[i].argv0b, b, sizeof b);
                snprintf(t, sizeof t, "{\"providers\":["
                         "{\"id\":\"a\",\"argv\":[\"%s\"],\"url_patterns\":[\"http://a.example/\"],"
                         "\"credential_file\":\"c.json\"},"
                         "{\"id\":\"b\",\"argv\":[\"%s\",\"login\"],\"url_patterns\":[\"http://b.example/\"],"
                         "\"credential_file\":\"c.json\"}]}", a, b);
                assert_int_equal(provider_set_parse(t, strlen(t), &s, err, sizeof err), 0);
                p = provider_set_program_hidden(s, path, 0, 0, &h);
                if (!streq_ptr(p ? p->id : NULL, cases[i].hidden))
                        fail_msg("%s, %s: %s", a, b, p ? p->id : "none hidden");
                if (p) {
                        dirs_name(&ds, cases[i].program, a, sizeof a);
                        dirs_name(&ds, cases[i].where, b, sizeof b);
                        if (!streq(h.program, a) || !streq(h.where, b))
                                fail_msg("%s, %s: %s, %s", cases[i].argv0a, cases[i].argv0b, h.program, h.where);
                }
                provider_set_free(s);
        }
        assert_null(provider_set_program_hidden(NULL, path, 0, 0, &(ProgramHidden){}));
        dirs_remove(&ds);
}

/* Scripts in D/bin, each "#!" line's D and T named as dirs_name() does. */
static const struct { const char *name, *line; } scripts[] = {
        { "s-tmp", "#!T/python3\n" },
        { "s-link", "#! D/bin/vmba-cli -u\n" },
        { "s-env", "#!/usr/bin/env vmba-cli\n" },
        { "s-env-split", "#!/usr/bin/env -S A=1 vmba-cli --x\n" },
        { "s-env-abs", "#!/usr/bin/env T/node\n" },
        { "s-env-ok", "#!/usr/bin/env vmba-ok\n" },
        { "s-env-missing", "#!/usr/bin/env vmba-missing\n" },
        { "s-env-relative", "#!/usr/bin/env ../../../../tmp/node\n" },
        { "s-ok", "#!/bin/sh\n" },
        { "s-relative", "#!../../../../tmp/python3\n" },
        { "s-relative-home", "#!bin/python3 -u\n" },
        { "s-relative-dot", "#!./a/../node\n" },
        { "s-relative-out", "#!a/../../node\n" },
        { "s-env-relative-home", "#!/usr/bin/env ./node\n" },
        { "s-env-env", "#!/usr/bin/env env\n" },
        { "s-nested", "#!D/bin/s-tmp\n" },
        { "s-nested-env", "#!/usr/bin/env s-tmp\n" },
        { "s-loop", "#!D/bin/s-loop\n" },
        { "s-not-script", "echo #!T/python3\n" },
        { "s-no-name", "#!  \n" },
};

static void scripts_write(const Dirs *ds, bool make) {
        for (size_t i = 0; i < ELEMENTSOF(scripts); i++) {
                char at[PATH_MAX], line[PATH_MAX];
                const char *l = scripts[i].line;
                size_t n = 0;
                FILE *f;

                snprintf(line, sizeof line, "D/bin/%s", scripts[i].name);
                dirs_name(ds, line, at, sizeof at);
                if (!make) {
                        assert_int_equal(unlink(at), 0);
                        continue;
                }
                /* D/ and T/ after "#!" or a blank stand for the directories. */
                for (; *l && n < sizeof line - 64; l++) {
                        bool start = l > scripts[i].line && strchr("! ", l[-1]);
                        if (start && (startswith(l, "D/") || startswith(l, "T/")))
                                n += (size_t)snprintf(line + n, sizeof line - n, "%s",
                                                      *l == 'D' ? ds->d : ds->t);
                        else
                                line[n++] = *l;
                }
                line[n] = '\0';
                f = fopen(at, "we");
                assert_non_null(f);
                assert_int_equal(fputs(line, f) >= 0 && fclose(f) == 0, 1);
                assert_int_equal(chmod(at, 0755), 0);
        }
}

static const struct { const char *program, *interpreter, *where; } interpreter_cases[] = {
        { "D/bin/s-tmp", "T/python3", "T/python3" },
        { "D/bin/s-link", "D/bin/vmba-cli", "T/env" },
        { "D/bin/s-env", "D/bin/vmba-cli", "T/env" },
        { "D/bin/s-env-split", "D/bin/vmba-cli", "T/env" },
        { "D/bin/s-env-abs", "T/node", "T/node" },
        { "D/bin/s-nested", "T/python3", "T/python3" },
        { "D/bin/s-nested-env", "T/python3", "T/python3" },
        /* Found by the CLIs' PATH too. */
        { "s-tmp", "T/python3", "T/python3" },
        { "D/bin/s-env-ok", NULL, NULL },
        { "D/bin/s-env-missing", NULL, NULL },
        /* Looked up in each CLI's new, empty HOME, its cwd. */
        { "D/bin/s-relative-home", "bin/python3", "bin/python3" },
        { "D/bin/s-relative-dot", "./a/../node", "./a/../node" },
        { "D/bin/s-env-relative-home", "./node", "./node" },
        /* Out of it: where it lands depends on login_home. */
        { "D/bin/s-relative", NULL, NULL },
        { "D/bin/s-env-relative", NULL, NULL },
        { "D/bin/s-relative-out", NULL, NULL },
        { "D/bin/s-ok", NULL, NULL },
        { "D/bin/s-loop", NULL, NULL },
        { "D/bin/s-not-script", NULL, NULL },
        { "D/bin/s-no-name", NULL, NULL },
        { "D/bin/vmba-ok", NULL, NULL },
};

/* A program that is a script is judged by what runs it: its "#!"
 * interpreter, by name or through symlinks, env's program where the CLIs'
 * PATH finds it, and the interpreter's own interpreter; a relative name
 * that stays in the CLI's cwd (its new, empty HOME, where the kernel's and
 * env's exec look it up) is refused; one that climbs out of it, a name
 * PATH does not find, or no script at all is not judged. */
static void test_interpreter_hidden(void **state) {
        char path[PATH_MAX];
        Dirs ds;

        (void)state;
        dirs_make(&ds);
        scripts_write(&ds, true);
        dirs_name(&ds, "D/bin", path, sizeof path);
        for (size_t i = 0; i < ELEMENTSOF(interpreter_cases); i++) {
                char t[PATH_MAX + 256], a[PATH_MAX], b[PATH_MAX], c[PATH_MAX], err[256] = "";
                ProviderSet *s = NULL;
                ProgramHidden h;
                const ProviderDef *p;

                dirs_name(&ds, interpreter_cases[i].program, a, sizeof a);
                snprintf(t, sizeof t, "{\"providers\":[{\"id\":\"a\",\"argv\":[\"%s\"],"
                         "\"url_patterns\":[\"http://a.example/\"],\"credential_file\":\"c.json\"}]}", a);
                assert_int_equal(provider_set_parse(t, strlen(t), &s, err, sizeof err), 0);
                p = provider_set_program_hidden(s, path, 0, 0, &h);
                if (!p != !interpreter_cases[i].interpreter)
                        fail_msg("%s: %s", interpreter_cases[i].program, p ? h.interpreter : "none hidden");
                if (p) {
                        const char *rest = startswith(h.program, path);
                        bool program_ok = strchr(a, '/') ? streq(h.program, a) :
                                                           rest && rest[0] == '/' && streq(rest + 1, a);

                        dirs_name(&ds, interpreter_cases[i].interpreter, b, sizeof b);
                        dirs_name(&ds, interpreter_cases[i].where, c, sizeof c);
                        if (!program_ok || !streq(h.interpreter, b) || !streq(h.where, c) ||
                            (h.block == PROGRAM_BLOCK_RELATIVE) != (b[0] != '/'))
                                fail_msg("%s: %s, %s, %s", interpreter_cases[i].program, h.program, h.interpreter, h.where);
                }
                provider_set_free(s);
        }
        scripts_write(&ds, false);
        dirs_remove(&ds);
}

/* env's program on a PATH whose first entry has it only through a link
 * into T (each CLI's /tmp, empty: ENOENT there) is the next entry's, as
 * env's execvp() goes on past ENOENT; with no next entry, the link's is
 * refused. */
static void test_env_program_past_private_tmp(void **state) {
        char a[PATH_MAX], link[PATH_MAX], to[PATH_MAX], bin[PATH_MAX], path[PATH_MAX + 16];
        char t[PATH_MAX + 256], err[256] = "";
        ProviderSet *s = NULL;
        ProgramHidden h;
        Dirs ds;

        (void)state;
        dirs_make(&ds);
        scripts_write(&ds, true);
        dirs_name(&ds, "D/bin/env", link, sizeof link);
        dirs_name(&ds, "T/env", to, sizeof to);
        assert_int_equal(symlink(to, link), 0);
        dirs_name(&ds, "D/bin/s-env-env", a, sizeof a);
        dirs_name(&ds, "D/bin", bin, sizeof bin);
        snprintf(t, sizeof t, "{\"providers\":[{\"id\":\"a\",\"argv\":[\"%s\"],"
                 "\"url_patterns\":[\"http://a.example/\"],\"credential_file\":\"c.json\"}]}", a);
        assert_int_equal(provider_set_parse(t, strlen(t), &s, err, sizeof err), 0);
        snprintf(path, sizeof path, "%s:/usr/bin", bin);
        assert_null(provider_set_program_hidden(s, path, 0, 0, &h));
        assert_ptr_equal(provider_set_program_hidden(s, bin, 0, 0, &h), &s->defs[0]);
        assert_int_equal(h.block, PROGRAM_BLOCK_PRIVATE_TMP);
        assert_string_equal(h.interpreter, link);
        assert_string_equal(h.where, to);
        provider_set_free(s);
        assert_int_equal(unlink(link), 0);
        scripts_write(&ds, false);
        dirs_remove(&ds);
}

/* Files in P (a directory outside /tmp, 0755) for a user that is
 * neither their owner nor, but where said, in their group; "P/" after
 * "#!" or a blank stands for the directory.  No text: a symlink to to. */
static const struct { const char *name; mode_t mode; const char *text, *to; } perm_files[] = {
        { "bin", 0755 | S_IFDIR, NULL, NULL },
        { "bin2", 0755 | S_IFDIR, NULL, NULL },
        { "closed", 0700 | S_IFDIR, NULL, NULL },
        { "closed/tool", 0755, "#!/bin/sh\n", NULL },
        { "bin/x-ok", 0755, "\177ELF", NULL },
        { "bin/x-owner", 0700, "\177ELF", NULL },
        { "bin/x-group", 0705, "\177ELF", NULL },
        { "bin/x-two", 0700, "\177ELF", NULL },
        { "bin2/x-two", 0755, "\177ELF", NULL },
        { "bin/s-unreadable", 0711, "#!/bin/sh\n", NULL },
        { "bin/s-interp-owner", 0755, "#!P/bin/x-owner\n", NULL },
        { "bin/s-interp-closed", 0755, "#! P/closed/tool -e\n", NULL },
        { "bin/s-interp-unreadable", 0755, "#!P/bin/s-unreadable\n", NULL },
        { "bin/s-env-owner", 0755, "#!/usr/bin/env x-owner\n", NULL },
        { "bin/s-env-second", 0755, "#!/usr/bin/env -S x-two --x\n", NULL },
        { "bin/s-env-closed", 0755, "#!/usr/bin/env P/closed/tool\n", NULL },
        { "bin/s-relative", 0755, "#!bin/node\n", NULL },
        { "bin/link-closed", 0, NULL, "P/closed/tool" },
        { "closed/link-ok", 0, NULL, "P/bin/x-ok" },
        { "bin/link-via-closed", 0, NULL, "P/closed/link-ok" },
        { "bin/d-dir", 0755 | S_IFDIR, NULL, NULL },
        { "bin/s-interp-dir", 0755, "#!P/bin/d-dir\n", NULL },
        { "bin/s-env-dir", 0755, "#!/usr/bin/env P/bin/d-dir\n", NULL },
        { "bin/link-dir", 0, NULL, "P/bin/d-dir" },
        { "bin/s-env-dir-only", 0755, "#!/usr/bin/env d-dir\n", NULL },
        { "bin/d-dir-first", 0755 | S_IFDIR, NULL, NULL },
        { "bin2/d-dir-first", 0755, "\177ELF", NULL },
        { "bin/s-env-dir-first", 0755, "#!/usr/bin/env d-dir-first\n", NULL },
};

static void perm_name(const char *p, const char *in, char *buf, size_t size) {
        const char *rest = startswith(in, "P/");

        snprintf(buf, size, "%s%s%s", rest ? p : "", rest ? "/" : "", rest ?: in);
}

static void perm_files_make(const char *p, bool make) {
        for (size_t k = 0; k < ELEMENTSOF(perm_files); k++) {
                size_t i = make ? k : ELEMENTSOF(perm_files) - 1 - k;
                char at[PATH_MAX], text[PATH_MAX], *t = text;
                const char *l = perm_files[i].text;
                FILE *f;

                snprintf(at, sizeof at, "%s/%s", p, perm_files[i].name);
                if (!make) {
                        assert_int_equal(S_ISDIR(perm_files[i].mode) ? rmdir(at) : unlink(at), 0);
                        continue;
                }
                if (S_ISDIR(perm_files[i].mode)) {
                        assert_int_equal(mkdir(at, 0700) == 0 && chmod(at, perm_files[i].mode & 07777) == 0, 1);
                        continue;
                }
                if (!l) {
                        perm_name(p, perm_files[i].to, text, sizeof text);
                        assert_int_equal(symlink(text, at), 0);
                        continue;
                }
                for (; *l && t < text + sizeof text - 64; l++)
                        if (l > perm_files[i].text && strchr("! ", l[-1]) && startswith(l, "P/"))
                                t += snprintf(t, (size_t)(text + sizeof text - t), "%s", p);
                        else
                                *t++ = *l;
                *t = '\0';
                f = fopen(at, "we");
                assert_non_null(f);
                assert_int_equal(fputs(text, f) >= 0 && fclose(f) == 0, 1);
                assert_int_equal(chmod(at, perm_files[i].mode), 0);
        }
}

/* Whether provider "a" with program a is blocked for uid and gid: 1 and
 * *h, or 0. */
static int perm_judge(const char *a, const char *path, uid_t uid, gid_t gid, ProgramHidden *h) {
        char t[PATH_MAX + 256], err[256] = "";
        ProviderSet *s = NULL;
        const ProviderDef *q;

        snprintf(t, sizeof t, "{\"providers\":[{\"id\":\"a\",\"argv\":[\"%s\"],"
                 "\"url_patterns\":[\"http://a.example/\"],\"credential_file\":\"c.json\"}]}", a);
        assert_int_equal(provider_set_parse(t, strlen(t), &s, err, sizeof err), 0);
        q = provider_set_program_hidden(s, path, uid, gid, h);
        provider_set_free(s);
        return q ? 1 : 0;
}

/* Whether block is for the CLIs' user alone (the mode bits); _PROGRAM_BLOCK_MAX too. */
static bool user_judged(ProgramBlock block) {
        return block != PROGRAM_BLOCK_RELATIVE && block != PROGRAM_BLOCK_NOT_FILE;
}

static const struct {
        const char *program;
        bool group;
        ProgramBlock block; /* _PROGRAM_BLOCK_MAX: runs */
        const char *interpreter, *where;
} permission_cases[] = {
        { "P/bin/x-ok", false, _PROGRAM_BLOCK_MAX, NULL, NULL },
        { "P/bin/x-owner", false, PROGRAM_BLOCK_EXECUTE, "", "P/bin/x-owner" },
        /* Others may; the group's bits are the group's own. */
        { "P/bin/x-group", false, _PROGRAM_BLOCK_MAX, NULL, NULL },
        { "P/bin/x-group", true, PROGRAM_BLOCK_EXECUTE, "", "P/bin/x-group" },
        { "P/closed/tool", false, PROGRAM_BLOCK_SEARCH, "", "P/closed" },
        /* realpath() leads through closed/. */
        { "P/bin/link-closed", false, PROGRAM_BLOCK_SEARCH, "", "P/closed" },
        /* Only the link on the way is below closed/. */
        { "P/bin/link-via-closed", false, PROGRAM_BLOCK_SEARCH, "", "P/closed" },
        /* Executable, but sh cannot open it. */
        { "P/bin/s-unreadable", false, PROGRAM_BLOCK_READ, "", "P/bin/s-unreadable" },
        { "P/bin/s-interp-owner", false, PROGRAM_BLOCK_EXECUTE, "P/bin/x-owner", "P/bin/x-owner" },
        { "P/bin/s-interp-closed", false, PROGRAM_BLOCK_SEARCH, "P/closed/tool", "P/closed" },
        { "P/bin/s-interp-unreadable", false, PROGRAM_BLOCK_READ, "P/bin/s-unreadable",
          "P/bin/s-unreadable" },
        /* A bare name, found on PATH (P/bin:P/bin2). */
        { "s-env-owner", false, PROGRAM_BLOCK_EXECUTE, "P/bin/x-owner", "P/bin/x-owner" },
        { "P/bin/s-env-second", false, _PROGRAM_BLOCK_MAX, NULL, NULL },
        { "P/bin/s-env-closed", false, PROGRAM_BLOCK_SEARCH, "P/closed/tool", "P/closed" },
        { "P/bin/s-relative", false, PROGRAM_BLOCK_RELATIVE, "bin/node", "bin/node" },
        /* A directory: exec refuses it (EACCES) to any user. */
        { "P/bin/d-dir", false, PROGRAM_BLOCK_NOT_FILE, "", "P/bin/d-dir" },
        { "P/bin/link-dir", false, PROGRAM_BLOCK_NOT_FILE, "", "P/bin/link-dir" },
        { "P/bin/s-interp-dir", false, PROGRAM_BLOCK_NOT_FILE, "P/bin/d-dir", "P/bin/d-dir" },
        { "P/bin/s-env-dir", false, PROGRAM_BLOCK_NOT_FILE, "P/bin/d-dir", "P/bin/d-dir" },
        /* env's execvp() passes it over, and fails with EACCES
         * when nothing after it runs. */
        { "P/bin/s-env-dir-only", false, PROGRAM_BLOCK_NOT_FILE, "P/bin/d-dir", "P/bin/d-dir" },
        { "P/bin/s-env-dir-first", false, _PROGRAM_BLOCK_MAX, NULL, NULL },
};

/* What a CLI's user may not run by the mode bits (and by a relative
 * "#!" name or a directory, judged with or without a user): the program, each
 * interpreter, and each script its interpreter opens, by the owner's,
 * group's or others' bits as the kernel picks them; a directory on the
 * way, also one a symlink leads through; env's program, past one the
 * user may not execute to the next on PATH, as execvp() goes on.  uid 0
 * (no user known) judges no permission. */
static void test_program_permissions(void **state) {
        char p[] = "/var/lib/vmba-tests/perm-XXXXXX", path[2 * PATH_MAX];
        uid_t other = getuid() == 65534 ? 65533 : 65534;

        (void)state;
        assert_int_equal(mkdir("/var/lib/vmba-tests", 0755) < 0 && errno != EEXIST, 0);
        assert_non_null(mkdtemp(p));
        assert_int_equal(chmod(p, 0755), 0);
        perm_files_make(p, true);
        snprintf(path, sizeof path, "%s/bin:%s/bin2", p, p);
        for (size_t i = 0; i < ELEMENTSOF(permission_cases); i++) {
                char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX];
                gid_t gid = permission_cases[i].group ? getegid() : (gid_t)-2;
                ProgramHidden h;
                int r;

                perm_name(p, permission_cases[i].program, a, sizeof a);
                r = perm_judge(a, path, other, gid, &h);
                if (!r != (permission_cases[i].block == _PROGRAM_BLOCK_MAX))
                        fail_msg("%s: %s", permission_cases[i].program, r ? h.where : "runs");
                perm_name(p, permission_cases[i].interpreter ?: "", b, sizeof b);
                perm_name(p, permission_cases[i].where ?: "", c, sizeof c);
                if (r && (h.block != permission_cases[i].block || !streq(h.interpreter, b) || !streq(h.where, c) ||
                          (user_judged(h.block) && (h.uid != other || h.gid != gid))))
                        fail_msg("%s: %d %s, %s", permission_cases[i].program, h.block, h.interpreter, h.where);
                /* No user: only what refuses every user is. */
                r = perm_judge(a, path, 0, 0, &h);
                if (!r != user_judged(permission_cases[i].block) || (r && h.block != permission_cases[i].block))
                        fail_msg("%s, no user: %s", permission_cases[i].program, r ? h.where : "runs");
        }
        perm_files_make(p, false);
        assert_int_equal(rmdir(p), 0);
}

/* The refusal names the provider, the program, what runs it and where
 * that leads, or what keeps the CLIs' user out: whose bits, and which. */
static void test_program_hidden_describe(void **state) {
        static const struct { ProgramHidden h; const char *text; } cases[] = {
                { { "/tmp/x", "", "/tmp/x" }, "provider a's program /tmp/x is where each provider CLI has an "
                  "empty /tmp, /var/tmp, /dev/shm or /run/lock of its own" },
                { { "/usr/bin/x", "", "/tmp/x" }, "provider a's program /usr/bin/x, which leads to /tmp/x, where "
                  "each provider CLI has an empty /tmp, /var/tmp, /dev/shm or /run/lock of its own" },
                { { "/usr/bin/x", "/tmp/node", "/tmp/node" }, "provider a's program /usr/bin/x has its "
                  "interpreter (#!) /tmp/node where each provider CLI has an empty /tmp, /var/tmp, /dev/shm or "
                  "/run/lock of its own" },
                { { "/usr/bin/x", "/usr/bin/node", "/tmp/n" }, "provider a's program /usr/bin/x has its "
                  "interpreter (#!) /usr/bin/node, which leads to /tmp/n, where each provider CLI has an empty "
                  "/tmp, /var/tmp, /dev/shm or /run/lock of its own" },
                { { "/usr/bin/x", "bin/node", "bin/node", PROGRAM_BLOCK_RELATIVE }, "provider a's program "
                  "/usr/bin/x has its interpreter (#!) bin/node, a relative name, which each provider CLI's exec "
                  "looks up in its new, empty HOME" },
                { { "/opt/x", "", "/opt/x", PROGRAM_BLOCK_EXECUTE, 1001, 990, 0750, 0, 0 }, "provider a's program "
                  "/opt/x, which a provider CLI's user (uid 1001, gid 990) may not execute (mode 0750, owner 0:0)" },
                { { "/opt/x", "/opt/n/node", "/opt/n", PROGRAM_BLOCK_SEARCH, 1001, 990, 0700, 0, 7 }, "provider a's "
                  "program /opt/x has its interpreter (#!) /opt/n/node, below /opt/n, a directory a provider CLI's "
                  "user (uid 1001, gid 990) may not search (mode 0700, owner 0:7)" },
                { { "/opt/x", "", "/opt/x", PROGRAM_BLOCK_READ, 1001, 990, 04711, 0, 0 }, "provider a's program "
                  "/opt/x, a script, which a provider CLI's user (uid 1001, gid 990) may not read for its "
                  "interpreter (mode 4711, owner 0:0)" },
                { { "/opt/x", "/opt/node", "/opt/node", PROGRAM_BLOCK_NOT_FILE, 0, 0, S_IFDIR | 0755 }, "provider "
                  "a's program /opt/x has its interpreter (#!) /opt/node, which is a directory, not a file exec runs" },
                { { "/opt/x", "", "/opt/x", PROGRAM_BLOCK_NOT_FILE, 0, 0, S_IFIFO | 0755 }, "provider a's program "
                  "/opt/x, which is a FIFO, not a file exec runs" },
                { { "/mnt/x", "", "/mnt/x", PROGRAM_BLOCK_NOEXEC, 0, 0, S_IFREG | 0755 }, "provider a's program "
                  "/mnt/x, on a file system mounted noexec, where exec runs nothing" },
        };
        ProviderDef p = { .id = (char *)"a" };

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char buf[512];

                provider_program_hidden_describe(&p, &cases[i].h, buf, sizeof buf);
                assert_string_equal(buf, cases[i].text);
        }
}

static void test_minimal_defaults(void **state) {
        const char *t = "{\"providers\":[{\"id\":\"x\",\"argv\":[\"x-cli\",\"login\"],"
                        "\"url_patterns\":[\"http://127.0.0.1:9/authorize\"],"
                        "\"credential_file\":\".x/creds.json\",\"env\":{\"A_B\":\"1\"}}]}";
        ProviderSet *s = NULL;
        char err[256] = "";

        assert_int_equal(provider_set_parse(t, strlen(t), &s, err, sizeof err), 0);
        assert_false(s->defs[0].pty);
        assert_null(s->defs[0].aliases[0]);
        assert_string_equal(s->defs[0].env[0], "A_B=1");
        assert_null(s->defs[0].env[1]);
        assert_string_equal(s->defs[0].argv[1], "login");
        assert_null(s->defs[0].argv[2]);
        assert_string_equal(s->defs[0].callback_path, "/auth/callback");
        assert_int_equal(s->defs[0].callback_port, 0);
        assert_null(s->defs[0].credential_keys[0]);
        assert_null(s->defs[0].failures[0]);
        provider_set_free(s);
}

#define BASE "\"argv\":[\"a\"],\"url_patterns\":[\"https://a/\"],\"credential_file\":\"c.json\""

static const struct {
        const char *text, *error;
} bad[] = {
        { "[]", "provider ?: unknown top-level key" /* unused: arrays have no keys */ },
        { "{\"providers\":[]}", "provider ?: \"providers\" must be an array of 1..32 providers" },
        { "{\"provider\":[]}", "provider ?: unknown top-level key \"provider\"" },
        { "{\"providers\":[{" BASE "}]}", "provider ?: missing \"id\"" },
        { "{\"providers\":[{\"id\":\"A\"," BASE "}]}", "provider A: \"id\" must be [a-z0-9_-], at most 64 characters" },
        { "{\"providers\":[{\"id\":\"a\",\"url_patterns\":[\"https://a/\"],\"credential_file\":\"c\"}]}", "provider a: missing \"argv\"" },
        { "{\"providers\":[{\"id\":\"a\",\"argv\":[],\"url_patterns\":[\"https://a/\"],\"credential_file\":\"c\"}]}", "provider a: \"argv\" must not be empty" },
        { "{\"providers\":[{\"id\":\"a\",\"argv\":[\"bin/a\"],\"url_patterns\":[\"https://a/\"],\"credential_file\":\"c\"}]}", "provider a: \"argv\"[0] must be a program's name (found on bin_path) or an absolute path" },
        { "{\"providers\":[{\"id\":\"a\",\"argv\":[\"./a\"],\"url_patterns\":[\"https://a/\"],\"credential_file\":\"c\"}]}", "provider a: \"argv\"[0] must be a program's name (found on bin_path) or an absolute path" },
        { "{\"providers\":[{\"id\":\"a\",\"argv\":[\"a\"],\"url_patterns\":[\"ftp://a/\"],\"credential_file\":\"c\"}]}", "provider a: \"url_patterns\": \"ftp://a/\" is not an http(s) URL prefix that ends its host with /, ? or # (or : before a port)" },
        /* The host must be whole ("https://claude.com" also matches
         * https://claude.com.evil.example/), without userinfo. */
        { "{\"providers\":[{\"id\":\"a\",\"argv\":[\"a\"],\"url_patterns\":[\"https://claude.com\"],\"credential_file\":\"c\"}]}", "provider a: \"url_patterns\": \"https://claude.com\" is not an http(s) URL prefix that ends its host with /, ? or # (or : before a port)" },
        { "{\"providers\":[{\"id\":\"a\",\"argv\":[\"a\"],\"url_patterns\":[\"http://127.0.0.1:80@evil/\"],\"credential_file\":\"c\"}]}", "provider a: \"url_patterns\": \"http://127.0.0.1:80@evil/\" is not an http(s) URL prefix that ends its host with /, ? or # (or : before a port)" },
        { "{\"providers\":[{\"id\":\"a\",\"argv\":[\"a\"],\"url_patterns\":[\"https://u@claude.com/\"],\"credential_file\":\"c\"}]}", "provider a: \"url_patterns\": \"https://u@claude.com/\" is not an http(s) URL prefix that ends its host with /, ? or # (or : before a port)" },
        { "{\"providers\":[{\"id\":\"a\",\"argv\":[\"a\"],\"url_patterns\":[\"http://127.0.0.1:x\"],\"credential_file\":\"c\"}]}", "provider a: \"url_patterns\": \"http://127.0.0.1:x\" is not an http(s) URL prefix that ends its host with /, ? or # (or : before a port)" },
        { "{\"providers\":[{\"id\":\"a\",\"argv\":[\"a\"],\"url_patterns\":[\"https://\"],\"credential_file\":\"c\"}]}", "provider a: \"url_patterns\": \"https://\" is not an http(s) URL prefix that ends its host with /, ? or # (or : before a port)" },
        { "{\"providers\":[{\"id\":\"a\",\"argv\":[\"a\"],\"url_patterns\":[\"https:///x\"],\"credential_file\":\"c\"}]}", "provider a: \"url_patterns\": \"https:///x\" is not an http(s) URL prefix that ends its host with /, ? or # (or : before a port)" },
        { "{\"providers\":[{\"id\":\"a\",\"argv\":[\"a\"],\"url_patterns\":[\"https://a/\"],\"credential_file\":\"../etc/shadow\"}]}", "provider a: \"credential_file\" must be relative to HOME without \"..\"" },
        { "{\"providers\":[{\"id\":\"a\",\"argv\":[\"a\"],\"url_patterns\":[\"https://a/\"],\"credential_file\":\"/etc/shadow\"}]}", "provider a: \"credential_file\" must be relative to HOME without \"..\"" },
        { "{\"providers\":[{\"id\":\"a\",\"argv\":[\"a\"],\"url_patterns\":[\"https://a/\"],\"credential_file\":\"x/./y\"}]}", "provider a: \"credential_file\" must be relative to HOME without \"..\"" },
        { "{\"providers\":[{\"id\":\"a\"," BASE ",\"colour\":1}]}", "provider a: unknown key \"colour\"" },
        { "{\"providers\":[{\"id\":\"a\"," BASE ",\"pty\":\"yes\"}]}", "provider a: \"pty\" must be a boolean" },
        { "{\"providers\":[{\"id\":\"a\"," BASE ",\"callback_port\":70000}]}", "provider a: \"callback_port\" must be an integer 0..65535" },
        { "{\"providers\":[{\"id\":\"a\"," BASE ",\"callback_path\":\"x\"}]}", "provider a: \"callback_path\" must be an absolute path without query" },
        /* Gone: the runner's terminal answers every query a terminal would. */
        { "{\"providers\":[{\"id\":\"a\"," BASE ",\"terminal_replies\":[\"cursor_position\"]}]}", "provider a: unknown key \"terminal_replies\"" },
        { "{\"providers\":[{\"id\":\"a\"," BASE ",\"env\":{\"A=B\":\"1\"}}]}", "provider a: \"env\": \"A=B\" must be a variable name with a string value" },
        { "{\"providers\":[{\"id\":\"a\"," BASE ",\"prompts\":[{\"match\":\"x\"}]}]}", "provider a: \"prompts\" entries need \"match\" and \"send\"" },
        { "{\"providers\":[{\"id\":\"a\"," BASE ",\"prompts\":[{\"match\":\"x\",\"send\":\"\\r\",\"when\":1}]}]}", "provider a: \"prompts\": unknown key \"when\"" },
        { "{\"providers\":[{\"id\":\"a\"," BASE "},{\"id\":\"b\",\"aliases\":[\"a\"]," BASE "}]}", "provider b: \"aliases\": \"a\" is already used" },
        { "{\"providers\":[{\"id\":\"a\",\"aliases\":[\"b\"]," BASE "},{\"id\":\"b\"," BASE "}]}", "provider b: \"id\" is already used by another provider" },
        { "{\"providers\":[{\"id\":\"a\"," BASE ",\"failures\":[\"\"]}]}", "provider a: \"failures\" must be a non-empty string without NUL (max 4096 bytes)" },
        { "{\"providers\":[{\"id\":\"a\"," BASE ",\"failures\":[\" x\"]}]}", "provider a: \"failures\": \" x\" is not one row of text that starts with no blank" },
        { "{\"providers\":[{\"id\":\"a\"," BASE ",\"failures\":[\"a\\nb\"]}]}", "provider a: \"failures\": \"a?b\" is not one row of text that starts with no blank" },
        { "{\"providers\":[{\"id\":\"a\"," BASE ",\"failures\":\"x\"}]}", "provider a: \"failures\" must be an array of strings" },
        { "{\"providers\":[{\"id\":\"a\"," BASE ",\"credential_keys\":[\"a..b\"]}]}", "provider a: \"credential_keys\": \"a..b\" is not a dotted key path" },
        { "{\"providers\":[{\"id\":\"a\"," BASE ",\"credential_keys\":[\".a\"]}]}", "provider a: \"credential_keys\": \".a\" is not a dotted key path" },
        { "{\"providers\":[{\"id\":\"a\"," BASE ",\"credential_keys\":[\"a.\"]}]}", "provider a: \"credential_keys\": \"a.\" is not a dotted key path" },
        { "{\"providers\":[{\"id\":\"a\"," BASE ",\"credential_keys\":[\"a.b.c.d.e.f.g.h.i\"]}]}", "provider a: \"credential_keys\": \"a.b.c.d.e.f.g.h.i\" is not a dotted key path" },
        { "{\"providers\":[{\"id\":\"a\"," BASE ",\"credential_keys\":\"tokens\"}]}", "provider a: \"credential_keys\" must be an array of strings" },
        { "{\"providers\":[{\"id\":\"a\",\"argv\":[\"\"],\"url_patterns\":[\"https://a/\"],\"credential_file\":\"c\"}]}", "provider a: \"argv\" must be a non-empty string without NUL (max 4096 bytes)" },
};

static void test_errors_name_the_key(void **state) {
        for (size_t i = 1; i < ELEMENTSOF(bad); i++) {
                ProviderSet *s = NULL;
                char err[256] = "";

                assert_int_equal(provider_set_parse(bad[i].text, strlen(bad[i].text), &s, err, sizeof err), -EINVAL);
                assert_null(s);
                assert_string_equal(err, bad[i].error);
        }
}

static void test_json_syntax_error(void **state) {
        ProviderSet *s = NULL;
        char err[256] = "";

        assert_int_equal(provider_set_parse("{\"providers\":", 13, &s, err, sizeof err), -EINVAL);
        assert_non_null(strstr(err, "providers: line 1:"));
        /* Duplicate keys would let the second one silently win. */
        assert_int_equal(provider_set_parse("{\"providers\":1,\"providers\":2}", 29, &s, err, sizeof err), -EINVAL);
        assert_null(s);
}

/* Which files a CLI writes count as its credentials. */
static const struct {
        const char *keys; /* credential_keys as JSON */
        const char *file;
        bool complete;
} completeness[] = {
        /* Claude Code writes "{}" first, then the tokens. */
        { "[\"claudeAiOauth\"]", "{}", false },
        { "[\"claudeAiOauth\"]", "{\"claudeAiOauth\":{\"accessToken\":\"a\",\"refreshToken\":\"r\"}}", true },
        { "[\"claudeAiOauth\"]", "{\"claudeAiOauth\":{}}", false },
        { "[\"claudeAiOauth\"]", "{\"claudeAiOauth\":null}", false },
        /* Codex: auth.json with its tokens; OPENAI_API_KEY may be null. */
        { "[\"tokens\"]", "{\"OPENAI_API_KEY\":null,\"tokens\":{\"refresh_token\":\"r\"}}", true },
        { "[\"tokens\"]", "{\"OPENAI_API_KEY\":\"sk\"}", false },
        /* Gemini CLI: the token response itself. */
        { "[\"refresh_token\"]", "{\"access_token\":\"a\",\"refresh_token\":\"r\"}", true },
        { "[\"refresh_token\"]", "{\"access_token\":\"a\",\"refresh_token\":\"\"}", false },
        { "[\"refresh_token\"]", "{\"access_token\":\"a\"}", false },
        /* Dotted paths go through objects only. */
        { "[\"tokens.refresh_token\"]", "{\"tokens\":{\"refresh_token\":\"r\"}}", true },
        { "[\"tokens.refresh_token\"]", "{\"tokens\":{\"access_token\":\"a\"}}", false },
        { "[\"tokens.refresh_token\"]", "{\"tokens\":\"refresh_token\"}", false },
        { "[\"tokens.refresh_token\"]", "{\"tokens.refresh_token\":\"r\"}", false },
        /* Every key, not one of them. */
        { "[\"a\",\"b\"]", "{\"a\":1,\"b\":[0]}", true },
        { "[\"a\",\"b\"]", "{\"a\":1,\"b\":[]}", false },
        { "[\"a\",\"b\"]", "{\"a\":false,\"b\":true}", false },
        /* Numbers say something, zero too. */
        { "[\"a\"]", "{\"a\":0}", true },
        /* No keys: any object, also an empty one (as before keys existed). */
        { "[]", "{}", true },
        { "[]", "{\"x\":1}", true },
};

static void test_credentials_complete(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(completeness); i++) {
                _cleanup_(freep) char *text = NULL;
                ProviderSet *s = NULL;
                char err[256] = "";
                json_t *j;

                assert_true(asprintf(&text, "{\"providers\":[{\"id\":\"a\"," BASE ",\"credential_keys\":%s}]}",
                                     completeness[i].keys) > 0);
                assert_int_equal(provider_set_parse(text, strlen(text), &s, err, sizeof err), 0);
                j = json_loads(completeness[i].file, 0, NULL);
                assert_non_null(j);
                if (provider_credentials_complete(&s->defs[0], j) != completeness[i].complete)
                        fail_msg("keys %s, file %s: expected %s", completeness[i].keys, completeness[i].file,
                                 completeness[i].complete ? "complete" : "not complete");
                json_decref(j);
                provider_set_free(s);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_shipped_file),
                cmocka_unit_test(test_url_patterns_accepted),
                cmocka_unit_test(test_program_hidden),
                cmocka_unit_test(test_interpreter_hidden),
                cmocka_unit_test(test_env_program_past_private_tmp),
                cmocka_unit_test(test_program_permissions),
                cmocka_unit_test(test_program_hidden_describe),
                cmocka_unit_test(test_minimal_defaults),
                cmocka_unit_test(test_errors_name_the_key),
                cmocka_unit_test(test_json_syntax_error),
                cmocka_unit_test(test_credentials_complete),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
