/* The kernel's own tokeniser for its command line (next_arg() in
 * lib/cmdline.c), ported with its quirks, so everything that reads
 * /proc/cmdline splits it exactly as the kernel did: whitespace separates,
 * a double quote toggles grouping, a quote opening the token or the value is
 * removed together with the token's last character when that is a quote;
 * quotes elsewhere stay.  Pure: no system calls. */
#include <stddef.h>

#include "cmdline-util.h"

/* The kernel's isspace() (lib/ctype.c): also 0xA0, Latin-1's no-break
 * space, so a byte 0xA0 separates words on the kernel's command line. */
static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' ||
               (unsigned char)c == 0xa0;
}

static char *skip_spaces(char *s) {
        while (is_space(*s))
                s++;
        return s;
}

char *cmdline_next_arg(char *args, char **param, char **val) {
        size_t i, equals = 0;
        bool in_quote = false, quoted = false;

        args = skip_spaces(args);
        if (*args == '"') {
                args++;
                in_quote = quoted = true;
        }
        for (i = 0; args[i]; i++) {
                if (is_space(args[i]) && !in_quote)
                        break;
                if (equals == 0 && args[i] == '=')
                        equals = i;
                if (args[i] == '"')
                        in_quote = !in_quote;
        }
        *param = args;
        if (!equals)
                *val = NULL;
        else {
                args[equals] = 0;
                *val = args + equals + 1;
                if (**val == '"') {
                        (*val)++;
                        if (args[i - 1] == '"')
                                args[i - 1] = 0;
                }
        }
        if (quoted && i > 0 && args[i - 1] == '"')
                args[i - 1] = 0;
        if (args[i]) {
                args[i] = 0;
                args += i + 1;
        } else
                args += i;
        return skip_spaces(args);
}

