/* Reading what /proc says about a process: pure parsing of the text of
 * /proc/PID/status, which (unlike the owner of /proc/PID) gives the real
 * uid of a process that made itself non-dumpable. */
#pragma once

#include <sys/types.h>

typedef struct ProcStatus {
        char state;  /* 'R', 'S', 'Z', ... */
        pid_t ppid;
        uid_t uid;   /* real */
} ProcStatus;

/* 0 and *ret from the State:, PPid: and Uid: lines of text; -EINVAL when
 * one is missing or malformed. */
int proc_status_parse(const char *text, ProcStatus *ret);
