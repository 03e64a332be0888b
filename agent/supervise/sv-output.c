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

static void emit(SvOutput *o) {
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
                /* A secret split by SV_OUTPUT_LINE_MAX would escape; the
                 * lines that carry one (websockify's "Path: ...") are short. */
                char clean[2 * SV_OUTPUT_LINE_MAX + 1];
                secret_redact(o->line, o->secrets ? o->secrets(o->userdata) : NULL, clean, sizeof clean);
                log_full(is_quiet(o) ? LOG_DEBUG : LOG_INFO, "%s: %s", o->name, clean);
                explicit_bzero(clean, sizeof clean);
        } else
                o->suppressed++;
        o->len = 0;
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
                        emit(o);
                        *lines = true;
                        continue;
                }
                if (buf[i] == '\r')
                        continue;
                o->line[o->len++] = buf[i];
                if (o->len == SV_OUTPUT_LINE_MAX)
                        emit(o);
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
