/* Unit tests for agent/notify.c's choice among the sockets socket
 * activation passes: which is HTTP's and which websockify's, by
 * FileDescriptorName= (LISTEN_FDNAMES), for every mix of names. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/notify.h"
#include "macro.h"

static void test_pick(void **state) {
        static const struct {
                const char *what;
                const char *names[4];
                int n;
                int http, novnc;
        } t[] = {
                { "none passed", { NULL }, 0, -ENOENT, -ENOENT },
                { "one socket, its unit's name (systemd's default)", { "vm-browser-agent.socket" }, 1, 0, -ENOENT },
                { "unnamed (no LISTEN_FDNAMES)", { NULL }, 1, 0, -ENOENT },
                { "HTTP's and noVNC's", { "vm-browser-agent.socket", "novnc" }, 2, 0, 1 },
                { "noVNC's first", { "novnc", "http" }, 2, 1, 0 },
                { "noVNC's alone", { "novnc" }, 1, -ENOENT, 0 },
                { "two for HTTP: neither", { "a", "b", "novnc" }, 3, -EINVAL, 2 },
                { "two for noVNC: neither", { "novnc", "http", "novnc" }, 3, 1, -EINVAL },
                { "a name is whole, not a prefix", { "novnc2", "novn" }, 2, -EINVAL, -ENOENT },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                ListenFds p = listen_fds_pick(t[i].names, t[i].n);

                if (p.http != t[i].http || p.novnc != t[i].novnc)
                        fail_msg("%s: http %d novnc %d, expected %d %d", t[i].what, p.http, p.novnc, t[i].http,
                                 t[i].novnc);
        }
        /* No names at all (names NULL): every socket is HTTP's. */
        assert_int_equal(listen_fds_pick(NULL, 1).http, 0);
        assert_int_equal(listen_fds_pick(NULL, 2).http, -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pick),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
