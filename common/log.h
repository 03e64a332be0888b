/* Logging: one line per message on stderr with a syslog "<N>" priority
 * prefix (journald and the serial console both read it), or on /dev/kmsg
 * when we are PID 1 before anything else is up.  Library code logs at debug
 * at most; callers log once, with context, and return the error.
 * Never pass a secret (token, code, credential body) to these functions. */
#pragma once

#include <stdarg.h>
#include <syslog.h>

#include "macro.h"

typedef enum LogTarget {
        LOG_TARGET_STDERR, /* "<N>" prefix, for journald and tests */
        LOG_TARGET_CONSOLE, /* "<N>" prefix, to /dev/console (PID 1) */
        LOG_TARGET_KMSG, /* /dev/kmsg, PID 1 before /dev/console exists */
        LOG_TARGET_TERMINAL, /* stderr without a prefix: commands a person runs */
        _LOG_TARGET_MAX,
        _LOG_TARGET_INVALID = -EINVAL,
} LogTarget;

void log_set_max_level(int level);
int log_get_max_level(void);
int log_level_from_string(const char *s); /* "debug".."emerg" or 0-7; -EINVAL */
void log_set_target(LogTarget t);
/* Sets the program tag printed before each message (default
 * "vm-browser-agent"); the string is borrowed and must outlive logging. */
void log_set_ident(const char *ident);

/* Logs and returns -abs(error) (or 0 when error is 0), so callers can write
 * `return log_error_errno(r, "Failed to ...: %m");`. errno is set to abs(error)
 * before formatting so %m prints it. */
int log_internal(int level, int error, const char *file, int line,
                 const char *fmt, ...) _printf_(5, 6);
int log_internalv(int level, int error, const char *file, int line,
                  const char *fmt, va_list ap) _printf_(5, 0);

#define log_full_errno(level, error, ...)                                      \
        ({                                                                     \
                int _l = (level), _e = (error);                                \
                _l <= log_get_max_level()                                      \
                        ? log_internal(_l, _e, __FILE__, __LINE__, __VA_ARGS__) \
                        : -abs(_e);                                            \
        })
#define log_full(level, ...) (void)log_full_errno(level, 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_notice_errno(e, ...) log_full_errno(LOG_NOTICE, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)
