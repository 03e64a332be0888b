/* The machine id a boot argument names: systemd.machine_id=, read by the
 * same rules as systemd (src/core/main.c, sd_id128_from_string()), so a
 * host passes one argument to both flavours of the image.  Pure: no
 * system calls. */
#pragma once

#include <stddef.h>

/* 32 lowercase hex digits and the NUL: /etc/machine-id's form without
 * its newline (machine-id(5)). */
#define MACHINE_ID_STRING_MAX 33
#define MACHINE_ID_ERROR_MAX 256

/* s as a machine id, written to ret in machine-id(5)'s form (lowercase)
 * when it is one: 32 hex digits of either case, or a UUID in its
 * 8-4-4-4-12 form, not all zero, as systemd takes them.  "firmware",
 * which newer systemd reads as "the SMBIOS product UUID", is refused:
 * a Firecracker VM has no SMBIOS, and the host that boots the VM knows
 * the UUID it would have given.  0, or -EINVAL with *ret_reason (if
 * non-NULL) a static phrase saying why; ret is written only on success. */
int machine_id_parse(const char *s, char ret[static MACHINE_ID_STRING_MAX], const char **ret_reason);

/* The machine id the kernel command line asks for: every
 * systemd.machine_id= (or systemd.machine-id=: systemd takes '-' and '_'
 * alike in its keys) up to "--", split with the kernel's own tokeniser
 * (cmdline-util.h); the last valid one wins and a malformed one is
 * skipped, as systemd does.  1 with the id in ret_id, 0 when none is
 * valid, -ENOMEM.  Each skipped word is counted in *ret_refused and the
 * last one described in error (one line naming the argument, its value
 * when short and printable, and why; "" when none), for the caller to
 * log. */
int machine_id_from_cmdline(const char *cmdline, char ret_id[static MACHINE_ID_STRING_MAX],
                            unsigned *ret_refused, char error[static MACHINE_ID_ERROR_MAX]);

/* machine_id_from_cmdline()'s answer, kept from the one read of the
 * command line until the id is installed: found is its return value. */
typedef struct MachineIdRequest {
        int found;
        unsigned refused;
        char id[MACHINE_ID_STRING_MAX];
        char error[MACHINE_ID_ERROR_MAX];
} MachineIdRequest;
