/* Looking a user up in /etc/passwd text without NSS: the static binary
 * cannot use getpwnam() (glibc's NSS needs dlopen).  Pure: the caller
 * reads the file; this only parses.
 *
 * The grammar is the files backend's (passwd(5)): one entry per line,
 * seven ':'-separated fields, name:password:uid:gid:gecos:home:shell.
 * passwd_find() is strict, so that a service never runs as an entry read
 * two ways: a line that does not parse is skipped (it is not an error for
 * the other entries), the first entry with the name wins, and NIS compat
 * lines ("+...", "-...") name nobody.
 *
 * The checks of who else has a group (passwd_find_gid(), and
 * group_find_member() over /etc/group text, group(5):
 * name:password:gid[:member,member...]) read every line as glibc's files
 * backend does (fgetpwent(), fgetgrent(), and initgroups() after them),
 * never less: a line ends at a NUL; "+"/"-" lines are entries like any
 * other; a gid may have blanks, a sign and leading zeros before it; only
 * the fields up to the gid must be there. */
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

/* The first entry with a name, whose primary group is gid and whose name
 * is not in skip (NULL-terminated; may be NULL): its name in *ret_name
 * (owned by the caller), -ENOENT when there is none, -ENOMEM. */
int passwd_find_gid(const char *text, size_t size, gid_t gid, const char *const *skip, char **ret_name);

/* The first member listed in any /etc/group entry with gid (all of them:
 * the kernel knows a group by its number) whose name is not in skip: in
 * *ret_name (owned by the caller), -ENOENT when there is none, -ENOMEM.
 * Members are split at ',', each without its leading blanks. */
int group_find_member(const char *text, size_t size, gid_t gid, const char *const *skip, char **ret_name);
