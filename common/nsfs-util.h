/* The nsfs inode numbers of the initial namespaces, in one place for the
 * callers that must tell "the machine's own namespace" from one a test
 * or a container made (agent/run.c: whether the network and hostname are
 * ours to set; netinit/ipcfg-nl.c: whether applying is safe;
 * agent/supervise/cgroup.c: whether PID 1's cgroup is its own; agent/pid1.c:
 * whether the file systems are its own to remount at shutdown).  The kernel
 * numbers the initial namespaces statically (include/linux/proc_ns.h,
 * PROC_*_INIT_INO); the network one only since Linux 6.18, where this was
 * verified.  Dynamically numbered namespaces start at 0xF0000000, so no
 * other namespace can carry these numbers on any kernel. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define NSFS_PID_INIT_INO UINT32_C(0xEFFFFFFC)
#define NSFS_UTS_INIT_INO UINT32_C(0xEFFFFFFE)
#define NSFS_NET_INIT_INO UINT32_C(0xEFFFFFF9)
#define NSFS_CGROUP_INIT_INO UINT32_C(0xEFFFFFFB)

/* Whether path (e.g. "/proc/self/ns/net") is the namespace numbered ino;
 * false when it cannot be read. */
static inline bool nsfs_inode_is(const char *path, uint32_t ino) {
        struct stat st;
        return stat(path, &st) >= 0 && st.st_ino == ino;
}

/* The nsfs inode number of path (e.g. "/proc/self/ns/pid"); 0, which no
 * namespace has, when it cannot be read (no /proc). */
static inline uint64_t nsfs_inode(const char *path) {
        struct stat st;
        return stat(path, &st) >= 0 ? (uint64_t)st.st_ino : 0;
}

/* Whether pid, in the PID namespace numbered pidns_ino, is the machine's
 * own init: PID 1 of the initial PID namespace.  The init of a PID
 * namespace that a test or a container made is PID 1 as well, and shares
 * the superblocks of the machine's file systems (a private mount namespace
 * does not copy them): a read-only remount of its "/" would be the
 * machine's.  Not PID 1 in the initial namespace: a systemd service. */
static inline bool nsfs_is_machine_init(pid_t pid, uint64_t pidns_ino) {
        return pid == 1 && pidns_ino == NSFS_PID_INIT_INO;
}
