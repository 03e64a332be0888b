/* The CLI's terminal as a person would see it: a libvterm screen of the
 * PTY's size, fed the CLI's output, rendered as text for the prompt rules
 * and the URL scan.  TUIs place words with cursor moves (Claude Code draws
 * "Choose" at column 2 and "the" at column 9 with CSI n G) and redraw
 * whole screens; on the rendered screen those are blanks and one screen,
 * where a stripped byte stream had "Choosethe" and every frame again.
 * The answers a terminal owes the CLI (cursor position, device attributes
 * and status) are libvterm's; the colour queries (OSC 10/11), which
 * libvterm 0.1.4 does not answer, are answered here.  Pure: no syscalls.
 * The screen may hold secrets the CLI printed: what it frees is wiped. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define SCREEN_ROWS_MAX 200
#define SCREEN_COLS_MAX 1000
#define SCREEN_SCROLLBACK_MAX (64 * 1024) /* bytes of scrolled-off text kept between looks */
#define SCREEN_SCROLLBACK_ROWS 1024
#define SCREEN_REPLIES_MAX 4096           /* answers owed between two takes; more are dropped */
#define SCREEN_LINKS_MAX 8                /* OSC 8 link targets kept between looks */
#define SCREEN_LINK_MAX 8192              /* bytes in one link target */

typedef struct Screen Screen;

typedef enum ScreenFlags {
        /* LF also returns the carriage: output from a pipe, where no tty
         * turned "\n" into "\r\n". */
        SCREEN_NEWLINE = 1 << 0,
} ScreenFlags;

typedef struct ScreenRow {
        size_t offset;   /* where the row's text starts in ScreenView.text */
        uint64_t number; /* rows printed above it since the start: it keeps
                          * its number while it scrolls up and off */
} ScreenRow;

/* One look at the screen: the rows that scrolled off since the last look,
 * then the visible rows, top to bottom.  A row ends with '\n' unless it
 * continues on the next one (its last column holds text: the terminal
 * wrapped it, or the CLI broke a long line at the width), so a URL
 * wrapped across rows is one word.  Cells the CLI skipped with cursor
 * moves show as spaces, spaces at the end of a row are dropped, the right
 * half of a wide character takes no place.  Everything is borrowed from
 * the Screen until the next screen_feed() or screen_look(). */
typedef struct ScreenView {
        const char *text;  /* NUL-terminated UTF-8, no NUL inside */
        size_t size;
        const ScreenRow *rows;
        size_t n_rows;
        /* Where the cursor touches the text: the offset of the character
         * under it, or just past the character left of it; SIZE_MAX when
         * only blanks are around it.  Text at the cursor may still be
         * being written. */
        size_t cursor;
        /* OSC 8 hyperlink targets printed since the last look, oldest
         * first, NULL-terminated.  Only targets that arrived whole. */
        char *const *links;
} ScreenView;

/* rows, cols: the PTY's size (1..SCREEN_ROWS_MAX, 1..SCREEN_COLS_MAX);
 * flags: ScreenFlags.  0, -EINVAL or -ENOMEM. */
int screen_new(unsigned rows, unsigned cols, unsigned flags, Screen **ret);
Screen *screen_free(Screen *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Screen *, screen_free);

/* Feeds the CLI's output (any bytes, any split). */
void screen_feed(Screen *s, const char *buf, size_t n);
/* The answers to the terminal queries fed since the last take, in order,
 * to be written back to the CLI; borrowed until the next call of any
 * screen_*(); *ret_size is 0 when there is nothing to answer. */
const char *screen_take_replies(Screen *s, size_t *ret_size);
/* Renders the screen into *ret.  The rows that scrolled off are shown by
 * one look only (those continuing onto the visible rows are shown again
 * with them).  0 or -ENOMEM. */
int screen_look(Screen *s, ScreenView *ret);
