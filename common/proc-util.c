/* Implementation of proc-util.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proc-util.h"

/* The value of "Name:\t..." at the start of a line of text, or NULL. */
static const char *field(const char *text, const char *name) {
        size_t n = strlen(name);

        for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
                if (strncmp(l, name, n) == 0 && l[n] == ':')
                        return l + n + 1 + strspn(l + n + 1, " \t");
        return NULL;
}

static bool number(const char *s, unsigned long *ret) {
        char *end;

        if (!s || *s < '0' || *s > '9')
                return false;
        errno = 0;
        *ret = strtoul(s, &end, 10);
        return errno == 0 && (*end == '\n' || *end == '\t' || *end == ' ' || *end == '\0');
}

int proc_status_parse(const char *text, ProcStatus *ret) {
        const char *state = field(text, "State"), *ppid = field(text, "PPid"), *uid = field(text, "Uid");
        unsigned long p, u;

        if (!state || !*state || *state == '\n' || !number(ppid, &p) || !number(uid, &u) ||
            p > (unsigned long)(pid_t)0x7fffffff || u > 0xfffffffeUL)
                return -EINVAL;
        *ret = (ProcStatus){ .state = *state, .ppid = (pid_t)p, .uid = (uid_t)u };
        return 0;
}
