/* See host-addresses.h.  The text is written from the parsed form
 * (inet_ntop, the prefix), so its reader (vnc/websockify-main.py) gets one
 * spelling whatever allow_from's was. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-addresses.h"
#include "in-addr-util.h"
#include "macro.h"
#include "strv.h"

/* A gateway of plan as a Cidr of its one address; false for none. */
static bool gateway_cidr(const IpcfgIface *i, Cidr *ret) {
        const IpcfgAddr *g = &i->gateway;
        Cidr c = { .family = g->family };

        if (g->family == AF_INET) {
                memcpy(c.addr, &g->in, 4);
                c.prefix = 32;
        } else if (g->family == AF_INET6) {
                memcpy(c.addr, &g->in6, 16);
                c.prefix = 128;
        } else
                return false;
        *ret = c;
        return true;
}

bool host_is_gateway(const IpcfgPlan *plan, const struct sockaddr *sa) {
        for (size_t i = 0; plan && i < plan->n_ifaces && i < IPCFG_MAX_IFACES; i++) {
                Cidr c;

                if (gateway_cidr(&plan->ifaces[i], &c) && cidr_match(&c, sa))
                        return true;
        }
        return false;
}

/* Room for one entry: an address, "/128" and the blank before it. */
#define ENTRY_MAX (INET6_ADDRSTRLEN + 5)

static void append(char *buf, size_t cap, size_t *len, const Cidr *c) {
        char a[INET6_ADDRSTRLEN];
        int n;

        if (!inet_ntop(c->family, c->addr, a, sizeof a))
                return;
        n = snprintf(buf + *len, cap - *len, "%s%s/%u", *len ? " " : "", a, c->prefix);
        if (n > 0 && (size_t)n < cap - *len)
                *len += (size_t)n;
        else
                buf[*len] = '\0'; /* cannot happen: room for ENTRY_MAX each */
}

int host_addresses_text(char *const *allow_from, const IpcfgPlan *plan, char **ret) {
        size_t n = allow_from ? strv_length(allow_from) : IPCFG_MAX_IFACES, len = 0, cap = n * ENTRY_MAX + 1;
        char *buf = malloc(cap);
        Cidr c;

        if (!buf)
                return -ENOMEM;
        buf[0] = '\0';
        for (size_t i = 0; allow_from && i < n; i++) {
                if (cidr_parse(allow_from[i], &c) < 0) {
                        len = 0;
                        buf[0] = '\0';
                        break;
                }
                append(buf, cap, &len, &c);
        }
        for (size_t i = 0; !allow_from && plan && i < plan->n_ifaces && i < IPCFG_MAX_IFACES; i++)
                if (gateway_cidr(&plan->ifaces[i], &c))
                        append(buf, cap, &len, &c);
        *ret = buf;
        return 0;
}
