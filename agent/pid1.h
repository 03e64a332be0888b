/* What the agent does because it is PID 1 (init= in a microVM, or the
 * init of a PID namespace in tests): mount the API file systems that are
 * missing, log to the console, set PATH; and at the very end (once
 * manager.c killed what was left) sync, remount the root read-only and
 * reboot or power off, the root writable again should reboot() fail.
 * Reaping orphans is done by the SIGCHLD handler for every mode
 * (children.c). */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <sys/statvfs.h>

#include "agent/config/config.h"
#include "machine-id.h"

/* Mounts /proc (hidepid=2: invisible), /sys, /sys/fs/cgroup (cgroup2),
 * /dev, /dev/pts, /dev/shm, /run, /tmp where nothing is mounted yet; sets
 * PATH when unset; routes logging to the console when stderr is not
 * usable.  Failures are logged
 * and not fatal: PID 1 keeps going and reports what it can.  Returns how
 * many mounts failed. */
int pid1_setup(void);

/* systemd.machine_id= as read from the kernel command line (req:
 * common/machine-id.h, systemd's rules) made the machine id at path
 * (/etc/machine-id; "" = never): written in place when the root is
 * writable, else a copy in runtime_dir bind-mounted over it.  A malformed
 * value is logged, naming the argument and why, and the id stays.  Under
 * systemd, systemd does this itself: call only as PID 1, before any
 * service starts. */
void pid1_machine_id_setup(const MachineIdRequest *req, const char *path, const char *runtime_dir);
/* id (machine-id(5)'s form, machine_id_parse()'s) in place of path, or of
 * where a chain of root's symlinks at path leads (path_follow_links(): a
 * link to nothing gets the file made where it leads; another user's link
 * is refused, -EPERM): written there (atomically, 0444, root's), or,
 * where that cannot be (a read-only root), a file of runtime_dir's with it
 * bind-mounted read-only over it, as systemd does with /run/machine-id;
 * a bind of ours there already is replaced, the new one bound beneath it
 * first where the kernel can (no instant without either id).  0 when it
 * holds id already, 1 written, 2 bound, or -errno of following the links
 * or of the bind mount (the write's is logged at debug), and then it
 * shows what it did before.  A bind of ours that cannot be unmounted (a
 * security module's refusal) stays under the new one, said in a warning.
 * pid1_machine_id_setup()'s, and a restore's (agent/restore.c). */
int pid1_machine_id_install(const char *path, const char *id, const char *runtime_dir);
/* "already in", "written to", "bound over (read-only root)" for 0, 1, 2. */
const char *pid1_machine_id_installed_to_string(int r);

/* What pid1_reboot() left the root as, for the line its caller logs
 * when reboot() failed. */
typedef enum Pid1Root {
        PID1_ROOT_UNTOUCHED,      /* not the machine's own init */
        PID1_ROOT_WRITABLE,       /* the read-only remount failed */
        PID1_ROOT_READ_ONLY,      /* remounted read-only (and, after a failed reboot(), not writable again) */
        PID1_ROOT_WRITABLE_AGAIN, /* remounted read-only, then writable again after a failed reboot() */
        PID1_ROOT_WAS_READ_ONLY,  /* read-only already before (booted "ro"): left so */
        _PID1_ROOT_MAX,
        _PID1_ROOT_INVALID = -EINVAL,
} Pid1Root;

/* "with " + this reads as what the agent stays up with. */
const char *pid1_root_to_string(Pid1Root r);

/* The system calls of pid1_reboot(): libc's (pid1.c), or a test's fakes.
 * mount, reboot and statvfs return -1 with errno set, as libc's do. */
typedef struct Pid1RebootOps {
        void (*sync)(void);
        bool (*is_machine_init)(void);
        int (*statvfs)(const char *path, struct statvfs *ret);
        int (*mount)(const char *source, const char *target, const char *type, unsigned long flags,
                     const void *data);
        int (*reboot)(int cmd);
} Pid1RebootOps;

/* The last step, once what was left is killed: sync; as the machine's own
 * init (nsfs_is_machine_init(), never in a PID namespace a test or a
 * container made) the root remounted read-only, a failure logged naming
 * the mount and why, and not fatal; then reboot(RB_AUTOBOOT) or
 * reboot(RB_POWER_OFF).  Returns only when reboot() failed (-errno; no
 * CAP_SYS_BOOT, a seccomp filter), and then the caller stays up: a root
 * this made read-only is first remounted writable again (what stays up
 * writes there: log files, the logins' homes, a restore's machine id),
 * a failure logged with why.  (run.c's caller, which cannot stay up,
 * exits into the kernel's panic then, its root as after any unclean
 * stop: synced, its journal replayed at the next mount.)  *ret_root says
 * what the root was left as, for the caller's line, on every return. */
int pid1_reboot(ShutdownAction action, Pid1Root *ret_root);
/* pid1_reboot() with ops' system calls in place of libc's. */
int pid1_reboot_with(const Pid1RebootOps *ops, ShutdownAction action, Pid1Root *ret_root);
