/* What the agent does because it is PID 1 (init= in a microVM, or the
 * init of a PID namespace in tests): mount the API file systems that are
 * missing, log to the console, set PATH; and at the very end (once
 * manager.c killed what was left) sync, remount the root read-only and
 * reboot or power off.  Reaping orphans is done by the SIGCHLD handler
 * for every mode (children.c). */
#pragma once

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

/* The last step, once what was left is killed: sync; as the machine's own
 * init (nsfs_is_machine_init(), never in a PID namespace a test or a
 * container made) the root remounted read-only, a failure logged naming
 * the mount and why, and not fatal; then reboot(RB_AUTOBOOT) or
 * reboot(RB_POWER_OFF).  Returns only when reboot() failed (-errno); the
 * caller keeps serving. */
int pid1_reboot(ShutdownAction action);
