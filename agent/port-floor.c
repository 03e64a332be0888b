/* See port-floor.h. */
#include <stdio.h>
#include <linux/capability.h>

#include "agent/supervise/spawn.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "port-floor.h"

#define PORT_FLOOR_SETTING "/proc/sys/net/ipv4/ip_unprivileged_port_start"
/* The kernel's own floor: the privileged ports of every Unix. */
#define PORT_FLOOR_KERNEL 1024

static int port_floor_read(unsigned *ret) {
        _cleanup_(freep) char *text = NULL;
        uint64_t v;
        int r;

        r = read_full_file(PORT_FLOOR_SETTING, 32, &text, NULL);
        if (r < 0)
                return r;
        r = parse_unsigned_span(text, strcspn(text, "\n"), 65536, &v);
        if (r < 0)
                return r;
        *ret = (unsigned)v;
        return 0;
}

void port_floor_setup(Manager *m) {
        const uint64_t cap = UINT64_C(1) << CAP_NET_BIND_SERVICE;
        unsigned want = m->config.unprivileged_port_start, floor;
        bool can = spawn_can_keep_caps(cap);
        char value[16];
        int r;

        m->cli_caps = 0;
        if (m->net.status == NETINIT_APPLIED && want > 0) {
                snprintf(value, sizeof value, "%u\n", want);
                if (!can)
                        log_warning("Ports below %u stay open to every local user: the provider CLIs could not "
                                    "keep CAP_NET_BIND_SERVICE to listen on theirs.", want);
                else if ((r = write_setting(PORT_FLOOR_SETTING, value)) < 0)
                        log_warning_errno(r, "Failed to set net.ipv4.ip_unprivileged_port_start = %u: %m", want);
        }
        r = port_floor_read(&floor);
        if (r < 0) {
                if (r != -ENOENT)
                        log_warning_errno(r, "Cannot read net.ipv4.ip_unprivileged_port_start: %m");
                return;
        }
        if (floor <= PORT_FLOOR_KERNEL)
                return;
        if (!can) {
                log_warning("The provider CLIs cannot listen below port %u (net.ipv4.ip_unprivileged_port_start): "
                            "they could not keep CAP_NET_BIND_SERVICE.", floor);
                return;
        }
        m->cli_caps = cap;
        log_info("Ports below %u are root's and the provider CLIs' alone (they keep CAP_NET_BIND_SERVICE).", floor);
}
