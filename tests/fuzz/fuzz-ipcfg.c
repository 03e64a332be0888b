/* libFuzzer target for the ip= parser, the plan's JSON and the file texts
 * (ipcfg-files.c).  Beyond "no crash", it checks what callers rely on: only
 * 0/-EINVAL/-E2BIG, a plan within its bounds that prints as valid JSON with
 * one entry per interface, an error line that is one line with a field
 * name and a reason, a resolv.conf of only our kinds of lines, and a hosts
 * file (the input doubles as the old one) with exactly one line of ours,
 * last, that a second run leaves as it is. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "netinit/ipcfg.h"
#include "fuzz.h"

#define MARKER "# vm-browser-agent netinit"

static void check_plan(const IpcfgPlan *p) {
        char *s = NULL;
        json_t *j, *arr;

        CHECK(p->n_ifaces <= IPCFG_MAX_IFACES);
        for (size_t k = 0; k < p->n_ifaces; k++) {
                const IpcfgIface *i = &p->ifaces[k];

                CHECK(ipcfg_method_to_string(i->method));
                CHECK(strnlen(i->device, IFNAMSIZ) < IFNAMSIZ);
                CHECK(strnlen(i->hostname, sizeof i->hostname) < sizeof i->hostname);
                CHECK(strnlen(i->dhcp_client_id, sizeof i->dhcp_client_id) < sizeof i->dhcp_client_id);
                CHECK(i->dhcp_client_id[0] == 0 || !strpbrk(i->dhcp_client_id, " \t\n"));
                CHECK(i->n_dns <= IPCFG_MAX_DNS && i->n_ntp <= IPCFG_MAX_NTP);
                CHECK(i->prefix >= -1 && i->prefix <= 128);
                CHECK(i->mtu == 0 || (i->mtu >= 68 && i->mtu <= 65535));
                CHECK((i->method == IPCFG_METHOD_STATIC) == (i->address.family != 0));
        }
        CHECK(ipcfg_plan_to_json(p, &s) == 0);
        CHECK(!strchr(s, '\n'));
        j = json_loads(s, 0, NULL);
        CHECK(j);
        arr = json_object_get(j, "interfaces");
        CHECK(json_is_array(arr) && json_array_size(arr) == p->n_ifaces);
        json_decref(j);
        free(s);
}

static void check_resolv_conf(const IpcfgPlan *p) {
        char *t = NULL;
        int r = ipcfg_resolv_conf_text(p, &t);

        CHECK((r == 0 && !t) || (r == 1 && t));
        if (!t)
                return;
        CHECK(startswith(t, "# Written by vm-browser-agent netinit"));
        CHECK(t[strlen(t) - 1] == '\n');
        for (const char *l = strchr(t, '\n') + 1; *l; l = strchr(l, '\n') + 1)
                CHECK(startswith(l, "nameserver ") || startswith(l, "search "));
        CHECK(strstr(t, "\nnameserver ")); /* never a file without a server */
        free(t);
}

static size_t count_ours(const char *t) {
        size_t n = 0, m = strlen(MARKER);

        for (const char *l = t; *l;) {
                size_t len = strcspn(l, "\n");

                n += len >= m && memcmp(l + len - m, MARKER, m) == 0;
                CHECK(l[len] == '\n'); /* every line ends in one */
                l += len + 1;
        }
        return n;
}

static void check_hosts(const IpcfgPlan *p, const char *old) {
        const IpcfgIface *named = ipcfg_plan_hostname_iface(p);
        char *t = NULL, *again = NULL;
        int r = ipcfg_hosts_text(old, p, &t);
        size_t ours;

        CHECK((r == 0 && !t) || (r == 1 && t));
        if (!t)
                return;
        ours = count_ours(t);
        /* A hostname with an address: its line; else ours moved or dropped. */
        CHECK(ours <= 1 && (!named || named->address.family == 0 || ours == 1));
        if (ours == 0)
                CHECK(ipcfg_hosts_text(t, p, &again) == 0 && !again);
        else {
                CHECK(strlen(t) > strlen(MARKER) + 1 && streq(t + strlen(t) - strlen(MARKER) - 1, MARKER "\n"));
                CHECK(ipcfg_hosts_text(t, p, &again) == 1 && streq(again, t));
        }
        free(again);
        free(t);
}

static void check_error(const IpcfgError *e) {
        char line[1024];

        CHECK(e->reason && (e->field == 0 || e->field_name));
        CHECK(memchr(e->value, 0, sizeof e->value));
        ipcfg_error_format(e, line, sizeof line);
        CHECK(!strchr(line, '\n') && !strchr(line, '\r'));
        CHECK(strlen(line) < sizeof line - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_text(data, size);
        IpcfgPlan plan;
        IpcfgError e = {};
        int r;

        if (!s)
                return 0;
        r = ipcfg_parse_cmdline(s, &plan, &e);
        CHECK(r == 0 || r == -EINVAL || r == -E2BIG);
        if (r == 0) {
                check_plan(&plan);
                check_resolv_conf(&plan);
                check_hosts(&plan, s);
        }
        else if (r == -EINVAL)
                check_error(&e);
        free(s);
        return 0;
}
