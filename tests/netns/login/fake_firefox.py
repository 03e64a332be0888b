#!/usr/bin/python3
"""Stands in for firefox-esr in test_open_url_argv: appends its argv (as
JSON, one line) to firefox-argv.log next to its profile, then, as Firefox
153 does, owns org.mozilla.firefox.<Base64(profile)> on its session bus
($DBUS_SESSION_BUS_ADDRESS) and serves OpenURL(ay) on
/org/mozilla/firefox/Remote: each call's command line (cwd, argv) is
appended as ["remote", cwd, argv...].  Like Firefox, it writes its
start-up milestones to the profile's sessionCheckpoints.json, the last
("sessionstore-windows-restored", the agent's readiness signal) after its
bus name is owned.  With a file refuse-open-url next to its profile, OpenURL
fails with org.freedesktop.DBus.Error.AccessDenied (a browser that cannot
show the URL).  With a file crash-on-open-url there, the next OpenURL is
recorded, the file removed and the instance killed (SIGKILL) before it
answers: a Firefox that crashes with a URL handed over (once), whose
call the bus answers NoReply.  With a file slow-exit there, SIGTERM is
recorded as ["term"] and the instance, its name and OpenURL stay until a
file exit-now appears (a Firefox slow to shut down).  With a file quit-now
there (the person closed its last window), the instance gives its bus name
up, recorded as ["quit"], as Firefox does early in its shutdown (its remote
server goes at quit-application), removes the file, and exits 0 once a
file exit-now appears: a Firefox between giving up its name and exiting.  With a
file hold-open-url there, OpenURL is recorded and answered only once that
file is gone (a Firefox slow to answer, on its bus all along).  With a file
exit-at-start there, each instance records its argv and exits 0 before
its bus name and its milestones (a Firefox whose profile is broken).
Needs python3-dbus and python3-gi."""
import base64
import json
import os
import re
import signal
import struct
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

profile = sys.argv[sys.argv.index("--profile") + 1]
log = os.path.join(os.path.dirname(profile), "firefox-argv.log")


def record(entry):
    with open(log, "a") as f:
        f.write(json.dumps(entry) + "\n")


def command_line(blob):
    """Firefox's OpenURL argument: int32 argc, int32 offsets, cwd, argv."""
    argc = struct.unpack_from("<i", blob)[0]
    offsets = struct.unpack_from(f"<{argc}i", blob, 4)
    def cstr(at):
        return blob[at:blob.index(b"\0", at)].decode()
    return [cstr(4 + 4 * argc)] + [cstr(o) for o in offsets]


class Refused(dbus.DBusException):
    _dbus_error_name = "org.freedesktop.DBus.Error.AccessDenied"


class Remote(dbus.service.Object):
    @dbus.service.method("org.mozilla.firefox", in_signature="ay", out_signature="", byte_arrays=True,
                         async_callbacks=("reply", "error"))
    def OpenURL(self, blob, reply, error):
        record(["remote"] + command_line(bytes(blob)))
        if beside("crash-on-open-url"):
            os.unlink(os.path.join(os.path.dirname(profile), "crash-on-open-url"))
            os.kill(os.getpid(), signal.SIGKILL)
        if os.path.exists(os.path.join(os.path.dirname(profile), "refuse-open-url")):
            error(Refused("the test refuses this URL"))
        elif beside("hold-open-url"):
            GLib.timeout_add(20, answer_when_let, reply)
        else:
            reply()


def answer_when_let(reply):
    if beside("hold-open-url"):
        return True  # asked again
    reply()
    return False


record(sys.argv[1:])
if os.path.exists(os.path.join(os.path.dirname(profile), "exit-at-start")):
    sys.exit(0)
DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(os.environ["DBUS_SESSION_BUS_ADDRESS"])
name = "org.mozilla.firefox." + re.sub(r"[^A-Za-z0-9_]", "_",
                                       base64.b64encode(os.path.realpath(profile).encode()).decode())
checkpoints = os.path.join(profile, "sessionCheckpoints.json")


def milestones(**m):
    with open(checkpoints + ".tmp", "w") as f:
        json.dump(m, f, separators=(",", ":"))  # compact, as Firefox writes it
    os.rename(checkpoints + ".tmp", checkpoints)


loop = GLib.MainLoop()


def beside(name):
    return os.path.exists(os.path.join(os.path.dirname(profile), name))


def exit_when_told():
    if not beside("exit-now"):
        return True  # asked again
    loop.quit()
    return False


def on_term():
    if not beside("slow-exit"):
        loop.quit()
        return False
    record(["term"])
    GLib.timeout_add(20, exit_when_told)
    return False


def quit_when_told():
    if not beside("quit-now"):
        return True  # asked again
    os.unlink(os.path.join(os.path.dirname(profile), "quit-now"))
    remote.remove_from_connection()
    bus.release_name(name)
    record(["quit"])
    GLib.timeout_add(20, exit_when_told)
    return False


# Before the readiness milestone: a SIGTERM after it is always seen.
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, on_term)

milestones(**{"profile-after-change": True, "final-ui-startup": True})
keep = dbus.service.BusName(name, bus)
remote = Remote(bus, "/org/mozilla/firefox/Remote")
GLib.timeout_add(20, quit_when_told)
milestones(**{"profile-after-change": True, "final-ui-startup": True, "sessionstore-windows-restored": True})
loop.run()
