/* Smoke test for the statically linked X stack (libxdo, libX11, libxcb,
 * libXtst, libXinerama, libxkbcommon), built by packaging/static-build with
 * the same archives and flags as the agent and run by
 * tests/netns/test_static.py against a private Xvfb.  The agent's own
 * libxdo code paths are only reached through a real login, so this proves
 * early that the static link works at run time: connect over the unix
 * socket, query the screen, move the pointer through XTEST and type text
 * that needs a keysym remap (the path that calls into libxkbcommon).
 * Prints one fixed line per step; exits non-zero at the first failure. */
#include <stdio.h>
#include <stdlib.h>
#include <xdo.h>

int main(int argc, char **argv) {
        unsigned int w = 0, h = 0;
        int x = -1, y = -1, screen = -1;
        xdo_t *xdo;

        if (argc != 2) {
                fprintf(stderr, "usage: %s DISPLAY\n", argv[0]);
                return 2;
        }
        xdo = xdo_new(argv[1]);
        if (!xdo) {
                fprintf(stderr, "cannot open display %s\n", argv[1]);
                return 1;
        }
        if (xdo_get_viewport_dimensions(xdo, &w, &h, 0) != 0)
                return 1;
        printf("viewport %ux%u\n", w, h);
        if (xdo_move_mouse(xdo, 123, 45, 0) != 0 ||
            xdo_get_mouse_location(xdo, &x, &y, &screen) != 0)
                return 1;
        printf("mouse %d,%d screen %d\n", x, y, screen);
        printf("text %d\n", xdo_enter_text_window(xdo, CURRENTWINDOW, "a\xc3\xa9", 0));
        xdo_free(xdo);
        return 0;
}
