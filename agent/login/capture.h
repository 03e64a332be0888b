/* Captures a credential file the moment a CLI finishes writing it:
 * inotify on its directory (IN_CLOSE_WRITE, IN_MOVED_TO: CLIs write in
 * place or rename a temporary file over it; an overrun of the loop's
 * event queue, which may have dropped those), then the file must be a
 * regular file, bounded, and parse as a JSON object that the caller's
 * check accepts; a half-written file, or one the CLI writes before its
 * real content (an empty object), is not a capture and the next event
 * tries again.  A file that already
 * existed when the watch began counts only once it changes. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "macro.h"
#include "time-util.h"

typedef struct Capture Capture;

#define CAPTURE_MAX (1024 * 1024)
/* Values (objects, arrays, strings, numbers...) in one file, at most: a
 * provider's credentials hold a few dozen.  Bounds the memory the parsed
 * file takes, not only its bytes. */
#define CAPTURE_VALUES_MAX 4096

/* credentials: owned by the callee (json_decref + wipe when done);
 * modified: the file's mtime, CLOCK_REALTIME µs. */
typedef void (*CaptureHandler)(Capture *c, json_t *credentials, usec_t modified, void *userdata);

/* Whether a parsed file (a JSON object) is the complete credentials. */
typedef bool (*CaptureCheck)(const json_t *credentials, void *userdata);

/* The file rel (relative, no "..") below the directory root (absolute;
 * the agent's, trusted: a CLI's HOME); rel's directories are created
 * (0700, uid:gid's: the CLI writes there) when missing, through no
 * symlink.  check may be NULL: any object is complete. */
int capture_start(sd_event *e, const char *root, const char *rel, uid_t uid, gid_t gid, CaptureCheck check,
                  CaptureHandler cb, void *userdata, Capture **ret);
Capture *capture_free(Capture *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Capture *, capture_free);
/* Checks the file now, as an inotify event would (a file unchanged since
 * the watch began, or one the check refuses, does not count): 1 when
 * captured (the handler ran and may have freed c), else 0. */
int capture_poll(Capture *c);

/* Reads and parses rel below root now, following no symlink on the way
 * (ENOTDIR, ELOOP) and only a regular file with one link (EBADFD,
 * EMLINK): 0 and the object (the file is made 0600), -ENODATA when it is
 * not (yet) a complete JSON object, -EFBIG over CAPTURE_MAX bytes, -E2BIG
 * over CAPTURE_VALUES_MAX values, other -errno from the file system. */
int capture_read(const char *root, const char *rel, json_t **ret, usec_t *ret_modified);
