/* Implementation of pid1.h.  Mount decisions come from
 * /proc/self/mountinfo, not from stat() device comparisons, so a bind
 * mount or a container's pre-mounted /dev counts as present and is left
 * alone.  Mount options follow what systemd's mount-setup uses; /dev/shm
 * gets half the RAM because Firefox's content processes share memory
 * there and the kernel's default tmpfs size is already 50%, but saying it
 * documents the intent. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#ifndef MOVE_MOUNT_BENEATH
#define MOVE_MOUNT_BENEATH 0x00000200 /* linux/mount.h, 6.5+ */
#endif

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "launch.h"
#include "machine-id.h"
#include "nsfs-util.h"
#include "pid1.h"
#include "proc-util.h"

typedef struct MountPoint {
        const char *what, *where, *type;
        unsigned long flags;
        const char *options;
        mode_t mode;
} MountPoint;

static const MountPoint mount_table[] = {
        /* Each user sees only their own processes: Firefox's command line
         * carries the URL it was started for (an OAuth authorize URL).
         * "2" is "invisible" to 5.8+ and known to every kernel since 3.3. */
        { "proc", "/proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, "hidepid=2", 0555 },
        { "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL, 0555 },
        /* The services' cgroups (agent/supervise/cgroup.h): no controller
         * is needed, so no option either. */
        { "cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL, 0555 },
        { "devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_STRICTATIME, "mode=0755", 0755 },
        { "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,gid=5,ptmxmode=0666", 0755 },
        { "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_STRICTATIME, "mode=1777,size=50%", 01777 },
        { "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV | MS_STRICTATIME, "mode=0755,size=20%", 0755 },
        { "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_STRICTATIME, "mode=1777,size=50%", 01777 },
};

static bool proc_mounted(void) {
        struct statfs sfs;
        return statfs("/proc", &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC;
}

static int mount_one(const MountPoint *mp) {
        if (mkdir(mp->where, mp->mode) < 0 && errno != EEXIST)
                return negative_errno();
        if (mount(mp->what, mp->where, mp->type, mp->flags, mp->options) < 0)
                return negative_errno();
        return 0;
}

static int mount_missing(void) {
        _cleanup_(freep) char *mountinfo = NULL;
        int failed = 0, r;

        if (!proc_mounted()) {
                r = mount_one(&mount_table[0]);
                if (r == -EINVAL) {
                        /* A kernel that refuses it: a /proc that shows too
                         * much beats none (run.c says so). */
                        MountPoint plain = mount_table[0];
                        plain.options = NULL;
                        r = mount_one(&plain);
                }
                if (r < 0) {
                        log_warning_errno(r, "Failed to mount /proc: %m");
                        failed++;
                }
        }
        for (size_t i = 1; i < ELEMENTSOF(mount_table); i++) {
                const MountPoint *mp = &mount_table[i];

                /* Re-read each time: mounting /dev hides an old /dev/pts entry's meaning. */
                free(TAKE_PTR(mountinfo));
                (void)read_full_file("/proc/self/mountinfo", 1024 * 1024, &mountinfo, NULL);
                if (mountinfo && proc_mountinfo_find(mountinfo, mp->where, NULL) != -ENOENT)
                        continue;
                r = mount_one(mp);
                if (r < 0) {
                        log_warning_errno(r, "Failed to mount %s on %s: %m", mp->type, mp->where);
                        failed++;
                } else
                        log_debug("Mounted %s on %s.", mp->type, mp->where);
        }
        return failed;
}

/* The kernel starts init with fds 0-2 on /dev/console when it can open
 * it; keep them in that case (the same console), else go to the console
 * or kmsg ourselves.  Make sure 0-2 exist either way so no later open()
 * lands on them by accident. */
static void setup_stdio_and_log(void) {
        bool have_stderr = fcntl(STDERR_FILENO, F_GETFD) >= 0;

        for (int fd = 0; fd <= 2; fd++)
                if (fcntl(fd, F_GETFD) < 0) {
                        int n = open("/dev/null", O_RDWR | O_NOCTTY); /* not CLOEXEC: it is a std fd */
                        if (n >= 0 && n != fd) {
                                dup2(n, fd);
                                close(n);
                        }
                }
        if (!have_stderr) {
                log_set_target(LOG_TARGET_CONSOLE);
                if (access("/dev/console", W_OK) < 0)
                        log_set_target(LOG_TARGET_KMSG);
        }
}

/* What systemd sets at boot (its sysctl.d/50-default.conf) and the kernel
 * leaves off: without them root follows a symlink, or opens a FIFO or
 * file, that another user planted in a sticky world-writable directory
 * (/tmp, /dev/shm), and any user may hard-link a file it cannot write.
 * Global to the machine: only its own init (the initial PID namespace)
 * sets them, never a PID 1 in a namespace made for tests or a container. */
static void protect_links(void) {
        static const char *const settings[] = { "protected_symlinks", "protected_hardlinks", "protected_fifos",
                                                "protected_regular" };
        unsigned done = 0;

        if (!nsfs_inode_is("/proc/self/ns/pid", NSFS_PID_INIT_INO))
                return;
        for (size_t i = 0; i < ELEMENTSOF(settings); i++) {
                char path[64];
                int r;

                snprintf(path, sizeof path, "/proc/sys/fs/%s", settings[i]);
                r = write_setting(path, "1\n");
                if (r < 0)
                        log_warning_errno(r, "Failed to set fs.%s = 1: %m", settings[i]);
                else
                        done++;
        }
        if (done == ELEMENTSOF(settings))
                log_info("Link protections on (fs.protected_symlinks, _hardlinks, _fifos, _regular = 1).");
}

int pid1_setup(void) {
        int failed;

        umask(0022);
        /* Ctrl-Alt-Del becomes SIGINT to us (an orderly shutdown) instead
         * of an immediate reboot.  EINVAL in a PID namespace: harmless. */
        (void)reboot(RB_DISABLE_CAD);
        failed = mount_missing();
        setup_stdio_and_log();
        protect_links();
        if (!getenv("PATH"))
                setenv("PATH", DEFAULT_PATH, 1);
        return failed;
}

/* Whether path shows copy: our own bind of it (the boot's on a read-only
 * root, or an earlier restore's), not one someone else made. */
static bool shows_file(const char *path, const char *copy) {
        struct stat a, b;

        return stat(path, &a) >= 0 && stat(copy, &b) >= 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The classic bind, for a kernel before 5.12 (no mount_setattr()): bound,
 * then made read-only. */
static int bind_then_read_only(const char *source, const char *path) {
        if (mount(source, path, NULL, MS_BIND, NULL) < 0)
                return negative_errno();
        if (mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                log_warning_errno(errno, "Failed to make the machine id bound over %s read-only: %m", path);
        return 0;
}

/* source bound over path, read-only like the root below it (no process
 * rewrites the id the others read) from its first moment there: a
 * detached clone made read-only, then attached.  Over where a symlink at
 * path leads, as mount(2) binds (MOVE_MOUNT_T_SYMLINKS; else the bind
 * would cover the link alone, and a reader of its target, the image's
 * /etc/machine-id for /var/lib/dbus/machine-id, find the image's id).
 * With beneath, right below the mount on top of path
 * (MOVE_MOUNT_BENEATH), which then still shows: -EINVAL from a kernel
 * before 6.5 (an unknown flag), -ENOSYS from one before 5.12. */
static int bind_read_only(const char *source, const char *path, bool beneath) {
        struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                               MOUNT_ATTR_NOEXEC };
        _cleanup_(closep) int fd = open_tree(AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        int r = 0;

        if (fd < 0 || mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0 ||
            move_mount(fd, "", AT_FDCWD, path,
                       MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS | (beneath ? MOVE_MOUNT_BENEATH : 0)) < 0)
                r = negative_errno();
        if (r == -ENOSYS && !beneath)
                return bind_then_read_only(source, path);
        return r;
}

/* Our bind on top of path (copy's) replaced by fresh's: fresh's goes
 * beneath it, then ours is detached, so that path shows the id before or
 * the new one, never what is under ours (the image's, or a mount someone
 * else made, which stays as it was), and one bind of ours is left.
 * Where the kernel cannot (bind_read_only()), ours is unmounted first:
 * in between, path shows what is under it; a restore does it while
 * logins wait, so no CLI of ours starts then.  Where ours cannot be
 * unmounted (a security module or seccomp denies umount2()), fresh's is
 * bound over it as well: path shows the new id, over binds of ours that
 * stay (fresh's beneath cannot go while ours is on it).  On failure path
 * shows what it did before, unless ours was unmounted and could not be
 * bound again (logged). */
static int bind_replace(const char *path, const char *fresh, const char *copy) {
        int r = bind_read_only(fresh, path, true);

        if (r >= 0) { /* ours is on top: root unmounts it (else path still shows it) */
                if (umount2(path, MNT_DETACH) >= 0)
                        return 0;
                log_warning_errno(errno, "Failed to unmount the machine id bound over %s, binding the new one over "
                                         "it (two binds of ours stay under it): %m", path);
                return bind_read_only(fresh, path, false);
        }
        if (r != -EINVAL && r != -ENOSYS)
                return r;
        log_debug_errno(r, "Cannot bind the machine id beneath the one bound over %s, unmounting that first: %m",
                        path);
        if (umount2(path, MNT_DETACH) < 0) {
                log_warning_errno(errno, "Failed to unmount the machine id bound over %s, binding the new one over "
                                         "it (ours stays under it): %m", path);
                return bind_read_only(fresh, path, false);
        }
        r = bind_read_only(fresh, path, false);
        /* The earlier id back rather than what is under ours. */
        if (r < 0 && bind_read_only(copy, path, false) < 0)
                log_warning("The machine id bound over %s is unmounted and cannot be bound again: %s shows "
                            "what is under it.", path, path);
        return r;
}

/* line bound over path from a file of runtime_dir's: over the bind of
 * ours there (bind_replace()), else over whatever path shows.  A new
 * bind stands on the file the one below it shows, which could then be
 * replaced by no rename (EBUSY: a mount point) and, unlinked, carries no
 * mount (ENOENT): so the new copy is bound from a name of its own, and
 * takes runtime_dir/machine-id once it alone is bound.  A new name each
 * time (machine-id.XXXXXX): a bind of ours that could not be unmounted
 * keeps the name of the file below it busy for good, and the copy then
 * keeps its own. */
static int machine_id_bind(const char *path, const char *line, const char *runtime_dir) {
        _cleanup_(freep) char *copy = NULL, *fresh = NULL;
        char name[NAME_MAX + 1];
        int r;

        r = tmpfile_name("machine-id", name);
        if (r < 0)
                return r;
        if (asprintf(&copy, "%s/machine-id", runtime_dir) < 0 || asprintf(&fresh, "%s/%s", runtime_dir, name) < 0)
                return -ENOMEM;
        r = mkdir_all(runtime_dir, 0755, 0700);
        if (r >= 0)
                r = write_file_atomic_owned(fresh, line, strlen(line), 0444, 0, 0, WRITE_FILE_NO_SYNC);
        if (r < 0)
                return r;
        r = shows_file(path, copy) ? bind_replace(path, fresh, copy) : bind_read_only(fresh, path, false);
        if (r < 0) {
                (void)unlink(fresh);
                return r;
        }
        /* The bind holds either way: the name is for whoever looks. */
        if (rename(fresh, copy) < 0)
                log_warning_errno(errno, "Failed to rename %s to %s: %m", fresh, copy);
        return 0;
}

/* Where a symlink at path leads (the image's /var/lib/dbus/machine-id is
 * one to /etc/machine-id) is what gets the id, written or bound, as
 * systemd, which opens the name following links, and mount(2) would have
 * it: a rename over the link would put a file of its own there and leave
 * the image's id, shared by every VM of the image, to a reader of the
 * target.  Only root's links (the image's) are followed: at a restore,
 * logins run, and a link another user made, where a directory lets them,
 * sends no write of ours elsewhere (-EPERM).  A link put at the name
 * after is replaced by the write, never followed (the bind would follow
 * one, but on a read-only root nobody puts one there). */
int pid1_machine_id_install(const char *path, const char *id, const char *runtime_dir) {
        _cleanup_(freep) char *now = NULL, *where = NULL;
        char line[MACHINE_ID_STRING_MAX + 1];
        int r;

        snprintf(line, sizeof line, "%s\n", id);
        r = path_follow_links(path, 0, &where);
        if (r < 0)
                return log_debug_errno(r, "Cannot follow the symlink at %s: %m", path);
        if (read_full_file(where, 64, &now, NULL) >= 0 && streq(now, line))
                return 0;
        r = write_file_atomic_owned(where, line, strlen(line), 0444, 0, 0, 0);
        if (r >= 0)
                return 1;
        log_debug_errno(r, "Cannot write %s, binding a copy over it: %m", where);
        r = machine_id_bind(where, line, runtime_dir);
        return r < 0 ? r : 2;
}

const char *pid1_machine_id_installed_to_string(int r) {
        return r == 0 ? "already in" : r == 1 ? "written to" : r == 2 ? "bound over (read-only root)" : NULL;
}

void pid1_machine_id_setup(const MachineIdRequest *req, const char *path, const char *runtime_dir) {
        int r = req->found;

        if (isempty(path))
                return;
        if (req->refused > 1)
                log_warning("Refused %s (and %u more); %s.", req->error, req->refused - 1,
                            r > 0 ? "a valid one applies" : "the machine id stays the image's");
        else if (req->refused > 0)
                log_warning("Refused %s; %s.", req->error,
                            r > 0 ? "a valid one applies" : "the machine id stays the image's");
        if (r <= 0) {
                if (r < 0)
                        log_error_errno(r, "Cannot read systemd.machine_id=: %m");
                return;
        }
        r = pid1_machine_id_install(path, req->id, runtime_dir);
        if (r < 0)
                log_error_errno(r, "Failed to set the machine id from systemd.machine_id= in %s, it stays the "
                                   "image's: %m", path);
        else
                log_info("Machine id from systemd.machine_id= %s %s.", pid1_machine_id_installed_to_string(r), path);
}

/* The root read-only, as systemd-shutdown leaves it: ext4 then writes
 * back what its journal holds and clears needs_recovery (a clean image,
 * what an offline reader such as debugfs, which replays no journal, needs
 * to see the last writes).  A superblock remount, not a mount's flag
 * (mount_setattr()): only that one makes the file system itself clean.
 * EBUSY while a file on it is still open for writing (or deleted and
 * still open): then the reboot goes on with it writable, as before.  A
 * root read-only before (booted "ro") is told apart: a failed reboot()
 * must not leave it writable. */
static Pid1Root remount_root_read_only(const Pid1RebootOps *ops) {
        struct statvfs sv;
        bool was = ops->statvfs("/", &sv) >= 0 && (sv.f_flag & ST_RDONLY);

        if (ops->mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0) {
                log_error_errno(errno, "Failed to remount / read-only, going on with it %s: %m",
                                was ? "read-only as it was" : "writable (its journal is replayed at the next mount)");
                return was ? PID1_ROOT_WAS_READ_ONLY : PID1_ROOT_WRITABLE;
        }
        log_info("Remounted / read-only.");
        return was ? PID1_ROOT_WAS_READ_ONLY : PID1_ROOT_READ_ONLY;
}

/* After a failed reboot() the agent stays up, and with it everything that
 * writes to the root.  Without MS_RDONLY a superblock remount makes it
 * writable again, unless the file system or its device refuses (an
 * error since, a device gone read-only). */
static Pid1Root remount_root_writable(const Pid1RebootOps *ops) {
        if (ops->mount(NULL, "/", NULL, MS_REMOUNT, NULL) >= 0)
                return PID1_ROOT_WRITABLE_AGAIN;
        log_error_errno(errno, "Failed to remount / writable again, it stays read-only (every write to it fails "
                               "with EROFS): %m");
        return PID1_ROOT_READ_ONLY;
}

static const char *const pid1_root_table[_PID1_ROOT_MAX] = {
        [PID1_ROOT_UNTOUCHED] = "the file systems as they were (not the machine's own init)",
        [PID1_ROOT_WRITABLE] = "/ writable (its read-only remount had failed)",
        [PID1_ROOT_READ_ONLY] = "/ read-only (remounting it writable again failed)",
        [PID1_ROOT_WRITABLE_AGAIN] = "/ remounted writable again",
        [PID1_ROOT_WAS_READ_ONLY] = "/ read-only, as it was before the shutdown",
};

const char *pid1_root_to_string(Pid1Root r) {
        return r >= 0 && r < _PID1_ROOT_MAX ? pid1_root_table[r] : NULL;
}

int pid1_reboot_with(const Pid1RebootOps *ops, ShutdownAction action, Pid1Root *ret_root) {
        Pid1Root root = PID1_ROOT_UNTOUCHED;
        int r = 0;

        ops->sync();
        if (ops->is_machine_init())
                root = remount_root_read_only(ops);
        else
                log_info("Not the machine's own init (PID 1 of a PID namespace): its file systems are left as they "
                         "are.");
        if (ops->reboot(action == SHUTDOWN_POWEROFF ? RB_POWER_OFF : RB_AUTOBOOT) < 0) {
                r = negative_errno();
                if (root == PID1_ROOT_READ_ONLY)
                        root = remount_root_writable(ops);
        }
        *ret_root = root;
        return r; /* 0: not reached for a real PID 1 */
}

/* Never by getpid() alone: a PID namespace's init shares the root. */
static bool is_machine_init(void) {
        return nsfs_is_machine_init(getpid(), nsfs_inode("/proc/self/ns/pid"));
}

int pid1_reboot(ShutdownAction action, Pid1Root *ret_root) {
        static const Pid1RebootOps ops = {
                .sync = sync,
                .is_machine_init = is_machine_init,
                .statvfs = statvfs,
                .mount = mount,
                .reboot = reboot,
        };

        return pid1_reboot_with(&ops, action, ret_root);
}
