/* What is installed of the pinned provider CLIs: the pins (clis.json) and,
 * for each, the version of the package found below
 * <clis_dir>/<provider>/ (the npm install prefix the image builder copies
 * there), or none when its package.json or its program is missing.  Read
 * once at start for /health: the image does not change under a running
 * agent. */
#pragma once

#include "cli-pins.h"
#include "macro.h"

typedef struct CliInstalled {
        CliPins *pins;
        char **installed;  /* per pin: the installed version, NULL: missing */
} CliInstalled;

/* clis_file "" : no pins (an empty report).  A missing clis_file is an
 * empty report too; one that does not parse is -EINVAL with the reason in
 * err.  Missing or unreadable packages are reported as missing, not as
 * errors. */
int cli_installed_load(const char *clis_file, const char *clis_dir, CliInstalled **ret, char *err,
                       size_t errsize);
CliInstalled *cli_installed_free(CliInstalled *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(CliInstalled *, cli_installed_free);
