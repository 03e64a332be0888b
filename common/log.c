/* Implementation of common/log.h.  Process-wide logging state is the one
 * deliberate global in the program: every module logs, and threading a
 * logger through pure cores would buy nothing. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/uio.h>

#include "errbuf.h"
#include "log.h"

static int max_level = LOG_INFO;
static LogTarget target = LOG_TARGET_STDERR;
static const char *ident = "vm-browser-agent";
static int console_fd = -EBADF;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

int log_level_from_string(const char *s) {
        static const char *const names[] = {
                "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
        };
        if (!s)
                return -EINVAL;
        for (int i = 0; i < (int)ELEMENTSOF(names); i++)
                if (streq(s, names[i]))
                        return i;
        if (streq(s, "error"))
                return LOG_ERR;
        if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
                return s[0] - '0';
        return -EINVAL;
}

void log_set_ident(const char *s) {
        ident = s;
}

void log_set_target(LogTarget t) {
        console_fd = safe_close(console_fd);
        target = t;
        if (t == LOG_TARGET_CONSOLE)
                console_fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
        else if (t == LOG_TARGET_KMSG)
                console_fd = open("/dev/kmsg", O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if ((t == LOG_TARGET_CONSOLE || t == LOG_TARGET_KMSG) && console_fd < 0)
                target = LOG_TARGET_STDERR;
}

int log_internalv(int level, int error, const char *file _unused_, int line _unused_,
                  const char *fmt, va_list ap) {
        char msg[2048], head[64];
        int saved = errno;

        errno = abs(error);
        vsnprintf(msg, sizeof msg, fmt, ap);
        errno = saved;

        /* One message is one line: a newline inside (from a child's output,
         * say) would let it forge a second, higher-priority log record.  Other
         * control bytes become '?': an escape sequence from a guest's answer
         * would redraw the operator's terminal (ctl). */
        for (char *p = msg; *p; p++)
                if (*p == '\n' || *p == '\r' || *p == '\t')
                        *p = ' ';
        string_one_line(msg);

        int fd = target == LOG_TARGET_STDERR || target == LOG_TARGET_TERMINAL ? STDERR_FILENO : console_fd;
        int n = snprintf(head, sizeof head, "<%d>%s: ", level & LOG_PRIMASK, ident);
        /* The console and a person's terminal show no priorities. */
        if (target == LOG_TARGET_CONSOLE || target == LOG_TARGET_TERMINAL)
                n = snprintf(head, sizeof head, "%s: ", ident);
        struct iovec iov[] = {
                { .iov_base = head, .iov_len = (size_t)MAX(n, 0) },
                { .iov_base = msg, .iov_len = strlen(msg) },
                { .iov_base = (char *)"\n", .iov_len = 1 },
        };
        (void)!writev(fd, iov, ELEMENTSOF(iov));
        errno = saved;
        return -abs(error);
}

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = log_internalv(level, error, file, line, fmt, ap);
        va_end(ap);
        return r;
}
