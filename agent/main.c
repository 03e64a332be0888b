/* vm-browser-agent: the entry point.  Only wires subcommands together;
 * each lives in its module as <name>_main(argc, argv).  Started as PID 1
 * (init=) or as "init", it runs the agent. */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "build-config.h"
#include "fileio.h"
#include "log.h"
#include "agent/ctl/ctl.h"
#include "agent/login/control-socket.h"
#include "agent/login/home-remove.h"
#include "macro.h"
#include "netinit/netinit-main.h"
#include "run.h"
#include "version.h"
#include "vnc/xdo-window.h"

typedef struct Verb {
        const char *name;
        int (*main)(int argc, char **argv);
        const char *help;
} Verb;

static const Verb verbs[] = {
        { "run", run_main, "run the agent (the default; what PID 1 runs)" },
        { "netinit", netinit_main, "configure the network from ip= (see --help)" },
        { "open-url", open_url_main, "hand a URL to the running agent's browser ($BROWSER for CLIs)" },
        { "ctl", ctl_main, "the host's side: health, wait-ready, login, receive pushed credentials" },
        { "remove-tree", remove_tree_main, "remove a login's HOME (the agent runs it, off its event loop)" },
        { XDO_WINDOW_VERB, xdo_window_main, "arrange the browser's windows (the agent runs it as the browser's user)" },
};

static void print_version(void) {
        _cleanup_(freep) char *build_id = NULL;

        if (read_full_file(BUILD_ID_PATH, 4096, &build_id, NULL) >= 0)
                build_id[strcspn(build_id, "\n")] = '\0';
        printf("vm-browser-agent %s\nrevision %s\nbuild-id %s\n", PACKAGE_VERSION,
               GIT_REVISION, isempty(build_id) ? "none" : build_id);
}

static void print_help(void) {
        printf("Usage: vm-browser-agent [--help|--version] COMMAND [ARGS...]\n\n"
               "The in-guest agent of a browser microVM.\n\nCommands:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                printf("  %-15s %s\n", verbs[i].name, verbs[i].help);
        printf("\nRun 'vm-browser-agent COMMAND --help' for a command's options.\n");
}

static const Verb *verb_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, name))
                        return &verbs[i];
        return NULL;
}

int main(int argc, char **argv) {
        const Verb *v;

        /* Run through one of the links given to provider CLIs as their
         * browser (login.h): open-url, whatever the link is called. */
        if (getpid() != 1 && argc >= 1 && open_url_is_link_name(argv[0]))
                return open_url_main(argc, argv);
        /* As PID 1 an exit is a kernel panic: these words from the kernel's
         * command line are ignored like any other (see below). */
        if (getpid() != 1 && argc >= 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"))) {
                print_help();
                return 0;
        }
        if (getpid() != 1 && argc >= 2 && streq(argv[1], "--version")) {
                print_version();
                return 0;
        }
        /* As PID 1 the kernel passes its unknown arguments to init; run the
         * agent whatever they are. */
        if (getpid() == 1 || argc < 2 || argv[1][0] == '-')
                v = verb_find("run");
        else
                v = verb_find(argv[1]);
        if (!v) {
                log_error("Unknown command '%s'; see --help.", argc >= 2 ? argv[1] : "run");
                return 2;
        }
        if (getpid() == 1 || argc < 2 || argv[1][0] == '-')
                return v->main(argc, argv);
        return v->main(argc - 1, argv + 1);
}
