/* See port-floor.h. */
#include <stdio.h>
#include <string.h>
#include <linux/capability.h>

#include "agent/supervise/spawn.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "port-floor.h"

#define PORT_FLOOR_SETTING "/proc/sys/net/ipv4/ip_unprivileged_port_start"
#define LOCAL_PORTS_SETTING "/proc/sys/net/ipv4/ip_local_port_range"

/* The first number in the setting at path (both above are numbers, the
 * range two of them, separated by a tab). */
static int setting_read(const char *path, unsigned *ret) {
        _cleanup_(freep) char *text = NULL;
        uint64_t v;
        int r;

        r = read_full_file(path, 32, &text, NULL);
        if (r < 0)
                return r;
        r = parse_unsigned_span(text, strcspn(text, "\t \n"), 65536, &v);
        if (r < 0)
                return r;
        *ret = (unsigned)v;
        return 0;
}

/* Sets the floor to want: 0, or -errno (logged).  The kernel refuses
 * (-EINVAL) a floor above the start of ip_local_port_range. */
static int port_floor_raise(unsigned want, bool can) {
        char value[16];
        unsigned local;
        int r;

        if (!can) {
                log_warning("Ports below %u stay open to every local user: the provider CLIs could not keep "
                            "CAP_NET_BIND_SERVICE to listen on theirs.", want);
                return -EPERM;
        }
        snprintf(value, sizeof value, "%u\n", want);
        r = write_setting(PORT_FLOOR_SETTING, value);
        if (r == -EINVAL && setting_read(LOCAL_PORTS_SETTING, &local) >= 0 && local < want)
                log_warning("Failed to set net.ipv4.ip_unprivileged_port_start = %u: net.ipv4.ip_local_port_range "
                            "starts below it, at %u (raise that, or lower unprivileged_port_start).", want, local);
        else if (r < 0)
                log_warning_errno(r, "Failed to set net.ipv4.ip_unprivileged_port_start = %u: %m", want);
        return r;
}

uint64_t port_floor_setup(bool own_network, unsigned want, int *ret_floor) {
        const uint64_t cap = UINT64_C(1) << CAP_NET_BIND_SERVICE;
        bool can = spawn_can_keep_caps(cap);
        unsigned floor = 0;
        int r;

        *ret_floor = -1;
        r = setting_read(PORT_FLOOR_SETTING, &floor);
        /* Only ever raised; once written, the floor is want. */
        if (own_network && want > 0 && (r < 0 || floor < want) && port_floor_raise(want, can) >= 0) {
                floor = want;
                r = 0;
        }
        if (r < 0) {
                if (r != -ENOENT)
                        log_warning_errno(r, "Cannot read net.ipv4.ip_unprivileged_port_start: %m");
                return 0;
        }
        *ret_floor = (int)floor;
        if (floor <= PORT_FLOOR_KERNEL) {
                /* Said only where the namespace is the agent's to guard. */
                if (own_network)
                        log_notice("Any local user may take a provider CLI's callback port first (Codex: 1455, "
                                   "1457): net.ipv4.ip_unprivileged_port_start is %u.", floor);
                return 0;
        }
        if (!can) {
                log_warning("The provider CLIs cannot listen below port %u (net.ipv4.ip_unprivileged_port_start): "
                            "they could not keep CAP_NET_BIND_SERVICE.", floor);
                return 0;
        }
        log_info("Ports below %u are root's, and those of the provider CLIs with a callback port (they keep "
                 "CAP_NET_BIND_SERVICE).", floor);
        return cap;
}
