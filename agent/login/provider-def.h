/* Provider definitions: what the agent knows about each provider CLI is
 * data (providers.json), parsed and validated here without any syscall so
 * unit tests and the fuzzer link it alone (provider_set_program_hidden()
 * alone looks at the file system).  The file format is documented in
 * README ("Provider file format").  Everything returned is owned by the
 * ProviderSet; provider_set_free() releases it all. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#define PROVIDER_MAX 32
#define PROVIDER_LIST_MAX 32       /* argv, env, aliases, patterns, prompts */
#define PROVIDER_STRING_MAX 4096

typedef struct ProviderPrompt {
        char *match;  /* text on the CLI's rendered screen (prompt-match.h) */
        char *send;   /* keystrokes, "\r" for Enter */
        bool repeat;  /* false: answered at most once; true: once per place */
} ProviderPrompt;

typedef struct ProviderDef {
        char *id;
        char **aliases;        /* NULL-terminated, may be empty */
        char **argv;           /* NULL-terminated, at least argv[0] */
        char **env;            /* NULL-terminated "KEY=VALUE" */
        bool pty;
        ProviderPrompt *prompts;
        size_t n_prompts;
        char **url_patterns;   /* NULL-terminated URL prefixes, at least one */
        char **failures;       /* NULL-terminated texts on the CLI's screen that
                                * mean the sign-in failed (a CLI that goes on
                                * running after a failed token exchange) */
        char *credential_file; /* relative to HOME, no "..", not absolute */
        char **credential_keys;/* NULL-terminated dotted paths the file must hold, may be empty */
        uint16_t callback_port;/* the CLI's loopback listener; 0 = none */
        char *callback_path;   /* "/auth/callback" by default */
} ProviderDef;

typedef struct ProviderSet {
        ProviderDef *defs;
        size_t n;
} ProviderSet;

/* Parses providers.json text.  0 and the set, or -EINVAL with a one-line
 * message naming the provider and the key in errbuf. */
int provider_set_parse(const char *text, size_t size, ProviderSet **ret, char *errbuf, size_t errsize);
ProviderSet *provider_set_free(ProviderSet *s);
/* By id or alias; NULL when unknown.  Borrowed. */
const ProviderDef *provider_set_find(const ProviderSet *s, const char *name);
/* Why each CLI cannot run a provider's program, or what runs it. */
typedef enum ProgramBlock {
        PROGRAM_BLOCK_PRIVATE_TMP, /* it leads below a directory each CLI has an empty one of */
        PROGRAM_BLOCK_RELATIVE,    /* a relative name, looked up in each CLI's new, empty HOME */
        PROGRAM_BLOCK_SEARCH,      /* a directory on its way the CLIs' user may not search */
        PROGRAM_BLOCK_EXECUTE,     /* the CLIs' user may not execute it */
        PROGRAM_BLOCK_READ,        /* a script the CLIs' user may not read, which its interpreter opens */
        PROGRAM_BLOCK_NOT_FILE,    /* a directory, device, FIFO or socket: exec runs regular files only */
        PROGRAM_BLOCK_NOEXEC,      /* on a file system mounted noexec, where exec runs nothing */
        _PROGRAM_BLOCK_MAX,
} ProgramBlock;

typedef struct ProgramHidden {
        char program[PATH_MAX];     /* argv[0] when absolute, else where path found it */
        char interpreter[PATH_MAX]; /* "": the program is blocked; else what runs it that is */
        char where[PATH_MAX];       /* PRIVATE_TMP: the name below one (private_tmp_hides_where());
                                     * SEARCH: the directory; else the file */
        ProgramBlock block;
        uid_t uid;                  /* SEARCH, EXECUTE, READ: the user judged, */
        gid_t gid;
        mode_t mode;                /* and where's permission bits, owner and group;
                                     * NOT_FILE: where's type (S_IFMT) too */
        uid_t owner;
        gid_t group;
} ProgramHidden;

/* Interpreters followed from a program that is a script: the kernel runs
 * 4 deep, a name env(1) finds starts anew. */
#define PROVIDER_INTERPRETERS_MAX 8

/* The first provider whose program each CLI cannot run: below the /tmp,
 * /var/tmp, /dev/shm or /run/lock it has a new, empty one of, by name or
 * through its symlinks (private_tmp_hides_where(), mount-util.h); one
 * that is no regular file where it leads (a directory) or is on a file
 * system mounted noexec, which exec refuses (EACCES) for any user; one
 * that uid with gid (a CLI's user, which has no other group) may not
 * reach or execute by the mode bits (path_access_denied(), fileio.h);
 * uid 0 judges no permission (no CLI runs as root: no user known).  The
 * program is argv[0] when absolute, else what path (the CLIs' PATH)
 * finds now (find_executable(), launch.h): a name not found is not
 * judged, as a login looks it up again.  A program that is a script is
 * judged by its "#!" interpreter too (shebang.h), and so is the
 * interpreter's, up to PROVIDER_INTERPRETERS_MAX: a relative one that
 * stays below the CLI's working directory, its new, empty HOME, where the
 * kernel looks it up (one that climbs out with ".." is not judged), or
 * for "#!/usr/bin/env node" node where path finds one uid may execute
 * now outside a /tmp of each CLI's own, as env's execvp() passes the
 * others and those exec refuses to anyone (as for the program, none
 * found is not judged; none that runs: the first it passed is refused);
 * and a script uid may not read (its interpreter opens it).  A file that is not there is not judged.  NULL when none;
 * else the provider (borrowed) and *ret. */
const ProviderDef *provider_set_program_hidden(const ProviderSet *s, const char *path, uid_t uid, gid_t gid,
                                               ProgramHidden *ret);
/* Why p's program cannot run, as h says, one line into buf: "provider
 * codex's program /usr/bin/codex has its interpreter (#!) /tmp/node where
 * each provider CLI has an empty /tmp, ...". */
void provider_program_hidden_describe(const ProviderDef *p, const ProgramHidden *h, char *buf, size_t size);
/* true when url starts with one of the provider's patterns. */
bool provider_url_matches(const ProviderDef *p, const char *url);

#define PROVIDER_KEY_DEPTH_MAX 8

/* true when the parsed credential file holds every one of the provider's
 * credential_keys ("tokens", "a.b": dotted paths through objects) with a
 * value that says something: not null, false, "", {} or [].  CLIs write
 * the file more than once (Claude Code writes "{}" before the tokens); only
 * the complete one is the login's credentials.  No keys: any object. */
bool provider_credentials_complete(const ProviderDef *p, const json_t *credentials);
