/* The pins of the provider CLIs (packaging/clis.json, installed as
 * /etc/vm-browser-agent/clis.json): which npm package and version each
 * provider's CLI is, the program it runs, and the Debian Node.js the ones
 * that need Node run on.  The same file drives the CLI cache, the real-CLI
 * test tier and the image; the agent reads it to report in /health what
 * is installed against what was pinned.  Parsed here without any syscall
 * (unit tests and the fuzzer link it alone).  Everything returned is owned
 * by the CliPins; cli_pins_free() releases it all. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

#define CLI_PINS_MAX 32

typedef struct CliPin {
        char *provider;   /* a providers.json id */
        char *package;    /* npm package name, "@scope/name" or "name" */
        char *version;    /* exact npm version */
        char *command;    /* the name providers.json's argv[0] looks up on PATH */
        char *entry;      /* the program, relative to the package's install prefix */
        bool needs_node;  /* entry is a script run by node */
} CliPin;

typedef struct CliPins {
        char *node_suite;   /* Debian suite Node.js comes from ("trixie") */
        char *node_package; /* its package ("nodejs") */
        char *node_version; /* exact Debian version */
        CliPin *pins;
        size_t n;
} CliPins;

/* clis.json text → CliPins.  0, or -EINVAL with a one-line message naming
 * the entry and the key in errbuf (unknown keys, wrong types, duplicate
 * providers and unsafe paths are errors).  Grammar:
 *   {"node": {"debian_suite": "trixie", "package": "nodejs",
 *             "version": "20.19.2+dfsg-1+deb13u3"},
 *    "clis": [{"provider": "gemini_cli", "package": "@google/gemini-cli",
 *              "version": "0.61.0", "command": "gemini",
 *              "entry": "node_modules/@google/gemini-cli/bundle/gemini.js",
 *              "needs_node": true}]} */
int cli_pins_parse(const char *text, size_t size, CliPins **ret, char *errbuf, size_t errsize);
CliPins *cli_pins_free(CliPins *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(CliPins *, cli_pins_free);

/* Where a pin's package.json is below its install prefix
 * ("node_modules/<package>/package.json"): owned by the caller, NULL on
 * allocation failure. */
char *cli_pin_package_json(const CliPin *p);
/* The "version" of a package.json's text: owned by the caller; -EINVAL
 * when it has none (or is not a package.json). */
int cli_pins_package_version(const char *text, size_t size, char **ret);
