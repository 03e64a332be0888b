/* Looking a user up in /etc/passwd text without NSS: the static binary
 * cannot use getpwnam() (glibc's NSS needs dlopen).  Pure: the caller
 * reads the file; this only parses.
 *
 * The grammar is the files backend's (passwd(5)): one entry per line,
 * seven ':'-separated fields, name:password:uid:gid:gecos:home:shell.
 * As glibc does, a line that does not parse is skipped (it is not an
 * error for the other entries), the first entry with the name wins, and
 * NIS compat lines ("+...", "-...") name nobody.
 *
 * /etc/group text (group(5): name:password:gid:member,member...) is read
 * the same way, for the members of a group. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

typedef struct PasswdEntry {
        uid_t uid;
        gid_t gid;
        char *home;  /* owned */
        char *shell; /* owned */
} PasswdEntry;

void passwd_entry_done(PasswdEntry *e);

/* Finds name in text[0..size).  0 and *ret (owned by the caller; written
 * only on success), -ENOENT when no valid entry has that name, -EINVAL
 * for an empty name or one holding ':' or a newline, -ENOMEM. */
int passwd_find(const char *text, size_t size, const char *name, PasswdEntry *ret);

/* The first valid entry whose primary group is gid and whose name is not
 * in skip (NULL-terminated; may be NULL): its name in *ret_name (owned by
 * the caller), -ENOENT when there is none, -ENOMEM. */
int passwd_find_gid(const char *text, size_t size, gid_t gid, const char *const *skip, char **ret_name);

/* The first member listed in any valid /etc/group entry with gid (all of
 * them: the kernel knows a group by its number) whose name is not in skip:
 * in *ret_name (owned by the caller), -ENOENT when there is none, -ENOMEM.
 * A list is split at ',' and also at blanks and ':', so that no spelling
 * of it hides a member. */
int group_find_member(const char *text, size_t size, gid_t gid, const char *const *skip, char **ret_name);
