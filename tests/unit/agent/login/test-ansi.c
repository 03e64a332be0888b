/* agent/login/ansi.c: what each byte is, from each state the recognizer
 * can be in (reached by a prefix), for the byte classes its transitions
 * tell apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/login/ansi.h"
#include "macro.h"

/* One letter per fed byte: I inside, T text, C CSI done, S string
 * done, E ESC done. */
static void classify(const char *in, size_t n, char *out) {
        static const char letter[] = { [ANSI_INSIDE] = 'I', [ANSI_TEXT] = 'T', [ANSI_CSI_DONE] = 'C',
                                       [ANSI_STRING_DONE] = 'S', [ANSI_ESC_DONE] = 'E' };
        AnsiParser p;

        ansi_parser_init(&p);
        for (size_t i = 0; i < n; i++)
                out[i] = letter[ansi_parser_feed(&p, in[i])];
        out[n] = '\0';
}

static void test_table(void **state) {
        static const struct {
                const char *in, *want;
        } t[] = {
                /* ground */
                { "ab\r\n\t\b", "TTTTTT" },
                { "\x18x\x1a", "TTT" },                   /* CAN, SUB outside a sequence: text */
                { "\xc3\xa9", "TT" },                     /* UTF-8 */
                /* ESC x */
                { "\x1b" "7a", "IET" },                   /* two-byte ESC */
                { "\x1b\x1b" "7", "IIE" },                /* ESC restarts */
                { "\x1b" "(B", "IIE" },                   /* intermediate, then final */
                { "\x1b" "( !B", "IIIIE" },               /* several intermediates */
                { "\x1b\x18" "a", "IET" },                /* CAN aborts */
                /* CSI */
                { "\x1b[31mx", "IIIICT" },
                { "\x1b[?25l", "IIIIIC" },
                { "\x1b[2;3H", "IIIIIC" },
                { "\x1b[\x1b[m", "IIIIC" },               /* ESC restarts inside a CSI */
                { "\x1b[1\x1a" "a", "IIIET" },            /* SUB aborts */
                { "\x1b[\n" "m", "IIIC" },                /* C0 inside: still inside */
                { "\x1b[@", "IIC" },                      /* the lowest final byte */
                { "\x1b[~", "IIC" },                      /* the highest */
                /* OSC */
                { "\x1b]0;title\x07x", "IIIIIIIIIST" },  /* BEL ends it */
                { "\x1b]8;;u\x1b\\x", "IIIIIIIST" },     /* ST ends it */
                { "\x1b]0;t\x1b[1m", "IIIIIIIIC" },      /* ESC [: cut short, a CSI */
                { "\x1b]0;t\x1b]1\x07", "IIIIIIIIS" },   /* ESC ]: cut short, another OSC */
                { "\x1b]0;t\x1bxa", "IIIIIIET" },        /* ESC x: cut short, a two-byte ESC */
                { "\x1b]0\x18" "a", "IIIET" },            /* CAN aborts */
                { "\x1b]\n\r", "IIII" },                  /* line breaks are the OSC's */
                /* DCS, APC, PM, SOS: strings as well, never text */
                { "\x1bP1$r0m\x1b\\x", "IIIIIIIIST" },  /* DECRQSS's answer */
                { "\x1b_Gi=31;AAAA\x1b\\x", "IIIIIIIIIIIIIST" }, /* kitty graphics */
                { "\x1b^pm\x07x", "IIIIST" },
                { "\x1bXs\x1b\\x", "IIIIST" },
                { "\x1bP\n\x1b\\", "IIIIS" },              /* line breaks are the string's */
                { "\x1b]0\x1bPq\x1b\\a", "IIIIIIIST" },    /* ESC P: cut short, a DCS */
                { "\x1b(Pa", "IIET" },                    /* after an intermediate: a final */
                /* 8-bit C1 forms are UTF-8 bytes: text */
                { "\x9b" "31m", "TTTT" },
                { "\xc2\x9d" "0;t\x07", "TTTTTT" },
        };
        char out[64];

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                size_t n = strlen(t[i].in);

                classify(t[i].in, n, out);
                print_message("case %zu\n", i);
                assert_string_equal(out, t[i].want);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
