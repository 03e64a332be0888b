/* Implementation of getopt-util.h.  glibc sets optopt to the short
 * option it refused, to 0 for an unknown long one and to the option's val
 * for a long one missing its argument (ours are above 0xff, or letters
 * for those with a short form too: then the short form is named). */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "getopt-util.h"

const char *getopt_refused(char *const *argv, char *buf, size_t size) {
        const char *a = optind > 0 ? argv[optind - 1] : NULL;

        if (optopt > 0 && optopt < 0x7f && isgraph(optopt))
                snprintf(buf, size, "-%c", optopt);
        else if (a && strncmp(a, "--", 2) == 0)
                snprintf(buf, size, "%.*s", (int)strcspn(a, "="), a);
        else
                snprintf(buf, size, "?");
        return buf;
}
