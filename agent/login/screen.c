/* See screen.h.  libvterm (0.1.4, Debian 12) keeps the cells; we keep the
 * rows it pushes off the top (sb_pushline) as text until the next look, so
 * a prompt followed by a screenful of output in the same read is still
 * seen once.  libvterm 0.1.4 does not say which rows it wrapped (0.2 has
 * VTermLineInfo.continuation): a row whose last column holds text is taken
 * as continuing on the next, which also joins a line the CLI itself broke
 * at the width.
 *
 * Quirks of libvterm 0.1.4 worked around here (test-screen shows each):
 * - it answers no OSC queries;
 * - an OSC string split across two writes reaches the callback as its
 *   last piece only, so an OSC or DCS left unfinished at the end of a
 *   read is held back and fed with the rest of it;
 * - the string before an ST gets the length SIZE_MAX (and libvterm reads
 *   past the buffer it was given) when anything came between the ESC and
 *   the backslash: the end of a write (an ESC at the end waits for the
 *   next read), NUL or DEL (dropped: libvterm ignores them anyway) or
 *   another control (moved before the ESC: it is executed the same);
 * - its UTF-8 decoder keeps a sequence cut short by a control or an
 *   escape sequence and then writes one code point more than the stack
 *   array it decodes into holds, and it prints a C1 control sent as UTF-8
 *   (U+0080..U+009F) as a glyph of width -1, which walks the cursor off
 *   the screen (in insert mode, then, a move reads from a NULL row): UTF-8
 *   is checked here (a broken sequence and a C1 control become U+FFFD, a
 *   sequence split across reads waits for its end);
 * - it knows no APC, PM or SOS string (ESC _, ESC ^, ESC X: kitty's
 *   graphics queries are APCs) and prints the payload as text, where a
 *   terminal shows nothing: such a string is dropped here, up to ST or
 *   BEL (as it ends an OSC), CAN or SUB, or an ESC that starts another
 *   sequence;
 * - DECRQSS (DCS $ q) for a setting it does not know passes an int to
 *   printf where a string goes: such a request is made one nothing
 *   answers ("!q");
 * - REP (CSI n b, repeat the last character) loops forever when no
 *   character was printed yet: its final byte is replaced by one no
 *   sequence uses, so the repeats are not drawn (ncurses uses REP, the
 *   CLIs we run do not);
 * - a CSI with more than 16 arguments is written past the end of its
 *   argument array, over the parser's callbacks: separators past the 16th
 *   argument are dropped and the sequence made unknown (it is not one a
 *   CLI sends); an argument's digits past CSI_DIGITS_MAX are dropped too
 *   (libvterm accumulates them in a long that overflows).
 * Not worked around: it does not check its allocations (a failed one
 * crashes inside libvterm). */
#include <vterm.h>

#include "macro.h"
#include "screen.h"

#define CELL_BYTES (VTERM_MAX_CHARS_PER_CELL * 4) /* UTF-8 of one cell, at most */
#define OSC_HELD_MAX (SCREEN_LINK_MAX + 64)       /* an unfinished OSC held back, at most */
/* Bytes fed to libvterm at a time, at most: it keeps a text run's code
 * points in an array on the stack as long as the write. */
#define FEED_PIECE 8192
#define CSI_SEPS_MAX 15                           /* libvterm 0.1.4 has room for 16 arguments */
#define CSI_DIGITS_MAX 5                          /* 99999 is past any size or count */

enum {
        SCAN_GROUND,
        SCAN_ESC,
        SCAN_OSC,
        SCAN_DCS,
        SCAN_CSI_LEADER,
        SCAN_CSI_ARGS,
        SCAN_CSI_INTERMED,
        SCAN_IGNORE,        /* in an APC, PM or SOS string: dropped */
        SCAN_IGNORE_ESC,    /* after an ESC in one */
};

#define DROP_WITH_ESC (-2) /* track(): drop the byte and the ESC before it */

typedef struct SbRow {
        size_t offset, size;
        uint64_t number;
        bool continued;
} SbRow;

struct Screen {
        VTerm *vt;
        VTermScreen *screen;
        unsigned rows, cols;
        size_t row_max;                  /* bytes of one rendered row, at most */
        VTermScreenCell *cells;          /* one row, for rendering */

        /* Rows pushed off the top since the last look. */
        char *sb_text;
        size_t sb_size, sb_max;
        SbRow *sb_rows;
        size_t n_sb;
        uint64_t pushed;                 /* rows ever pushed off */

        /* The bytes being fed: an OSC string inside them came whole. */
        const char *feeding;
        size_t feeding_size;
        int scan;                        /* SCAN_*: where the bytes filtered so far end */
        unsigned csi_seps, csi_digits;   /* in the CSI being filtered, its argument */
        size_t string_at;                /* in scratch: the OSC's "]" or the DCS's "P", or SIZE_MAX */
        char dcs[4];                     /* the DCS's first bytes (n_dcs 5: more) */
        size_t n_dcs, dcs_q;             /* dcs_q: in scratch, its first byte, or SIZE_MAX */
        bool esc;                        /* an ESC is waiting for the byte after it */
        bool esc_last;                   /* the last byte put was an ESC (in scratch, just before) */
        unsigned char utf8[4];           /* a UTF-8 sequence waiting for its end */
        size_t n_utf8, utf8_need;
        char held[OSC_HELD_MAX];         /* an unfinished OSC or DCS, from its "]" or "P" */
        size_t n_held;
        /* What libvterm is fed: at most 3 bytes (U+FFFD) per byte given,
         * and what waited from the last read. */
        char scratch[OSC_HELD_MAX + 3 * FEED_PIECE + 8];

        char replies[SCREEN_REPLIES_MAX];
        size_t n_replies;

        char *links[SCREEN_LINKS_MAX + 1];      /* since the last look */
        size_t n_links;
        char *view_links[SCREEN_LINKS_MAX + 1]; /* handed out by the last look */

        char *text;                      /* the last look */
        size_t text_size, text_alloc;
        ScreenRow *view_rows;            /* SCREEN_SCROLLBACK_ROWS + rows */
};

/* libvterm wants zeroed memory.  Each block carries its size so that it
 * is wiped when freed: the cells hold what the CLI printed. */
static void *vt_malloc(size_t size, void *allocdata) {
        max_align_t *p;

        if (size > SIZE_MAX - sizeof(max_align_t))
                return NULL;
        p = calloc(1, sizeof(max_align_t) + size);
        if (!p)
                return NULL;
        *(size_t *)p = size;
        return p + 1;
}

static void vt_free(void *ptr, void *allocdata) {
        max_align_t *p = ptr;

        if (!p)
                return;
        p--;
        explicit_bzero(p, sizeof(max_align_t) + *(size_t *)p);
        free(p);
}

static size_t utf8_put(uint32_t c, char *out) {
        /* Controls cannot be glyphs; libvterm's decoder still yields code
         * points above U+10FFFF from 5- and 6-byte sequences. */
        if (c < 0x20 || (c >= 0x7f && c < 0xa0) || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
                c = 0xfffd;
        if (c < 0x80) {
                out[0] = (char)c;
                return 1;
        }
        if (c < 0x800) {
                out[0] = (char)(0xc0 | (c >> 6));
                out[1] = (char)(0x80 | (c & 0x3f));
                return 2;
        }
        if (c < 0x10000) {
                out[0] = (char)(0xe0 | (c >> 12));
                out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
                out[2] = (char)(0x80 | (c & 0x3f));
                return 3;
        }
        out[0] = (char)(0xf0 | (c >> 18));
        out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
        out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
        out[3] = (char)(0x80 | (c & 0x3f));
        return 4;
}

/* A cell never written or erased (0), or holding a space: TUIs pad rows
 * with spaces as often as they skip cells. */
static bool cell_blank(const VTermScreenCell *c) {
        return c->chars[0] == 0 || c->chars[0] == ' ';
}

/* One row of cells as text into out (row_max bytes): blanks between text
 * as spaces, none at the end, nothing for the right half of a wide
 * character (chars[0] == -1).  cursor_col: the cursor's column on this
 * row or -1; *cursor is set where it touches text (see ScreenView). */
static size_t row_render(const VTermScreenCell *cells, unsigned cols, int cursor_col, char *out, size_t *cursor) {
        size_t n = 0, blanks = 0;
        bool after_text = false;

        for (unsigned c = 0; c < cols; c++) {
                uint32_t ch = cells[c].chars[0];

                if ((int)c == cursor_col) {
                        if (!cell_blank(&cells[c]))
                                *cursor = n + blanks;
                        else if (after_text)
                                *cursor = n;
                }
                if (cell_blank(&cells[c])) {
                        blanks++;
                        after_text = false;
                        continue;
                }
                if (ch == (uint32_t)-1)
                        continue;
                for (; blanks > 0; blanks--)
                        out[n++] = ' ';
                for (size_t i = 0; i < VTERM_MAX_CHARS_PER_CELL && cells[c].chars[i]; i++)
                        n += utf8_put(cells[c].chars[i], out + n);
                after_text = true;
        }
        return n;
}

static bool row_continued(const VTermScreenCell *cells, unsigned cols) {
        return !cell_blank(&cells[cols - 1]);
}

/* Forgets the k oldest pushed rows. */
static void sb_drop(Screen *s, size_t k) {
        size_t cut = k < s->n_sb ? s->sb_rows[k].offset : s->sb_size;

        memmove(s->sb_text, s->sb_text + cut, s->sb_size - cut);
        s->sb_size -= cut;
        memmove(s->sb_rows, s->sb_rows + k, (s->n_sb - k) * sizeof *s->sb_rows);
        s->n_sb -= k;
        for (size_t i = 0; i < s->n_sb; i++)
                s->sb_rows[i].offset -= cut;
}

static int on_pushline(int cols, const VTermScreenCell *cells, void *user) {
        Screen *s = user;
        size_t ignored = SIZE_MAX;
        SbRow *row;

        /* Bounded: a CLI can push rows faster than it writes bytes (DECALN
         * fills the screen in 3), so the oldest unseen rows go first. */
        while (s->n_sb == SCREEN_SCROLLBACK_ROWS || s->sb_max - s->sb_size < s->row_max)
                sb_drop(s, MAX(s->n_sb / 2, (size_t)1));
        row = &s->sb_rows[s->n_sb++];
        row->offset = s->sb_size;
        row->size = row_render(cells, (unsigned)cols, -1, s->sb_text + s->sb_size, &ignored);
        row->number = s->pushed++;
        row->continued = row_continued(cells, (unsigned)cols);
        s->sb_size += row->size;
        return 1;
}

static void reply_add(Screen *s, const char *b, size_t n) {
        /* A CLI asks a handful of questions; past the limit they go
         * unanswered rather than grow the buffer. */
        if (n > SCREEN_REPLIES_MAX - s->n_replies)
                return;
        memcpy(s->replies + s->n_replies, b, n);
        s->n_replies += n;
}

static void on_output(const char *b, size_t n, void *user) {
        reply_add(user, b, n);
}

static bool osc_whole(const Screen *s, const char *command, size_t size) {
        uintptr_t p = (uintptr_t)command, start = (uintptr_t)s->feeding;

        return s->feeding && p >= start && p - start <= s->feeding_size && size <= s->feeding_size - (p - start);
}

/* OSC 8 ; params ; target */
static void link_add(Screen *s, const char *command, size_t size) {
        const char *target = memchr(command + 2, ';', size - 2);
        size_t n;

        if (!target || s->n_links == SCREEN_LINKS_MAX)
                return;
        target++;
        n = size - (size_t)(target - command);
        if (n == 0 || n > SCREEN_LINK_MAX || memchr(target, '\0', n))
                return;
        s->links[s->n_links] = strndup(target, n);
        if (s->links[s->n_links])
                s->n_links++;
}

static bool osc_is(const char *command, size_t size, const char *s) {
        return size == strlen(s) && memcmp(command, s, size) == 0;
}

/* OSCs libvterm did not handle: the colour queries, answered as a dark
 * terminal would (white on black), and hyperlinks. */
static int on_osc(const char *command, size_t size, void *user) {
        static const struct {
                const char *query, *answer;
        } colours[] = {
                { "10;?", "\x1b]10;rgb:ffff/ffff/ffff\x1b\\" },
                { "11;?", "\x1b]11;rgb:0000/0000/0000\x1b\\" },
        };
        Screen *s = user;

        if (!osc_whole(s, command, size))
                return 1; /* a piece (see the top of this file): not ours to read */
        for (size_t i = 0; i < ELEMENTSOF(colours); i++)
                if (osc_is(command, size, colours[i].query)) {
                        reply_add(s, colours[i].answer, strlen(colours[i].answer));
                        return 1;
                }
        if (size > 2 && memcmp(command, "8;", 2) == 0) {
                link_add(s, command, size);
                return 1;
        }
        return 0;
}

static const VTermScreenCallbacks screen_callbacks = {
        .sb_pushline = on_pushline,
};

static const VTermParserCallbacks fallbacks = {
        .osc = on_osc,
};

/* libvterm takes a non-const pointer but only reads it. */
static const VTermAllocatorFunctions allocator = {
        .malloc = vt_malloc,
        .free = vt_free,
};

int screen_new(unsigned rows, unsigned cols, unsigned flags, Screen **ret) {
        _cleanup_(screen_freep) Screen *s = NULL;

        if (rows == 0 || rows > SCREEN_ROWS_MAX || cols == 0 || cols > SCREEN_COLS_MAX)
                return -EINVAL;
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->rows = rows;
        s->cols = cols;
        s->string_at = s->dcs_q = SIZE_MAX;
        s->row_max = (size_t)cols * CELL_BYTES;
        s->sb_max = MAX((size_t)SCREEN_SCROLLBACK_MAX, 2 * s->row_max);
        s->sb_text = malloc(s->sb_max);
        s->sb_rows = calloc(SCREEN_SCROLLBACK_ROWS, sizeof *s->sb_rows);
        s->view_rows = calloc(SCREEN_SCROLLBACK_ROWS + rows, sizeof *s->view_rows);
        s->cells = calloc(cols, sizeof *s->cells);
        if (!s->sb_text || !s->sb_rows || !s->view_rows || !s->cells)
                return -ENOMEM;
        s->vt = vterm_new_with_allocator((int)rows, (int)cols, (VTermAllocatorFunctions *)&allocator, NULL);
        if (!s->vt)
                return -ENOMEM;
        vterm_set_utf8(s->vt, 1);
        vterm_output_set_callback(s->vt, on_output, s);
        s->screen = vterm_obtain_screen(s->vt);
        vterm_screen_set_callbacks(s->screen, &screen_callbacks, s);
        vterm_screen_set_unrecognised_fallbacks(s->screen, &fallbacks, s);
        vterm_screen_reset(s->screen, 1);
        if (flags & SCREEN_NEWLINE)
                vterm_input_write(s->vt, "\x1b[20h", 5); /* LNM */
        *ret = TAKE_PTR(s);
        return 0;
}

static void links_free(char **l) {
        for (; *l; l++)
                *l = erase_and_free(*l);
}

Screen *screen_free(Screen *s) {
        if (!s)
                return NULL;
        if (s->vt)
                vterm_free(s->vt);
        if (s->sb_text)
                explicit_bzero(s->sb_text, s->sb_max);
        free(s->sb_text);
        free(s->sb_rows);
        free(s->view_rows);
        if (s->cells)
                explicit_bzero(s->cells, s->cols * sizeof *s->cells);
        free(s->cells);
        if (s->text)
                explicit_bzero(s->text, s->text_alloc);
        free(s->text);
        links_free(s->links);
        links_free(s->view_links);
        explicit_bzero(s, sizeof *s);
        free(s);
        return NULL;
}

static void input(Screen *s, const char *buf, size_t n) {
        s->feeding = buf;
        s->feeding_size = n;
        (void)vterm_input_write(s->vt, buf, n);
        s->feeding = NULL;
        s->feeding_size = 0;
}

/* A CSI argument byte as libvterm may be given it: a separator past the
 * arguments it has room for, or a digit past CSI_DIGITS_MAX in one
 * argument, is dropped (-1). */
static int csi_arg_byte(Screen *s, unsigned char c) {
        if (c == ';' || c == ':') {
                s->csi_digits = 0;
                s->csi_seps = MIN(s->csi_seps + 1, CSI_SEPS_MAX + 1u);
                return s->csi_seps > CSI_SEPS_MAX ? -1 : c;
        }
        s->csi_digits = MIN(s->csi_digits + 1, CSI_DIGITS_MAX + 1u);
        return s->csi_digits > CSI_DIGITS_MAX ? -1 : c;
}

/* A DCS libvterm 0.1.4 acts on is DECRQSS ($q); for a setting it does
 * not know, it passes an int to printf where a string goes. */
static bool decrqss_unknown(const Screen *s) {
        const char *v = s->dcs + 2;
        size_t n = s->n_dcs - 2;

        if (s->n_dcs < 2 || s->dcs[0] != '$' || s->dcs[1] != 'q')
                return false;
        return !((n == 1 && strchr("mrs", v[0])) || (n == 2 && (memcmp(v, " q", 2) == 0 || memcmp(v, "\"q", 2) == 0)));
}

/* A DCS ends (or is fed before its end): an unknown DECRQSS becomes
 * "!q", a string nothing answers. */
static void dcs_end(Screen *s) {
        if (s->scan == SCAN_DCS && decrqss_unknown(s) && s->dcs_q != SIZE_MAX)
                s->scratch[s->dcs_q] = '!';
        s->dcs_q = SIZE_MAX;
}

/* Follows byte c (not a C0 control), to be stored at scratch[at], as
 * libvterm 0.1.4's parser does (parser.c), so that it never takes a
 * sequence for ended while libvterm is still in it; returns the byte to
 * give libvterm, -1 to drop it, or DROP_WITH_ESC (an APC, PM or SOS
 * begins).  REP's final byte, and that of a CSI
 * that lost separators, becomes one no sequence uses (see the top). */
static int track(Screen *s, unsigned char c, size_t at) {
        switch (s->scan) {
        case SCAN_ESC:
                /* Right after the ESC: not after an intermediate, nor after
                 * a byte libvterm waits past. */
                if (s->esc_last && (c == '_' || c == '^' || c == 'X')) {
                        s->scan = SCAN_IGNORE;
                        return DROP_WITH_ESC;
                }
                if (c == '[') {
                        s->scan = SCAN_CSI_LEADER;
                        s->csi_seps = s->csi_digits = 0;
                } else if (c == ']' || c == 'P') {
                        /* Held back from here if need be: libvterm waits in
                         * ESC for the rest, whenever the ESC came. */
                        s->scan = c == ']' ? SCAN_OSC : SCAN_DCS;
                        s->string_at = at;
                        s->n_dcs = 0;
                } else if (c >= 0x30 && c <= 0x7e)
                        s->scan = SCAN_GROUND;
                return c; /* intermediates, and bytes it does not handle, leave it in ESC */
        case SCAN_DCS:
                if (s->n_dcs == 0)
                        s->dcs_q = at;
                if (s->n_dcs < sizeof s->dcs)
                        s->dcs[s->n_dcs] = (char)c;
                s->n_dcs = MIN(s->n_dcs + 1, sizeof s->dcs + 1); /* past 4: long */
                return c;
        case SCAN_CSI_LEADER:
                if (c >= 0x3c && c <= 0x3f)
                        return c;
                s->scan = SCAN_CSI_ARGS;
                __attribute__((fallthrough));
        case SCAN_CSI_ARGS:
                if ((c >= '0' && c <= '9') || c == ';' || c == ':')
                        return csi_arg_byte(s, c);
                s->scan = SCAN_CSI_INTERMED;
                __attribute__((fallthrough));
        case SCAN_CSI_INTERMED:
                if (c >= 0x20 && c <= 0x2f)
                        return c;
                s->scan = SCAN_GROUND; /* ended, or not a CSI after all */
                if (c >= 0x40 && c <= 0x7e && (c == 'b' || s->csi_seps > CSI_SEPS_MAX))
                        return '~';
                return c;
        default:
                return c;
        }
}

static void put(Screen *s, size_t *size, unsigned char c);

/* Byte c of an APC, PM or SOS string, or of what ends it (see the top):
 * none of it reaches libvterm but what comes after an ESC that cut the
 * string short (the filter has moved the controls after an ESC before
 * it, so the byte after an ESC here is the one after it in the output). */
static void ignore(Screen *s, size_t *size, unsigned char c) {
        bool after_esc = s->scan == SCAN_IGNORE_ESC;

        s->scan = SCAN_IGNORE;
        if (c == 0x1b)
                s->scan = SCAN_IGNORE_ESC;
        else if (c == 0x07 || c == 0x18 || c == 0x1a || (after_esc && c == '\\'))
                s->scan = SCAN_GROUND;
        else if (after_esc) {
                s->scan = SCAN_GROUND;
                put(s, size, 0x1b);
                put(s, size, c);
        }
}

/* Appends byte c to the scratch buffer, following it through the
 * sequences (track()). */
static void put(Screen *s, size_t *size, unsigned char c) {
        int k = c;

        if (s->scan == SCAN_IGNORE || s->scan == SCAN_IGNORE_ESC) {
                ignore(s, size, c);
                return;
        }
        if (c == 0x18 || c == 0x1a) /* CAN, SUB: a string is dropped unread */
                s->scan = SCAN_GROUND;
        else if (c == 0x1b) {
                dcs_end(s);
                s->scan = SCAN_ESC;
        } else if (c == 0x07 && (s->scan == SCAN_OSC || s->scan == SCAN_DCS)) {
                dcs_end(s);
                s->scan = SCAN_GROUND;
        } else if (c >= 0x20) /* other controls are executed where they are */
                k = track(s, c, *size);
        s->esc_last = c == 0x1b;
        if (k == DROP_WITH_ESC)
                (*size)--; /* the ESC, put just before */
        else if (k >= 0)
                s->scratch[(*size)++] = (char)k;
}

static void put_replacement(Screen *s, size_t *size) {
        put(s, size, 0xef);
        put(s, size, 0xbf);
        put(s, size, 0xbd);
}

/* Appends byte c if it makes valid UTF-8 with the bytes before it: a
 * sequence is given whole (it may wait for the next read), a broken one
 * becomes U+FFFD before the byte that broke it.  Only text is decoded:
 * inside ESC and CSI the bytes go as they are, the parser takes them. */
static void put_utf8(Screen *s, size_t *size, unsigned char c) {
        if (s->n_utf8 == 0 && s->scan != SCAN_GROUND) {
                put(s, size, c);
                return;
        }
        if (s->n_utf8 > 0) {
                if ((c & 0xc0) == 0x80) {
                        s->utf8[s->n_utf8++] = c;
                        if (s->n_utf8 < s->utf8_need)
                                return;
                        s->n_utf8 = 0;
                        if (s->utf8[0] == 0xc2 && s->utf8[1] < 0xa0) {
                                put_replacement(s, size); /* a C1 control: no glyph */
                                return;
                        }
                        for (size_t i = 0; i < s->utf8_need; i++)
                                put(s, size, s->utf8[i]);
                        return;
                }
                s->n_utf8 = 0;
                put_replacement(s, size);
        }
        if (c < 0x80) {
                put(s, size, c);
                return;
        }
        s->utf8_need = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (s->utf8_need == 0) {
                put_replacement(s, size); /* a lone continuation byte, or no UTF-8 lead */
                return;
        }
        s->utf8[s->n_utf8++] = c;
}

/* Appends b to the scratch buffer as libvterm 0.1.4 can take it (see the
 * top): without NUL and DEL, which it ignores anyway; with a control right
 * after an ESC moved before it (it is executed the same either way), and
 * an ESC at the end kept for the next read; in valid UTF-8; with each CSI
 * cut to what libvterm has room for. */
static void filter(Screen *s, size_t *size, const char *b, size_t n) {
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)b[i];

                if (c == 0x00 || c == 0x7f)
                        continue;
                if (s->esc) {
                        if (c < 0x20 && c != 0x1b && c != 0x18 && c != 0x1a) {
                                put_utf8(s, size, c);
                                continue;
                        }
                        s->esc = false;
                        put_utf8(s, size, 0x1b);
                }
                if (c == 0x1b)
                        s->esc = true;
                else
                        put_utf8(s, size, c);
        }
}

/* Feeds scratch[0..n), but holds back an OSC or DCS string left
 * unfinished at its end for the next feed (see the top), unless it is too
 * long to be one of ours. */
static void feed_held_back(Screen *s, size_t n) {
        size_t at = n;

        if ((s->scan == SCAN_OSC || s->scan == SCAN_DCS) && s->string_at < n && n - s->string_at <= OSC_HELD_MAX)
                at = s->string_at;
        else
                dcs_end(s); /* fed unfinished: its start is gone after this */
        input(s, s->scratch, at);
        memcpy(s->held, s->scratch + at, n - at);
        s->n_held = n - at;
        s->string_at = at < n ? 0 : SIZE_MAX;
        s->dcs_q = s->dcs_q != SIZE_MAX && s->dcs_q >= at ? s->dcs_q - at : SIZE_MAX;
}

/* One piece: the held bytes and up to FEED_PIECE new ones, as one write. */
static void feed_piece(Screen *s, const char *buf, size_t n) {
        size_t size = s->n_held;

        memcpy(s->scratch, s->held, size);
        s->n_held = 0;
        filter(s, &size, buf, n);
        feed_held_back(s, size);
}

void screen_feed(Screen *s, const char *buf, size_t n) {
        for (size_t k; n > 0; buf += k, n -= k) {
                k = MIN(n, (size_t)FEED_PIECE);
                feed_piece(s, buf, k);
        }
}

const char *screen_take_replies(Screen *s, size_t *ret_size) {
        *ret_size = s->n_replies;
        s->n_replies = 0;
        return s->replies;
}

/* Room for n more bytes of text and the NUL.  The old text is wiped, not
 * left behind by realloc(). */
static int text_reserve(Screen *s, size_t n) {
        size_t want = s->text_size + n + 1;
        char *t;

        if (want <= s->text_alloc)
                return 0;
        want = MAX(want, 2 * s->text_alloc);
        t = malloc(want);
        if (!t)
                return -ENOMEM;
        if (s->text) {
                memcpy(t, s->text, s->text_size);
                explicit_bzero(s->text, s->text_alloc);
                free(s->text);
        }
        s->text = t;
        s->text_alloc = want;
        return 0;
}

static void row_end(Screen *s, bool continued) {
        if (!continued)
                s->text[s->text_size++] = '\n';
}

static int look_scrollback(Screen *s, size_t *n_rows) {
        int r = text_reserve(s, s->sb_size + s->n_sb);

        if (r < 0)
                return r;
        for (size_t i = 0; i < s->n_sb; i++) {
                const SbRow *row = &s->sb_rows[i];

                s->view_rows[(*n_rows)++] = (ScreenRow) { .offset = s->text_size, .number = row->number };
                memcpy(s->text + s->text_size, s->sb_text + row->offset, row->size);
                s->text_size += row->size;
                row_end(s, row->continued);
        }
        return 0;
}

static int look_visible(Screen *s, size_t *n_rows, size_t *cursor) {
        VTermPos cur;

        vterm_state_get_cursorpos(vterm_obtain_state(s->vt), &cur);
        for (unsigned r = 0; r < s->rows; r++) {
                size_t at = SIZE_MAX;
                int k = text_reserve(s, s->row_max + 1);

                if (k < 0)
                        return k;
                for (unsigned c = 0; c < s->cols; c++)
                        vterm_screen_get_cell(s->screen, (VTermPos) { .row = (int)r, .col = (int)c }, &s->cells[c]);
                s->view_rows[(*n_rows)++] = (ScreenRow) { .offset = s->text_size, .number = s->pushed + r };
                s->text_size += row_render(s->cells, s->cols, (int)r == cur.row ? cur.col : -1,
                                           s->text + s->text_size, &at);
                if (at != SIZE_MAX)
                        *cursor = s->view_rows[*n_rows - 1].offset + at;
                row_end(s, r + 1 < s->rows && row_continued(s->cells, s->cols));
        }
        return 0;
}

int screen_look(Screen *s, ScreenView *ret) {
        size_t n_rows = 0, cursor = SIZE_MAX, keep;
        int r;

        s->text_size = 0;
        r = look_scrollback(s, &n_rows);
        if (r >= 0)
                r = look_visible(s, &n_rows, &cursor);
        if (r < 0)
                return r;
        s->text[s->text_size] = '\0';

        /* Pushed rows are shown once, but those continuing onto the
         * visible rows belong to a line that is not finished. */
        for (keep = s->n_sb; keep > 0 && s->sb_rows[keep - 1].continued; keep--)
                ;
        sb_drop(s, keep);
        links_free(s->view_links);
        memcpy(s->view_links, s->links, sizeof s->links);
        memset(s->links, 0, sizeof s->links);
        s->n_links = 0;

        *ret = (ScreenView) {
                .text = s->text,
                .size = s->text_size,
                .rows = s->view_rows,
                .n_rows = n_rows,
                .cursor = cursor,
                .links = s->view_links,
        };
        return 0;
}
