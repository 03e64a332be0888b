/* The plan's queries and the operations on whole plans, apart from the
 * grammar that makes one (ipcfg-parse.c) and the files it implies
 * (ipcfg-files.c): both use these.  Pure: no syscalls. */
#include <arpa/inet.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>

#include "ipcfg.h"
#include "macro.h"

bool ipcfg_link_is_candidate(const char *name, unsigned flags) {
        return name && !(flags & IFF_LOOPBACK) && (flags & (IFF_BROADCAST | IFF_POINTOPOINT)) &&
               strncmp(name, "dummy", 5) != 0;
}

bool ipcfg_addr_equal(const IpcfgAddr *a, const IpcfgAddr *b) {
        if (a->family != b->family)
                return false;
        if (a->family == AF_INET)
                return a->in.s_addr == b->in.s_addr;
        if (a->family == AF_INET6)
                return memcmp(&a->in6, &b->in6, sizeof a->in6) == 0;
        return true;
}

static bool ipv6_link_ok(uint32_t mtu) {
        return mtu == 0 || mtu >= IPCFG_IPV6_MIN_MTU;
}

const IpcfgIface *ipcfg_plan_dns_scope(const IpcfgPlan *plan, const IpcfgAddr *dns) {
        for (size_t i = 0; i < MIN(plan->n_ifaces, (size_t)IPCFG_MAX_IFACES); i++)
                for (size_t j = 0; j < MIN(plan->ifaces[i].n_dns, (size_t)IPCFG_MAX_DNS); j++)
                        if (ipv6_link_ok(plan->ifaces[i].mtu) && ipcfg_addr_equal(&plan->ifaces[i].dns[j], dns))
                                return &plan->ifaces[i];
        return NULL;
}

size_t ipcfg_plan_merge(IpcfgPlan *into, const IpcfgPlan *more) {
        size_t left_out = 0;

        for (size_t i = 0; i < more->n_ifaces && i < IPCFG_MAX_IFACES; i++) {
                const IpcfgIface *m = &more->ifaces[i];
                bool have = m->address.family == AF_UNSPEC;

                for (size_t k = 0; !have && k < into->n_ifaces; k++)
                        have = ipcfg_addr_equal(&into->ifaces[k].address, &m->address);
                if (have)
                        continue;
                if (into->n_ifaces < IPCFG_MAX_IFACES)
                        into->ifaces[into->n_ifaces++] = *m;
                else
                        left_out++;
        }
        return left_out;
}

/* Whether plan has an interface naming device (never "": an entry
 * without one names no device until it is applied). */
static bool plan_names_device(const IpcfgPlan *plan, const char *device) {
        for (size_t i = 0; device[0] && i < plan->n_ifaces; i++)
                if (streq(plan->ifaces[i].device, device))
                        return true;
        return false;
}

/* Whether over re-addresses some of base's devices only (see ipcfg.h). */
static bool overlay_is_partial(const IpcfgPlan *base, const IpcfgPlan *over) {
        bool shared = false;

        for (size_t i = 0; i < over->n_ifaces; i++) {
                if (!over->ifaces[i].device[0])
                        return false;
                shared |= plan_names_device(base, over->ifaces[i].device);
        }
        return shared;
}

static bool plan_gives_address(const IpcfgPlan *plan, const IpcfgAddr *addr) {
        for (size_t i = 0; addr->family != AF_UNSPEC && i < plan->n_ifaces; i++)
                if (ipcfg_addr_equal(&plan->ifaces[i].address, addr))
                        return true;
        return false;
}

static int plan_append(IpcfgPlan *plan, const IpcfgIface *ifc) {
        if (plan->n_ifaces >= IPCFG_MAX_IFACES)
                return -E2BIG;
        plan->ifaces[plan->n_ifaces++] = *ifc;
        return 0;
}

int ipcfg_plan_overlay(const IpcfgPlan *base, const IpcfgPlan *over, IpcfgPlan *ret) {
        IpcfgPlan p = { .n_ifaces = 0 };
        bool taken[IPCFG_MAX_IFACES] = {};
        int r = 0;

        if (!overlay_is_partial(base, over)) {
                *ret = *over;
                return 0;
        }
        /* Each of over's in the place of the first of base's for its device
         * (the first hostname and domain stay first); the rest after. */
        for (size_t i = 0; r >= 0 && i < base->n_ifaces; i++) {
                const IpcfgIface *b = &base->ifaces[i];

                if (!plan_names_device(over, b->device)) {
                        /* An address over gives another device moves there. */
                        if (!plan_gives_address(over, &b->address))
                                r = plan_append(&p, b);
                        continue;
                }
                for (size_t k = 0; r >= 0 && k < over->n_ifaces; k++)
                        if (!taken[k] && streq(over->ifaces[k].device, b->device)) {
                                taken[k] = true;
                                r = plan_append(&p, &over->ifaces[k]);
                        }
        }
        for (size_t k = 0; r >= 0 && k < over->n_ifaces; k++)
                if (!taken[k])
                        r = plan_append(&p, &over->ifaces[k]);
        if (r < 0)
                return r;
        *ret = p;
        return 0;
}

const char *ipcfg_addr_to_string(const IpcfgAddr *a, char *buf, size_t size) {
        if (size == 0)
                return buf;
        buf[0] = 0;
        if (a->family == AF_INET || a->family == AF_INET6)
                if (!inet_ntop(a->family, a->family == AF_INET ? (const void *)&a->in
                                                               : (const void *)&a->in6,
                               buf, (socklen_t)size))
                        buf[0] = 0;
        return buf;
}
