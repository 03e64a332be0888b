/* See cli-installed.h.  The program must be there and executable as well
 * as the package.json: an image whose copy lost the program (or its
 * execute bit) has no working CLI, whatever its package.json says. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "cli-installed.h"
#include "fileio.h"
#include "log.h"

#define CLIS_FILE_MAX (64 * 1024)
#define PACKAGE_JSON_MAX (1024 * 1024)

CliInstalled *cli_installed_free(CliInstalled *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; c->pins && i < c->pins->n; i++)
                free(c->installed[i]);
        free(c->installed);
        cli_pins_free(c->pins);
        free(c);
        return NULL;
}

/* The installed version of p, NULL when it is not installed. */
static char *installed_version(const CliPin *p, const char *clis_dir) {
        _cleanup_(freep) char *rel = cli_pin_package_json(p), *json = NULL, *text = NULL, *entry = NULL;
        char *version = NULL;
        size_t n;
        int r;

        if (!rel || asprintf(&json, "%s/%s/%s", clis_dir, p->provider, rel) < 0 ||
            asprintf(&entry, "%s/%s/%s", clis_dir, p->provider, p->entry) < 0)
                return NULL;
        if (access(entry, X_OK) < 0) {
                log_debug_errno(errno, "CLI %s: %s: %m", p->provider, entry);
                return NULL;
        }
        r = read_full_file(json, PACKAGE_JSON_MAX, &text, &n);
        if (r >= 0)
                r = cli_pins_package_version(text, n, &version);
        if (r < 0)
                log_debug_errno(r, "CLI %s: no version in %s: %m", p->provider, json);
        return r < 0 ? NULL : version;
}

int cli_installed_load(const char *clis_file, const char *clis_dir, CliInstalled **ret, char *err,
                       size_t errsize) {
        _cleanup_(cli_installed_freep) CliInstalled *c = calloc(1, sizeof *c);
        _cleanup_(freep) char *text = NULL;
        size_t n = 0;
        int r;

        if (!c)
                return -ENOMEM;
        if (!isempty(clis_file)) {
                r = read_full_file(clis_file, CLIS_FILE_MAX, &text, &n);
                if (r < 0 && r != -ENOENT) {
                        snprintf(err, errsize, "%s: %s", clis_file, strerror(-r));
                        return r;
                }
        }
        if (text) {
                r = cli_pins_parse(text, n, &c->pins, err, errsize);
                if (r < 0)
                        return r;
        } else if (!(c->pins = calloc(1, sizeof *c->pins)))
                return -ENOMEM;
        c->installed = calloc(c->pins->n + 1, sizeof(char *));
        if (!c->installed)
                return -ENOMEM;
        for (size_t i = 0; i < c->pins->n; i++)
                c->installed[i] = installed_version(&c->pins->pins[i], strempty(clis_dir));
        *ret = TAKE_PTR(c);
        return 0;
}
