/* Window operations on the VM's display through libxdo (no xdotool
 * binary): find the browser's windows, size them to the screen, raise and
 * focus them, so the person watching through noVNC sees the sign-in page
 * and nothing else.
 *
 * This runs in a child of its own ("vm-browser-agent arrange-window"),
 * started by the browser as the browser's user, never in the agent:
 * Xlib's default handlers exit the process on a protocol error (a window
 * gone between the search and the move) or a broken connection (Xvfb
 * crashed), and any client with the cookie can stall every other one
 * with a server grab.  In PID 1 either would end or hang the VM; here
 * they end or hang only the child, which the agent kills when it is
 * replaced or the browser goes, and whose alarm bounds its life. */
#pragma once

#define XDO_WINDOW_VERB "arrange-window"

/* "arrange-window" DISPLAY WM_CLASS_REGEX TIMEOUT_S: arranges every visible
 * window of that class now, else the first time one is mapped (MapNotify
 * on the root window), then exits 0; exits 1 when none appeared within
 * TIMEOUT_S (SIGALRM) or the display went away, 2 on bad arguments.  The
 * cookie comes from $XAUTHORITY. */
int xdo_window_main(int argc, char **argv);
