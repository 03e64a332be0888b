/* Implementation of sv-output.h.  Reads whatever is available on each
 * EPOLLIN, emits complete lines, keeps a partial line for the next read and
 * flushes it at EOF.  The log turns the line's control bytes and invalid
 * UTF-8 into spaces and '?' (common/log.c), so a child cannot forge log
 * lines or priorities ("<0>...") or redraw a terminal. */
#include <fcntl.h>

#include "log.h"
#include "macro.h"
#include "secret-util.h"
#include "sv-output.h"

struct SvOutput {
        const char *name;
        SvOutputLineFn on_line;
        SvOutputSecretsFn secrets;
        const char *const *quiet;
        void *userdata;
        int fd;
        sd_event_source *io;
        char line[SV_OUTPUT_LINE_MAX + 1];
        size_t len;
        bool skip; /* the rest of the line holds a secret's tail: not logged */
        usec_t window_start;
        unsigned in_window, suppressed;
        size_t bytes_in_window;
};

static void output_drain(SvOutput *o);

SvOutput *sv_output_free(SvOutput *o) {
        if (!o)
                return NULL;
        output_drain(o);
        sd_event_source_disable_unref(o->io);
        safe_close(o->fd);
        explicit_bzero(o->line, sizeof o->line); /* may hold a secret not yet redacted */
        free(o);
        return NULL;
}

static bool is_quiet(const SvOutput *o) {
        for (const char *const *q = o->quiet; q && *q; q++)
                if (startswith(o->line, *q))
                        return true;
        return false;
}

static const char *const *secrets_now(SvOutput *o) {
        return o->secrets ? o->secrets(o->userdata) : NULL;
}

/* Logs line[0..len) with secrets redacted, within the budget. */
static void log_line(SvOutput *o, const char *const *secrets) {
        usec_t t = now(CLOCK_MONOTONIC);

        o->line[o->len] = '\0';
        if (o->window_start == 0 || t - o->window_start >= SV_OUTPUT_INTERVAL) {
                if (o->suppressed > 0)
                        log_warning("%s: %u lines of output suppressed", o->name, o->suppressed);
                o->window_start = t;
                o->in_window = o->suppressed = 0;
                o->bytes_in_window = 0;
        }
        /* Past either budget, the rest of the window is suppressed. */
        if (o->bytes_in_window + o->len > SV_OUTPUT_BYTES)
                o->in_window = SV_OUTPUT_BURST;
        o->bytes_in_window += o->len;
        if (o->in_window++ < SV_OUTPUT_BURST) {
                char clean[2 * SV_OUTPUT_LINE_MAX + 1];
                secret_redact(o->line, secrets, clean, sizeof clean);
                log_full(is_quiet(o) ? LOG_DEBUG : LOG_INFO, "%s: %s", o->name, clean);
                explicit_bzero(clean, sizeof clean);
        } else
                o->suppressed++;
        o->len = 0;
}

static void emit(SvOutput *o) {
        log_line(o, secrets_now(o));
}

/* The line filled the buffer: its head is logged, split where no secret
 * crosses (a secret over the split would be two halves, each logged in
 * clear), and the tail that may begin one waits for the bytes after it.
 * A line that may begin with a secret longer than the buffer (a control
 * token over SV_OUTPUT_LINE_MAX bytes) is logged as the mark alone, up to
 * its end. */
static void emit_head(SvOutput *o) {
        const char *const *secrets = secrets_now(o);
        size_t n = o->len, cut = secret_redact_cut(o->line, n, secrets);
        char at_cut = o->line[cut];

        if (cut == 0) {
                o->len = strlen(REDACTED_MARK);
                memcpy(o->line, REDACTED_MARK, o->len);
                log_line(o, NULL);
                o->skip = true;
                return;
        }
        o->len = cut;
        log_line(o, secrets);
        o->line[cut] = at_cut;
        memmove(o->line, o->line + cut, n - cut);
        o->len = n - cut;
}

static void on_eof(SvOutput *o) {
        if (o->len > 0)
                emit(o);
        if (o->suppressed > 0)
                log_warning("%s: %u lines of output suppressed", o->name, o->suppressed);
        o->suppressed = 0;
        o->io = sd_event_source_disable_unref(o->io);
        o->fd = safe_close(o->fd);
}

/* One read: what it got (0 at EOF, -errno), its complete lines logged;
 * *lines set when there were some. */
static ssize_t output_read(SvOutput *o, bool *lines) {
        char buf[4096];
        ssize_t n = read(o->fd, buf, sizeof buf);

        if (n < 0)
                return -errno;
        for (ssize_t i = 0; i < n; i++) {
                if (buf[i] == '\n') {
                        if (!o->skip)
                                emit(o);
                        o->skip = false;
                        *lines = true;
                        continue;
                }
                if (buf[i] == '\r' || o->skip)
                        continue;
                o->line[o->len++] = buf[i];
                if (o->len == SV_OUTPUT_LINE_MAX)
                        emit_head(o);
        }
        return n;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        SvOutput *o = userdata;
        bool lines = false;
        ssize_t n = output_read(o, &lines);

        if (n == -EAGAIN || n == -EINTR)
                return 0;
        if (n <= 0) {
                on_eof(o);
                return 0;
        }
        if (lines && o->on_line)
                o->on_line(o->userdata);
        return 0;
}

/* Before the reader goes: what the child wrote and was not read yet is
 * logged.  Its output is read at idle priority, after its exit, so a
 * restart in the same turn of the loop (a restart asked for, or for a
 * dependency) or the agent's stop would lose its last lines, those that
 * say why it went.  Bounded by the pipe's usual capacity: what is still
 * running with the pipe (a child that escaped its group) may write
 * without end.  No on_line: nothing is probed for this reader any more. */
static void output_drain(SvOutput *o) {
        bool lines = false;
        ssize_t n = 0;

        if (!o->io)
                return; /* at EOF already, or never read (the fd may block) */
        for (size_t total = 0; total < SV_OUTPUT_DRAIN_MAX; total += (size_t)n)
                if ((n = output_read(o, &lines)) <= 0)
                        break;
        on_eof(o); /* the partial line, and what was suppressed */
}

int sv_output_new(sd_event *e, int fd, const char *name, SvOutputLineFn on_line, SvOutputSecretsFn secrets,
                  void *userdata, const char *const *quiet, SvOutput **ret) {
        _cleanup_(closep) int owned_fd = fd; /* taken over, also on failure */
        _cleanup_(sv_output_freep) SvOutput *o = NULL;
        int r;

        o = calloc(1, sizeof *o);
        if (!o)
                return -ENOMEM;
        *o = (SvOutput){ .name = name, .fd = TAKE_FD(owned_fd), .on_line = on_line, .secrets = secrets,
                         .quiet = quiet, .userdata = userdata };
        if (fcntl(o->fd, F_SETFL, O_NONBLOCK) < 0)
                return -errno;
        r = sd_event_add_io(e, &o->io, o->fd, EPOLLIN, on_io, o);
        if (r < 0)
                return r;
        /* Below the probes and timers: logging can wait a little. */
        (void)sd_event_source_set_priority(o->io, SD_EVENT_PRIORITY_IDLE);
        *ret = TAKE_PTR(o);
        return 0;
}
