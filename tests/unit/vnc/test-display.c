/* Unit tests for vnc/display.c and vnc/desktop-files.c: the built-in
 * display stack's exact argv, environments, users, probes and
 * dependencies; the names of the files the agent derives and their exact
 * texts; and the display name grammar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <linux/capability.h>

#include "macro.h"
#include "tests/unit/test-util.h"
#include "vnc/desktop-files.h"
#include "vnc/display.h"
#include "vnc/websockify-main.h"

static DesktopPaths paths;

static int setup(void **state) {
        return desktop_paths_init(&paths, "/run/vmba", "/var/lib/vmba/browser/profile");
}

static int teardown(void **state) {
        desktop_paths_done(&paths);
        return 0;
}

/* The defaults, as run.c hands them over, but for the ports, display and
 * paths. */
static DisplayOptions defaults(void) {
        return (DisplayOptions){
                .display = ":7", .geometry = "1280x800", .depth = 24, .window_manager = "",
                .vnc_listen = "0.0.0.0", .vnc_port = 5907, .novnc_listen = "0.0.0.0", .novnc_port = 6087,
                .novnc_web = "/usr/share/novnc", .firefox = "firefox-esr",
                .firefox_profile = "/var/lib/vmba/browser/profile", .browser_user = "vmba-browser",
                .x_user = "vmba-x", .x_gid = 107, .x_shm = true, .vnc_user = "vmba-vnc", .paths = &paths,
                .bin_path = "/usr/local/bin:/usr/bin:/bin", .host_addresses = "10.0.0.1/32 fe80::1/128",
        };
}

/* Where Xvfb cannot keep CAP_IPC_OWNER: none asked for, x11vnc -noshm. */
static void test_no_shared_memory(void **state) {
        DisplayOptions c = defaults();
        ServiceDefs d = {};
        char err[256] = "";

        c.x_shm = false;
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), 0);
        assert_string_equal(d.services[0].name, "Xvfb");
        assert_true(d.services[0].ambient_caps == 0);
        assert_string_equal(d.services[1].name, "x11vnc");
        assert_string_equal(test_join(d.services[1].argv),
                            "x11vnc -display :7 -auth /run/vmba-vnc/Xauthority -rfbport 5907 -listen 0.0.0.0 -no6 "
                            "-rfbportv6 -1 -forever -shared -quiet -noremote -novncconnect -passwdfile /run/vmba-vnc/vnc-password -noshm");
        for (size_t i = 1; i < d.n; i++)
                assert_true(d.services[i].ambient_caps == 0);
        service_defs_done(&d);
}

static void check_xvfb(const ServiceDef *s) {
        assert_string_equal(test_join(s->argv),
                            "Xvfb :7 -displayfd 3 -auth /run/vmba-x/Xauthority -screen 0 1280x800x24 -nolisten tcp "
                            "-nolisten local");
        assert_string_equal(s->stale_lock, "/tmp/.X7-lock");
        /* Its keymap's name in /tmp, where x_user may not write /var/lib/xkb. */
        assert_string_equal(test_join(s->others_files), "/tmp/server-7.xkm");
        assert_int_equal(s->probe.type, PROBE_DISPLAYFD);
        assert_string_equal(s->user, "vmba-x");
        assert_string_equal(test_join(s->owned_files), "/run/vmba-x/Xauthority");
        assert_true(s->ambient_caps == UINT64_C(1) << CAP_IPC_OWNER);
        /* The X socket's group: the X clients', no one else's (Xvfb has it as its own). */
        assert_int_equal(s->extra_gid, 0);
        /* Its warnings about the X socket directory's mode, which is ours. */
        assert_string_equal(test_join(s->quiet_output),
                            "_XSERVTransmkdir: Mode of /tmp/.X11-unix should be set to 1777 "
                            "_XSERVTransmkdir: this may cause subsequent errors");
}

static void check_x11vnc(const ServiceDef *s) {
        assert_string_equal(test_join(s->argv),
                            "x11vnc -display :7 -auth /run/vmba-vnc/Xauthority -rfbport 5907 -listen 0.0.0.0 -no6 "
                            "-rfbportv6 -1 -forever -shared -quiet -noremote -novncconnect -passwdfile /run/vmba-vnc/vnc-password");
        assert_string_equal(test_join(s->env), "DISPLAY=:7 XAUTHORITY=/run/vmba-vnc/Xauthority");
        /* Facing the network: never root. */
        assert_string_equal(s->user, "vmba-vnc");
        assert_int_equal(s->extra_gid, 107);
        assert_string_equal(test_join(s->depends_on), "Xvfb");
        assert_int_equal(s->probe.type, PROBE_TCP_BANNER);
        assert_string_equal(s->probe.host, "127.0.0.1");
        assert_int_equal(s->probe.port, 5907);
        assert_string_equal(s->probe.expect, "RFB ");
}

static void check_websockify(const ServiceDef *s) {
        /* Its entry point is vnc/websockify-main.py's text, run as the main
         * program; the arguments after it are websockify's own. */
        assert_string_equal(s->argv[0], "python3");
        assert_string_equal(s->argv[1], "-c");
        assert_string_equal(s->argv[2], WEBSOCKIFY_MAIN);
        assert_non_null(strstr(s->argv[2], "\nif __name__ == '__main__':\n    main()\n"));
        assert_string_equal(test_join(s->argv + 3),
                            "--web /usr/share/novnc --token-plugin TokenFile "
                            "--token-source /run/vmba-vnc/novnc-tokens 0.0.0.0:6087");
        assert_string_equal(s->user, "vmba-vnc");
        assert_int_equal(s->extra_gid, 0);
        assert_string_equal(test_join(s->depends_on), "x11vnc");
        assert_int_equal(s->probe.type, PROBE_HTTP);
        assert_string_equal(s->probe.host, "127.0.0.1");
        assert_int_equal(s->probe.port, 6087);
        assert_int_equal(s->stdin_socket, 0);
        assert_non_null(strstr(s->argv[2], "\n    socket.fromfd = "));
        /* The host's addresses, under the key its entry point reads. */
        assert_string_equal(test_join(s->env), "DISPLAY=:7 VMBA_HOST_CIDRS=10.0.0.1/32 fe80::1/128");
        assert_non_null(strstr(s->argv[2], "\nHOSTS_ENV = '" DISPLAY_HOST_ADDRESSES_ENV "'\n"));
}

static void check_browser_bus(const ServiceDef *s) {
        assert_string_equal(test_join(s->argv),
                            "dbus-daemon --config-file=/var/lib/vmba/browser/bus.conf --nofork --print-address=3 "
                            "--address=unix:path=/var/lib/vmba/browser/bus");
        assert_string_equal(s->user, "vmba-browser");
        assert_int_equal(s->extra_gid, 0);
        assert_int_equal(s->probe.type, PROBE_FD_LINE);
        assert_null(s->depends_on);
        assert_false(s->on_demand);
        assert_string_equal(test_join(s->env), "HOME=/var/lib/vmba/browser");
        assert_string_equal(test_join(s->create_dirs), "/var/lib/vmba/browser");
}

static void check_firefox(const ServiceDef *s) {
        assert_string_equal(test_join(s->argv), "firefox-esr --profile /var/lib/vmba/browser/profile");
        assert_string_equal(s->user, "vmba-browser");
        assert_int_equal(s->extra_gid, 107);
        assert_string_equal(test_join(s->env),
                            "DISPLAY=:7 XAUTHORITY=/var/lib/vmba/browser/.Xauthority HOME=/var/lib/vmba/browser "
                            "TMPDIR=/var/lib/vmba/browser/tmp DBUS_SESSION_BUS_ADDRESS=unix:path=/var/lib/vmba/browser/bus "
                            "MOZ_DISABLE_AUTO_SAFE_MODE=1 MOZ_CRASHREPORTER_DISABLE=1");
        assert_string_equal(test_join(s->create_dirs),
                            "/var/lib/vmba/browser/tmp /var/lib/vmba/browser/profile");
        assert_string_equal(test_join(s->depends_on), "Xvfb browser-bus");
        /* Its user's tasks bounded (a page out of the sandbox forking). */
        assert_int_equal(s->max_procs, 2048);
        /* A start that keeps reaching its memory.max names the key to raise. */
        assert_string_equal(s->memory_max_key, "browser_memory_max_mb");
        assert_true(s->on_demand);
        /* Closed (exit 0), it stays down until the next URL. */
        assert_int_equal(s->restart, RESTART_ON_FAILURE);
        assert_false(s->quit_restarts);
        /* Ready once its first window is restored, not at exec. */
        assert_int_equal(s->probe.type, PROBE_FILE);
        assert_string_equal(s->probe.path, "/var/lib/vmba/browser/profile/sessionCheckpoints.json");
        assert_string_equal(s->probe.expect, "\"sessionstore-windows-restored\":true");
}

/* The built-in stack with the defaults: its services in dependency
 * order, each checked field by field by one function above. */
static void test_display_stack(void **state) {
        static const struct {
                const char *name;
                void (*check)(const ServiceDef *s);
        } stack[] = {
                { "Xvfb", check_xvfb },
                { "x11vnc", check_x11vnc },
                { "websockify", check_websockify },
                { "browser-bus", check_browser_bus },
                { "firefox", check_firefox },
        };
        DisplayOptions c = defaults();
        ServiceDefs d = {};
        char err[256] = "";

        assert_int_equal(display_build_services(&c, &d, err, sizeof err), 0);
        assert_int_equal(d.n, ELEMENTSOF(stack));
        for (size_t i = 0; i < ELEMENTSOF(stack); i++) {
                assert_string_equal(d.services[i].name, stack[i].name);
                stack[i].check(&d.services[i]);
        }
        service_defs_done(&d);
}

/* browser_prestart: the same service, started with the stack, and part of
 * the display chain: closed it comes back, any other exit 0 is a failure. */
static void test_browser_prestart(void **state) {
        DisplayOptions c = defaults();
        ServiceDefs d = {};
        char err[256] = "";
        int i;

        c.browser_prestart = true;
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), 0);
        i = service_defs_find(&d, "firefox");
        assert_true(i >= 0);
        assert_false(d.services[i].on_demand);
        assert_int_equal(d.services[i].restart, RESTART_ALWAYS);
        assert_true(d.services[i].quit_restarts);
        assert_string_equal(test_join(d.services[i].argv), "firefox-esr --profile /var/lib/vmba/browser/profile");
        assert_string_equal(test_join(d.services[i].depends_on), "Xvfb browser-bus");
        service_defs_done(&d);
}

/* The window manager (here sh, found on bin_path like openbox would be)
 * runs as the browser's user with its cookie and HOME; without a browser,
 * or not installed, it is left out. */
static void test_window_manager(void **state) {
        DisplayOptions c = defaults();
        ServiceDefs d = {};
        char err[256] = "";

        c.window_manager = "sh";
        c.bin_path = "/bin";
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), 0);
        assert_int_equal(d.n, 6);
        assert_string_equal(d.services[1].name, "window-manager");
        assert_string_equal(test_join(d.services[1].argv), "sh");
        assert_string_equal(d.services[1].user, "vmba-browser");
        assert_int_equal(d.services[1].extra_gid, 107);
        assert_string_equal(test_join(d.services[1].env),
                            "DISPLAY=:7 XAUTHORITY=/var/lib/vmba/browser/.Xauthority HOME=/var/lib/vmba/browser");
        assert_string_equal(test_join(d.services[1].depends_on), "Xvfb");
        service_defs_done(&d);

        c.browser_user = "";
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), 0);
        assert_int_equal(service_defs_find(&d, "window-manager"), -ENOENT);
        service_defs_done(&d);

        c = defaults();
        c.window_manager = "vmba-no-such-window-manager";
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), 0);
        assert_int_equal(service_defs_find(&d, "window-manager"), -ENOENT);
        service_defs_done(&d);
}

static void test_listen_addresses(void **state) {
        DisplayOptions c = defaults();
        ServiceDefs d = {};
        char err[256] = "";

        /* A specific IPv4 address: probed there, not on loopback. */
        c.vnc_listen = "10.0.0.2";
        c.novnc_listen = "10.0.0.2";
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), 0);
        assert_string_equal(test_join(d.services[1].argv),
                            "x11vnc -display :7 -auth /run/vmba-vnc/Xauthority -rfbport 5907 -listen 10.0.0.2 -no6 "
                            "-rfbportv6 -1 -forever -shared -quiet -noremote -novncconnect -passwdfile /run/vmba-vnc/vnc-password");
        assert_string_equal(d.services[1].probe.host, "10.0.0.2");
        assert_string_equal(d.services[2].argv[9], "10.0.0.2:6087");
        assert_string_equal(d.services[2].probe.host, "10.0.0.2");
        service_defs_done(&d);

        /* IPv6: -listen6 and no IPv4; websockify's address in brackets. */
        c.vnc_listen = "fd00::2";
        c.novnc_listen = "::";
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), 0);
        assert_string_equal(test_join(d.services[1].argv),
                            "x11vnc -display :7 -auth /run/vmba-vnc/Xauthority -rfbport 5907 -listen6 fd00::2 -noipv4 "
                            "-rfbportv6 -1 -forever -shared -quiet -noremote -novncconnect -passwdfile /run/vmba-vnc/vnc-password");
        assert_string_equal(d.services[1].probe.host, "fd00::2");
        assert_string_equal(d.services[2].argv[9], "[::]:6087");
        assert_string_equal(d.services[2].probe.host, "::1");
        service_defs_done(&d);

        /* "" is the wildcard, as the config's default says. */
        c.vnc_listen = "";
        c.novnc_listen = "";
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), 0);
        assert_string_equal(d.services[1].argv[8], "0.0.0.0");
        assert_string_equal(d.services[2].argv[9], "0.0.0.0:6087");
        service_defs_done(&d);

        /* A unix socket in the VNC user's directory: no TCP port at all. */
        c.vnc_listen = "unix";
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), 0);
        assert_string_equal(test_join(d.services[1].argv),
                            "x11vnc -display :7 -auth /run/vmba-vnc/Xauthority -unixsock /run/vmba-vnc/rfb.sock "
                            "-rfbport 0 -no6 -rfbportv6 -1 -forever -shared -quiet -noremote -novncconnect "
                            "-passwdfile /run/vmba-vnc/vnc-password");
        assert_int_equal(d.services[1].probe.type, PROBE_UNIX_BANNER);
        assert_string_equal(d.services[1].probe.path, "/run/vmba-vnc/rfb.sock");
        assert_string_equal(d.services[1].probe.expect, "RFB ");
        service_defs_done(&d);

        assert_string_equal(display_connect_host("0.0.0.0"), "127.0.0.1");
        assert_string_equal(display_connect_host("::"), "::1");
        assert_string_equal(display_connect_host(""), "127.0.0.1");
        assert_string_equal(display_connect_host("fe80::1"), "fe80::1");
}

/* vnc_listen unix where x11vnc's socket, in runtime_dir, cannot be used:
 * refused at start. */
static void test_listen_unix_refused(void **state) {
        DisplayOptions c = defaults();
        ServiceDefs d = {};
        char err[256] = "";
        DesktopPaths longer = {};
        char run[128];

        /* A socket path that does not fit sun_path: said at start,
         * naming the path and the ways out. */
        c.vnc_listen = "unix";
        snprintf(run, sizeof run, "/run/%0*d", 90, 0);
        assert_int_equal(desktop_paths_init(&longer, run, "/var/lib/vmba/browser/profile"), 0);
        assert_int_equal(strlen(longer.vnc_socket), 108);
        c.paths = &longer;
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), -ENAMETOOLONG);
        assert_non_null(strstr(err, "vnc_listen unix: x11vnc's socket /run/000"));
        assert_non_null(strstr(err, "-vnc/rfb.sock is over 107 bytes (a shorter runtime_dir"));
        c.vnc_listen = "127.0.0.1";
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), 0);
        service_defs_done(&d);
        desktop_paths_done(&longer);
        /* A ':' in it: websockify's token file would split there. */
        assert_int_equal(desktop_paths_init(&longer, "/run/a:b", "/var/lib/vmba/browser/profile"), 0);
        c.vnc_listen = "unix";
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), -EINVAL);
        assert_string_equal(err, "vnc_listen unix: x11vnc's socket /run/a:b-vnc/rfb.sock has a ':', which "
                                 "websockify's token file cannot name (a runtime_dir without one)");
        desktop_paths_done(&longer);
}

/* The agent's own listening socket: websockify's stdin (--inetd), no
 * address of its own to bind. */
static void test_novnc_socket(void **state) {
        DisplayOptions c = defaults();
        ServiceDefs d = {};
        char err[256] = "";

        c.novnc_socket = 9;
        c.host_addresses = NULL;
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), 0);
        assert_string_equal(d.services[2].name, "websockify");
        assert_int_equal(d.services[2].stdin_socket, 9);
        assert_string_equal(test_join(d.services[2].argv + 3),
                            "--web /usr/share/novnc --token-plugin TokenFile "
                            "--token-source /run/vmba-vnc/novnc-tokens --inetd");
        /* No host known: the entry says so, empty. */
        assert_string_equal(test_join(d.services[2].env), "DISPLAY=:7 VMBA_HOST_CIDRS=");
        /* Its probe still knows where to knock. */
        assert_string_equal(d.services[2].probe.host, "127.0.0.1");
        assert_int_equal(d.services[2].probe.port, 6087);
        service_defs_done(&d);
}

static void test_vnc_target(void **state) {
        char b[64];

        assert_int_equal(display_vnc_target("unix", 5901, "/run/v/rfb.sock", b, sizeof b), 0);
        assert_string_equal(b, "unix_socket:/run/v/rfb.sock");
        assert_int_equal(display_vnc_target("127.0.0.1", 5901, "/run/v/rfb.sock", b, sizeof b), 0);
        assert_string_equal(b, "127.0.0.1:5901");
        assert_int_equal(display_vnc_target("::", 5901, NULL, b, sizeof b), 0);
        assert_string_equal(b, "::1:5901");
        assert_int_equal(display_vnc_target("", 1, NULL, b, sizeof b), 0);
        assert_string_equal(b, "127.0.0.1:1");
        assert_int_equal(display_vnc_target("unix", 5901, "/run/v/rfb.sock", b, 27), -ENOBUFS);
        assert_int_equal(display_vnc_target("unix", 5901, "/run/v/rfb.sock", b, 28), 0);
}

static void test_no_browser(void **state) {
        DisplayOptions c = defaults();
        ServiceDefs d = {};
        char err[256] = "";

        /* No browser user: neither the bus nor Firefox (never as root). */
        c.browser_user = "";
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), 0);
        assert_int_equal(d.n, 3);
        assert_int_equal(service_defs_find(&d, "firefox"), -ENOENT);
        service_defs_done(&d);
        c = defaults();
        c.firefox = "";
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), 0);
        assert_int_equal(d.n, 3);
        service_defs_done(&d);

        c = defaults();
        c.geometry = "1280x";
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), -EINVAL);
        assert_string_equal(err, "geometry: '1280x' is not of the form WIDTHxHEIGHT");
        c.display = "1";
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), -EINVAL);
        assert_string_equal(err, "display: '1' is not of the form :N");

        c = defaults();
        c.x_user = "";
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), -EINVAL);
        assert_string_equal(err, "x_user: empty, and Xvfb never runs as root");
        c.x_user = "vmba-vnc";
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), -EINVAL);
        assert_string_equal(err, "x_user: 'vmba-vnc' is also vnc_user or browser_user; Xvfb needs a user of its own");
        c.x_user = "vmba-browser";
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), -EINVAL);

        c = defaults();
        c.vnc_user = "";
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), -EINVAL);
        assert_string_equal(err, "vnc_user: empty, and x11vnc and websockify never run as root");
        c.vnc_user = "vmba-browser";
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), -EINVAL);
        assert_string_equal(err, "vnc_user: 'vmba-browser' is also browser_user; the servers facing the network "
                                 "would reach the browser's profile");
        c.browser_user = "";
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), 0);
        service_defs_done(&d);
}

static void test_paths_and_texts(void **state) {
        DesktopPaths p = {};
        char *t = NULL;

        assert_string_equal(paths.xauthority, "/run/vmba/Xauthority");
        assert_string_equal(paths.x_dir, "/run/vmba-x");
        assert_string_equal(paths.x_xauthority, "/run/vmba-x/Xauthority");
        assert_string_equal(paths.vnc_dir, "/run/vmba-vnc");
        assert_string_equal(paths.vnc_xauthority, "/run/vmba-vnc/Xauthority");
        assert_string_equal(paths.vnc_password, "/run/vmba-vnc/vnc-password");
        assert_string_equal(paths.novnc_tokens, "/run/vmba-vnc/novnc-tokens");
        assert_string_equal(paths.vnc_socket, "/run/vmba-vnc/rfb.sock");
        assert_string_equal(paths.browser_dir, "/var/lib/vmba/browser");
        assert_string_equal(paths.browser_tmp, "/var/lib/vmba/browser/tmp");
        assert_string_equal(paths.browser_xauthority, "/var/lib/vmba/browser/.Xauthority");
        assert_string_equal(paths.bus_socket, "/var/lib/vmba/browser/bus");
        assert_string_equal(paths.bus_config, "/var/lib/vmba/browser/bus.conf");
        /* The browser's directory is handed to its user: never "/", and
         * only plain absolute paths. */
        assert_int_equal(desktop_paths_init(&p, "/run/vmba", "/profile"), -EINVAL);
        assert_int_equal(desktop_paths_init(&p, "/run/vmba", "profile/x"), -EINVAL);
        assert_int_equal(desktop_paths_init(&p, "/run/vmba", "/var/lib/../x/profile"), -EINVAL);
        assert_int_equal(desktop_paths_init(&p, "/run/vmba", "/var/lib//x"), -EINVAL);
        assert_int_equal(desktop_paths_init(&p, "/run/vmba", "/var/lib/x/"), -EINVAL);
        assert_int_equal(desktop_paths_init(&p, "/", "/var/lib/x/p"), -EINVAL);
        assert_int_equal(desktop_paths_init(&p, "run", "/var/lib/x/p"), -EINVAL);
        assert_null(p.browser_dir);

        assert_int_equal(desktop_vnc_password_text("abcdefgh-and-more", &t), 0);
        assert_string_equal(t, "abcdefgh-and-more\n");
        free(t);
        assert_int_equal(desktop_vnc_password_text("short", &t), -EINVAL);
        assert_int_equal(desktop_novnc_tokens_text("abcdefgh-and-more", "127.0.0.1:5901", &t), 0);
        assert_string_equal(t, "abcdefgh-and-more: 127.0.0.1:5901\n");
        free(t);
        /* IPv6 bare: websockify splits host and port at the last ':'. */
        assert_int_equal(desktop_novnc_tokens_text("abcdefgh-and-more", "::1:5901", &t), 0);
        assert_string_equal(t, "abcdefgh-and-more: ::1:5901\n");
        free(t);
        assert_int_equal(desktop_novnc_tokens_text("abcdefgh-and-more", "unix_socket:/run/vmba-vnc/rfb.sock", &t), 0);
        assert_string_equal(t, "abcdefgh-and-more: unix_socket:/run/vmba-vnc/rfb.sock\n");
        free(t);
        assert_int_equal(desktop_novnc_tokens_text("abc: defgh", "::1:5901", &t), -EINVAL);
        assert_int_equal(desktop_novnc_tokens_text("abcdefgh-and-more", "[::1]:5901", &t), -EINVAL);
        assert_int_equal(desktop_novnc_tokens_text("abcdefgh-and-more", "unix_socket:/a b", &t), -EINVAL);
        assert_int_equal(desktop_novnc_tokens_text("abcdefgh-and-more", "unix_socket:/run/a:b/rfb.sock", &t), -EINVAL);
        assert_int_equal(desktop_novnc_tokens_text("abcdefgh-and-more", "host", &t), -EINVAL);
        assert_int_equal(desktop_novnc_tokens_text("abcdefgh-and-more", ":5901", &t), -EINVAL);
        assert_int_equal(desktop_novnc_tokens_text("abcdefgh-and-more", "host:", &t), -EINVAL);
        assert_int_equal(desktop_novnc_tokens_text("abcdefgh-and-more", NULL, &t), -EINVAL);

        assert_int_equal(desktop_bus_config_text(998, &t), 0);
        assert_non_null(strstr(t, "<allow user=\"998\"/>\n    <allow user=\"0\"/>\n"));
        assert_non_null(strstr(t, "<auth>EXTERNAL</auth>"));
        assert_null(strstr(t, "servicedir"));   /* no activation: no at-spi */
        assert_null(strstr(t, "<include"));
        free(t);
        assert_int_equal(desktop_bus_config_text(0, &t), -EINVAL);
}

/* Xvfb's keymap directory: x_user's, writable by it and no one else. */
static void test_xkm_dir_ok(void **state) {
        static const struct {
                mode_t mode;
                uid_t owner;
                bool ok;
        } t[] = {
                { S_IFDIR | 0700, 3, true },   /* the image's */
                { S_IFDIR | 0755, 3, true },   /* others may read, not write */
                { S_IFDIR | 0500, 3, false },  /* not writable */
                { S_IFDIR | 0600, 3, false },  /* not searchable */
                { S_IFDIR | 0770, 3, false },  /* its group is the X clients' */
                { S_IFDIR | 0703, 3, false },  /* anyone's */
                { S_IFDIR | 01777, 3, false }, /* a sticky /tmp of its own is still anyone's */
                { S_IFDIR | 0755, 0, false },  /* Debian's, root's: Xvfb writes into /tmp */
                { S_IFDIR | 0777, 0, false },
                { S_IFREG | 0700, 3, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                print_message("%o uid %u\n", (unsigned)t[i].mode, (unsigned)t[i].owner);
                assert_int_equal(display_xkm_dir_ok(t[i].mode, t[i].owner, 3), t[i].ok);
        }
}

static void test_display_number(void **state) {
        assert_int_equal(display_number(":0"), 0);
        assert_int_equal(display_number(":99"), 99);
        assert_int_equal(display_number(":1.0"), 1);
        assert_int_equal(display_number(":1."), -EINVAL);
        assert_int_equal(display_number("1"), -EINVAL);
        assert_int_equal(display_number(":"), -EINVAL);
        assert_int_equal(display_number(":x"), -EINVAL);
        assert_int_equal(display_number("host:1"), -EINVAL);
        assert_int_equal(display_number(":999999"), -EINVAL);
        assert_int_equal(display_number(NULL), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_display_stack),
                cmocka_unit_test(test_novnc_socket),
                cmocka_unit_test(test_vnc_target),
                cmocka_unit_test(test_no_shared_memory),
                cmocka_unit_test(test_browser_prestart),
                cmocka_unit_test(test_window_manager),
                cmocka_unit_test(test_listen_addresses),
                cmocka_unit_test(test_listen_unix_refused),
                cmocka_unit_test(test_no_browser),
                cmocka_unit_test(test_paths_and_texts),
                cmocka_unit_test(test_display_number),
                cmocka_unit_test(test_xkm_dir_ok),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
