/* Small macros every module uses: cleanup attributes, ownership transfer,
 * array sizes and string predicates.  No dependencies beyond libc, so pure
 * cores, fuzzers and adapters can all include it. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _pure_ __attribute__((pure))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

/* x's value as a string literal (a macro expanded first). */
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

#define ELEMENTSOF(a)                                                          \
        (__builtin_choose_expr(                                                \
                !__builtin_types_compatible_p(typeof(a), typeof(&*(a))),       \
                sizeof(a) / sizeof((a)[0]), (void)0))

/* The struct of type that holds member m at ptr (an intrusive list entry). */
#define container_of(ptr, type, m) ((type *)((char *)(ptr) - offsetof(type, m)))

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* a + b, or UINT32_MAX when that does not fit: limits from the
 * configuration (any u32) plus a reserve must not wrap to a small one. */
static inline uint32_t add_sat_u32(uint32_t a, uint32_t b) {
        uint32_t r;
        return __builtin_add_overflow(a, b, &r) ? UINT32_MAX : r;
}

/* a * b, or UINT32_MAX when that does not fit, for the same reason. */
static inline uint32_t mul_sat_u32(uint32_t a, uint32_t b) {
        uint32_t r;
        return __builtin_mul_overflow(a, b, &r) ? UINT32_MAX : r;
}

/* Hand a pointer (or fd) over to a new owner, leaving the old variable
 * empty so its cleanup handler does nothing. */
#define TAKE_PTR(p)                                                            \
        ({                                                                     \
                typeof(p) _tp = (p);                                           \
                (p) = NULL;                                                    \
                _tp;                                                           \
        })
#define TAKE_FD(fd)                                                            \
        ({                                                                     \
                int _tfd = (fd);                                               \
                (fd) = -EBADF;                                                 \
                _tfd;                                                          \
        })

/* Declares name##p(type *p) calling func(*p) when *p is non-NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                \
        static inline void func##p(type *p) {                                  \
                if (*p)                                                        \
                        func(*p);                                              \
        }

static inline void freep(void *p) {
        free(*(void **)p);
}

/* Closes fd if valid, preserving errno; returns -EBADF for assignment:
 * fd = safe_close(fd); */
static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void)close(fd);
                errno = saved;
        }
        return -EBADF;
}

static inline void closep(int *fd) {
        safe_close(*fd);
}

/* Zeroes a NUL-terminated secret (token, OAuth state, credential line)
 * before freeing it; accepts NULL; returns NULL: s = erase_and_free(s); */
static inline char *erase_and_free(char *s) {
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
        return NULL;
}
static inline void erase_and_freep(char **s) {
        erase_and_free(*s);
}

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return streq(a, b);
}

static inline bool isempty(const char *s) {
        return !s || !*s;
}

/* s, or "" for NULL, for printing. */
static inline const char *strempty(const char *s) {
        return s ?: "";
}

/* Returns the rest of s after prefix, or NULL when s does not start with it. */
static inline const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}

/* The value of a hexadecimal digit, or -EINVAL. */
static inline int unhexchar(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

/* Negative errno from a failed libc call; never returns 0 so callers can
 * propagate it as an error even when errno was (wrongly) left at 0. */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

#define RET_NERRNO(expr)                                                       \
        ({                                                                     \
                int _r = (expr);                                               \
                _r < 0 ? negative_errno() : _r;                                \
        })
