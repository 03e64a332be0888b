/* Smoke test for the statically linked libsystemd's sd-bus, built by
 * packaging/static-build with the same archive as the agent (whose internal
 * symbols static-build renamed) and run by tests/netns/test_static.py
 * against a private dbus-daemon.  The agent asks systemd over the system
 * bus to reboot; this proves the static sd-bus connects, authenticates,
 * calls a method and maps a D-Bus error name to its errno (the table
 * libsystemd collects from a linker section, which a wrong symbol rename or
 * --gc-sections would lose).  Uses $DBUS_SESSION_BUS_ADDRESS. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>

#define DBUS_NAME "org.freedesktop.DBus"
#define DBUS_PATH "/org/freedesktop/DBus"

int main(void) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        sd_bus *bus = NULL;
        const char *id;
        int r;

        r = sd_bus_open_user(&bus);
        if (r < 0) {
                fprintf(stderr, "sd_bus_open_user: %s\n", strerror(-r));
                return 1;
        }
        r = sd_bus_call_method(bus, DBUS_NAME, DBUS_PATH, DBUS_NAME, "GetId", &error, &reply, "");
        if (r < 0 || sd_bus_message_read(reply, "s", &id) < 0) {
                fprintf(stderr, "GetId: %s\n", strerror(-r));
                return 1;
        }
        printf("GetId: %zu hex digits\n", strspn(id, "0123456789abcdef"));
        reply = sd_bus_message_unref(reply);
        r = sd_bus_call_method(bus, DBUS_NAME, DBUS_PATH, DBUS_NAME, "NoSuchMethod", &error, &reply, "");
        printf("NoSuchMethod: %s -> %s\n", error.name ? error.name : "(none)",
               r == -EBADR ? "EBADR" : strerror(-r));
        sd_bus_error_free(&error);
        sd_bus_flush_close_unref(bus);
        return 0;
}
