/* The text of the files a plan implies: resolv.conf and the one line we
 * own in /etc/hosts.  Pure: text in, text out, no system calls; the
 * netlink applier (ipcfg-nl.c) reads the old files and writes the new
 * ones, and tests/unit/netinit/test-ipcfg-files.c holds the exact texts. */
#include <stdio.h>

#include "ipcfg.h"
#include "macro.h"

/* A line we add to /etc/hosts ends with this, so a later run replaces
 * exactly our own line and leaves the administrator's lines alone. */
#define HOSTS_MARKER "# vm-browser-agent netinit"

DEFINE_TRIVIAL_CLEANUP_FUNC(FILE *, fclose);

const IpcfgIface *ipcfg_plan_hostname_iface(const IpcfgPlan *plan) {
        for (size_t i = 0; i < MIN(plan->n_ifaces, (size_t)IPCFG_MAX_IFACES); i++)
                if (!isempty(plan->ifaces[i].hostname))
                        return &plan->ifaces[i];
        return NULL;
}

static const char *plan_domain(const IpcfgPlan *plan) {
        for (size_t i = 0; i < MIN(plan->n_ifaces, (size_t)IPCFG_MAX_IFACES); i++)
                if (!isempty(plan->ifaces[i].domain))
                        return plan->ifaces[i].domain;
        return NULL;
}

/* Whether dns[idx] of interface iface came earlier in the plan's order. */
static bool dns_seen(const IpcfgPlan *plan, size_t iface, size_t idx) {
        const IpcfgAddr *x = &plan->ifaces[iface].dns[idx];

        for (size_t i = 0; i <= iface; i++)
                for (size_t j = 0; j < (i == iface ? idx : MIN(plan->ifaces[i].n_dns, (size_t)IPCFG_MAX_DNS)); j++)
                        if (ipcfg_addr_equal(&plan->ifaces[i].dns[j], x))
                                return true;
        return false;
}

static bool dns_any(const IpcfgPlan *plan) {
        for (size_t i = 0; i < MIN(plan->n_ifaces, (size_t)IPCFG_MAX_IFACES); i++)
                for (size_t j = 0; j < MIN(plan->ifaces[i].n_dns, (size_t)IPCFG_MAX_DNS); j++)
                        if (plan->ifaces[i].dns[j].family != AF_UNSPEC)
                                return true;
        return false;
}

/* One nameserver line.  A link-local IPv6 server is reachable only
 * through a device: glibc takes the scope from "%<device>" and, without
 * one, sends it nothing (the kernel refuses a link-local destination with
 * no interface).  The device is that of an interface listing it whose
 * link has IPv6 (ipcfg_plan_dns_scope()), else of the first listing it. */
static void nameserver_line(FILE *f, const IpcfgPlan *plan, const IpcfgAddr *a, const char *first) {
        char s[INET6_ADDRSTRLEN];
        bool linklocal = a->family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&a->in6);
        const IpcfgIface *via = linklocal ? ipcfg_plan_dns_scope(plan, a) : NULL;
        const char *device = via ? via->device : first;
        bool scoped = linklocal && !isempty(device);

        fprintf(f, "nameserver %s%s%s\n", ipcfg_addr_to_string(a, s, sizeof s), scoped ? "%" : "",
                scoped ? device : "");
}

int ipcfg_resolv_conf_text(const IpcfgPlan *plan, char **ret) {
        _cleanup_(freep) char *buf = NULL;
        const char *domain = plan_domain(plan);
        size_t size = 0;

        /* A domain alone (from an FQDN in the hostname field) is no
         * resolver setting the kernel knows of: it would replace the
         * servers the image has with none. */
        if (!dns_any(plan)) {
                *ret = NULL;
                return 0;
        }
        {
                _cleanup_(fclosep) FILE *f = open_memstream(&buf, &size);
                if (!f)
                        return -ENOMEM;
                fputs("# Written by vm-browser-agent netinit from the kernel command line.\n", f);
                for (size_t i = 0; i < MIN(plan->n_ifaces, (size_t)IPCFG_MAX_IFACES); i++)
                        for (size_t j = 0; j < MIN(plan->ifaces[i].n_dns, (size_t)IPCFG_MAX_DNS); j++)
                                if (plan->ifaces[i].dns[j].family != AF_UNSPEC && !dns_seen(plan, i, j))
                                        nameserver_line(f, plan, &plan->ifaces[i].dns[j],
                                                        plan->ifaces[i].device);
                if (domain)
                        fprintf(f, "search %s\n", domain);
                if (fflush(f) != 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(buf);
        return 1;
}

static bool line_is_ours(const char *p, size_t l) {
        size_t m = strlen(HOSTS_MARKER);

        return l >= m && memcmp(p + l - m, HOSTS_MARKER, m) == 0;
}

/* Our line: `<address> <fqdn> <short>`, the form Debian's own hosts line
 * has; the short name alone without a domain. */
static void hosts_line(FILE *f, const IpcfgIface *named) {
        char s[INET6_ADDRSTRLEN];

        ipcfg_addr_to_string(&named->address, s, sizeof s);
        if (isempty(named->domain))
                fprintf(f, "%s\t%s %s\n", s, named->hostname, HOSTS_MARKER);
        else
                fprintf(f, "%s\t%s.%s %s %s\n", s, named->hostname, named->domain, named->hostname,
                        HOSTS_MARKER);
}

/* Our line in text and its length, or NULL. */
static const char *our_line(const char *text, size_t *ret_len) {
        for (const char *p = text; p && *p;) {
                size_t l = strcspn(p, "\n");

                if (line_is_ours(p, l)) {
                        *ret_len = l;
                        return p;
                }
                p += l + (p[l] == '\n');
        }
        return NULL;
}

/* The first address the plan gives an interface, or NULL. */
static const IpcfgAddr *plan_address(const IpcfgPlan *plan) {
        for (size_t i = 0; i < MIN(plan->n_ifaces, (size_t)IPCFG_MAX_IFACES); i++)
                if (plan->ifaces[i].address.family != AF_UNSPEC)
                        return &plan->ifaces[i].address;
        return NULL;
}

/* Our old line's names (between the address and the marker) at address:
 * a plan without a hostname keeps the machine's, which must resolve to
 * where it is now (a restored clone's new address). */
static void hosts_line_moved(FILE *f, const char *line, size_t len, const IpcfgAddr *address) {
        size_t end = len - strlen(HOSTS_MARKER), start = 0;
        char s[INET6_ADDRSTRLEN];

        while (start < end && line[start] != ' ' && line[start] != '\t')
                start++; /* the old address */
        while (start < end && (line[start] == ' ' || line[start] == '\t'))
                start++;
        while (end > start && (line[end - 1] == ' ' || line[end - 1] == '\t'))
                end--;
        if (end > start)
                fprintf(f, "%s\t%.*s %s\n", ipcfg_addr_to_string(address, s, sizeof s), (int)(end - start),
                        line + start, HOSTS_MARKER);
}

int ipcfg_hosts_text(const char *old, const IpcfgPlan *plan, char **ret) {
        _cleanup_(freep) char *buf = NULL;
        const IpcfgIface *named = ipcfg_plan_hostname_iface(plan);
        const IpcfgAddr *address = plan_address(plan);
        size_t size = 0, ours_len = 0;
        bool add = named && named->address.family != AF_UNSPEC;
        const char *ours = our_line(old, &ours_len);

        if (!add && !ours) {
                *ret = NULL;
                return 0;
        }
        {
                _cleanup_(fclosep) FILE *f = open_memstream(&buf, &size);
                if (!f)
                        return -ENOMEM;
                /* Every old line but ours, each ending in a newline (the
                 * last one may have had none). */
                for (const char *p = old; p && *p;) {
                        size_t l = strcspn(p, "\n");

                        if (!line_is_ours(p, l)) {
                                fwrite(p, 1, l, f);
                                fputc('\n', f);
                        }
                        p += l + (p[l] == '\n');
                }
                if (add)
                        hosts_line(f, named);
                else if (address && !named) /* a new hostname: never the old names */
                        hosts_line_moved(f, ours, ours_len, address);
                if (fflush(f) != 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(buf);
        return 1;
}
