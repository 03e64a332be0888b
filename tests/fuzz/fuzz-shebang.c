/* libFuzzer target for common/shebang.c: a program's first bytes.  Beyond
 * "no crash": a file is a script exactly when it starts with "#!"; a name
 * found is non-empty, has no blank, NUL or newline and is in the line; an
 * argument is in the line, with no newline nor blank first; env's program is one of
 * the argument's words (or the whole argument). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "shebang.h"

static bool in(const char *hay, size_t n, const char *needle) {
        size_t l = strlen(needle);

        for (size_t i = 0; i + l <= n; i++)
                if (!memcmp(hay + i, needle, l))
                        return true;
        return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *text = (const char *)data;
        size_t line = size < SHEBANG_BUF_SIZE ? size : SHEBANG_BUF_SIZE;
        Shebang s;
        char program[SHEBANG_BUF_SIZE];
        int r = shebang_parse(text, size, &s);

        CHECK(r == 0 || r == 1 || r == -ENOEXEC);
        CHECK((r == 0) == !(size >= 2 && text[0] == '#' && text[1] == '!'));
        if (r <= 0)
                return 0;
        CHECK(s.interpreter[0] != '\0' && !strpbrk(s.interpreter, " \t\n"));
        CHECK(in(text, line, s.interpreter));
        CHECK(!strchr(s.arg, '\n') && in(text, line, s.arg));
        /* Blanks before a NUL in it stay, as in the kernel's. */
        CHECK(s.arg[0] != ' ' && s.arg[0] != '\t');
        r = shebang_env_program(&s, program, sizeof program);
        CHECK(r == 0 || r == 1);
        if (r == 1)
                CHECK(program[0] != '\0' && strstr(s.arg, program));
        return 0;
}
