/* Implementation of ipcfg-sysctl.h.  The settings are per network
 * namespace: /proc/sys/net shows the caller's. */
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "fileio.h"
#include "ipcfg-sysctl.h"

/* ipv6.disable=1 leaves no /proc/sys/net/ipv6 beside ipv4; a missing
 * ipv4 too means no /proc at all, which the write then names. */
static bool ipv6_disabled(void) {
        return access("/proc/sys/net/ipv6", F_OK) < 0 && errno == ENOENT && access("/proc/sys/net/ipv4", F_OK) == 0;
}

/* ifname has no IPv6 state (an MTU below IPv6's minimum took it), so no
 * IPv6 settings to write, though the kernel has IPv6. */
static bool ipv6_link_absent(const char *ifname) {
        char path[64 + IFNAMSIZ];

        snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s", ifname);
        return access(path, F_OK) < 0 && errno == ENOENT && access("/proc/sys/net/ipv6", F_OK) == 0;
}

static int refuse(const char *family, const char *conf, const char *key, char *failed, size_t failed_size) {
        char path[64 + IFNAMSIZ];
        int r;

        snprintf(path, sizeof path, "/proc/sys/net/%s/conf/%s/%s", family, conf, key);
        r = write_setting(path, "0\n");
        if (r < 0 && failed_size > 0)
                snprintf(failed, failed_size, "%s", path + sizeof "/proc/sys/" - 1);
        return r;
}

/* ifname has no IPv6 state now: the state an MTU of 1280 or more brings
 * back is a copy of "default", so key is refused there, and the link
 * takes nothing from its first moment, before the caller can write its
 * own (a neighbour's Router Advertisement flood would meet that gap).
 * 1, or the error. */
static int refuse_when_back(const char *key, char *failed, size_t failed_size) {
        int r = refuse("ipv6", "default", key, failed, failed_size);

        return r < 0 ? r : 1;
}

int ipcfg_sysctl_refuse_ra(const char *ifname, char *failed, size_t failed_size) {
        if (ipv6_disabled())
                return 0;
        if (ipv6_link_absent(ifname))
                return refuse_when_back("accept_ra", failed, failed_size);
        return refuse("ipv6", ifname, "accept_ra", failed, failed_size);
}

int ipcfg_sysctl_refuse_redirects(const char *ifname, char *failed, size_t failed_size) {
        int r;

        /* Without forwarding, IPv4 takes a redirect when either "all" or
         * the link allows it: both are refused. */
        r = refuse("ipv4", "all", "accept_redirects", failed, failed_size);
        if (r < 0)
                return r;
        r = refuse("ipv4", ifname, "accept_redirects", failed, failed_size);
        if (r < 0 || ipv6_disabled())
                return r;
        if (ipv6_link_absent(ifname))
                return refuse_when_back("accept_redirects", failed, failed_size);
        return refuse("ipv6", ifname, "accept_redirects", failed, failed_size);
}
