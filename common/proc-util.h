/* Reading what /proc says: pure parsing of the text of /proc/PID/status,
 * which (unlike the owner of /proc/PID) gives the real uid of a process
 * that made itself non-dumpable, of /proc/self/mountinfo and
 * /proc/self/cgroup, and a search of /proc/PID/environ. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct ProcStatus {
        char state;       /* 'R', 'S', 'Z', ... (the leader thread's) */
        pid_t ppid;
        uid_t uid;        /* real */
        unsigned threads; /* Threads:, 1 when not given */
} ProcStatus;

/* 0 and *ret from the State:, PPid:, Uid: and Threads: lines of text;
 * -EINVAL when one of the first three is missing or one is malformed. */
int proc_status_parse(const char *text, ProcStatus *ret);

/* Whether the process has exited (a zombie with no thread left).  The
 * State: is its leader thread's: a leader that exited alone shows 'Z'
 * while the process's other threads run on. */
bool proc_status_exited(const ProcStatus *st);

/* The mount on path in /proc/self/mountinfo text ("36 35 98:0 /mnt1 /mnt2
 * rw,noatime master:1 - ext3 /dev/root rw,errors=continue"): the last
 * line for it, the one a path lookup sees.  0, with its super options
 * (after the file system type and source) copied to *ret_options when that
 * is not NULL; -ENOENT when nothing is mounted there; -EINVAL when that
 * line has no " - " separator; -ENOMEM. */
int proc_mountinfo_find(const char *mountinfo, const char *path, char **ret_options);
/* The root of the mount on path (mountinfo's fourth field: the directory
 * of its file system that is mounted there, octal-escaped as written;
 * below a cgroup namespace, a cgroup2 mount made outside it starts with
 * "/.."), copied to *ret_root; -ENOENT, -EINVAL, -ENOMEM. */
int proc_mountinfo_root(const char *mountinfo, const char *path, char **ret_root);

/* The cgroup v2 path in /proc/PID/cgroup text: the "0::" line's
 * ("0::/system.slice/x.service" → "/system.slice/x.service"), relative to
 * the reader's cgroup namespace.  0 and the path (owned) in *ret; -ENOENT
 * when there is no such line (cgroup v1 only); -EINVAL when the path is
 * not absolute; -ENOMEM. */
int proc_cgroup2_path(const char *text, char **ret);

/* Whether proc's super options hide processes (and their command lines)
 * from other users: hidepid= other than off (0). */
bool proc_options_hide_pids(const char *options);

/* The value of key in a cgroup's flat keyed file ("key value" lines:
 * cpu.stat, memory.events).  -ENOENT without that line, -EINVAL when its
 * value is not a number. */
int proc_keyed_value(const char *text, const char *key, uint64_t *ret);

/* Whether a cgroup's cgroup.controllers (names separated by blanks)
 * lists the controller name. */
bool proc_controllers_have(const char *text, const char *name);

/* The CPU time a cgroup's processes used, its cpu.stat's "usage_usec"
 * (there without the cpu controller: cgroup v2's core statistics).
 * -ENOENT without that line, -EINVAL when its value is not a number. */
int proc_cpu_stat_usage(const char *text, uint64_t *ret);
