/* The plan as JSON for `netinit --dry-run` (DESIGN.md's schema): every key
 * always present in a fixed order, null for anything not given, compact and
 * without a trailing newline so tests can compare exact strings. */
#include <jansson.h>
#include <stdio.h>

#include "ipcfg.h"
#include "macro.h"

static json_t *addr_json(const IpcfgAddr *a) {
        char buf[INET6_ADDRSTRLEN];

        if (a->family == AF_UNSPEC)
                return json_null();
        return json_string(ipcfg_addr_to_string(a, buf, sizeof buf));
}

static json_t *str_or_null(const char *s) {
        return isempty(s) ? json_null() : json_string(s);
}

static json_t *addrs_json(const IpcfgAddr *a, size_t n) {
        json_t *arr = json_array();

        for (size_t k = 0; arr && k < n; k++)
                if (json_array_append_new(arr, addr_json(&a[k])) < 0) {
                        json_decref(arr);
                        return NULL;
                }
        return arr;
}

static json_t *mac_json(const IpcfgIface *i) {
        char buf[18];

        if (!i->has_mac)
                return json_null();
        snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x",
                 i->mac[0], i->mac[1], i->mac[2], i->mac[3], i->mac[4], i->mac[5]);
        return json_string(buf);
}

/* json_object_set_new() takes the reference even on failure. */
static int set(json_t *o, const char *key, json_t *v) {
        return v && json_object_set_new(o, key, v) == 0 ? 0 : -ENOMEM;
}

static int iface_json(const IpcfgIface *i, json_t **ret) {
        json_auto_t *o = NULL;
        const char *method = ipcfg_method_to_string(i->method);

        if (!method)
                return -EINVAL; /* only from a plan not made by the parser */
        o = json_object();
        if (!o)
                return -ENOMEM;
        if (set(o, "device", str_or_null(i->device)) < 0 ||
            set(o, "method", json_string(method)) < 0 ||
            set(o, "address", addr_json(&i->address)) < 0 ||
            set(o, "prefix", i->prefix >= 0 ? json_integer(i->prefix) : json_null()) < 0 ||
            set(o, "server", addr_json(&i->server)) < 0 ||
            set(o, "gateway", addr_json(&i->gateway)) < 0 ||
            set(o, "hostname", str_or_null(i->hostname)) < 0 ||
            set(o, "domain", str_or_null(i->domain)) < 0 ||
            set(o, "dns", addrs_json(i->dns, MIN(i->n_dns, (size_t)IPCFG_MAX_DNS))) < 0 ||
            set(o, "ntp", addrs_json(i->ntp, MIN(i->n_ntp, (size_t)IPCFG_MAX_NTP))) < 0 ||
            set(o, "mtu", i->mtu > 0 ? json_integer(i->mtu) : json_null()) < 0 ||
            set(o, "mac", mac_json(i)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

int ipcfg_plan_to_json(const IpcfgPlan *plan, char **ret) {
        json_auto_t *root = json_object();
        json_t *arr = json_array();
        char *s;

        if (!plan || !ret) {
                json_decref(arr);
                return -EINVAL;
        }
        if (set(root, "interfaces", arr) < 0)
                return -ENOMEM;
        for (size_t k = 0; k < MIN(plan->n_ifaces, (size_t)IPCFG_MAX_IFACES); k++) {
                json_t *o;
                int r = iface_json(&plan->ifaces[k], &o);

                if (r < 0)
                        return r;
                if (json_array_append_new(arr, o) < 0)
                        return -ENOMEM;
        }
        s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
