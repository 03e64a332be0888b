/* `vm-browser-agent netinit`: the command line over netinit_run()
 * (netinit.h), which reads the kernel command line (/proc/cmdline, a file,
 * or --cmdline), parses its ip= into a plan and, for --apply, decides with
 * netinit's one policy and applies it over netlink; --dry-run prints the
 * plan as JSON.  Here are the flags and the words: every outcome is logged
 * once, with context.  --apply refuses to run where it could reconfigure
 * the machine's own network: it needs PID 1, a network namespace other
 * than PID 1's, or --force (the whole rule is in netinit.h).  Exit codes:
 * 0 done, 1 failed or refused, 2 bad usage or an invalid command line. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "macro.h"
#include "netinit-main.h"
#include "netinit.h"
#include "parse-util.h"
#include "time-util.h"

typedef enum Mode {
        MODE_NONE,
        MODE_DRY_RUN,
        MODE_APPLY,
} Mode;

typedef struct Args {
        Mode mode;
        const char *cmdline;
        const char *cmdline_file;
        bool force;
        bool timing;
        IpcfgApplyOptions opts;
} Args;

static void help(void) {
        printf("Usage: vm-browser-agent netinit (--dry-run | --apply) [OPTIONS]\n\n"
               "Configure the network from ip= on the kernel command line.\n\n"
               "  --dry-run             print the parsed plan as JSON, change nothing\n"
               "  --apply               configure the interfaces over netlink\n"
               "  --cmdline STRING      use STRING instead of the kernel command line\n"
               "  --cmdline-file PATH   read the command line from PATH (/proc/cmdline)\n"
               "  --force               apply even in the initial network namespace\n"
               "  --timeout MS          wait this long for a device to appear (10000)\n"
               "  --resolv-conf PATH    resolv.conf to write (/etc/resolv.conf)\n"
               "  --hosts PATH          hosts file to update (/etc/hosts)\n"
               "  --hostname-file PATH  hostname file to write (/etc/hostname; \"\" = none)\n"
               "  --no-hostname         do not call sethostname()/setdomainname()\n"
               "  --timing              log how long parsing (ns) and applying (us) took\n"
               "  --help                show this help\n\n"
               "Exit status: 0 done, 1 failed or refused, 2 bad usage or invalid ip=.\n");
}

static int parse_timeout(const char *s, usec_t *ret) {
        uint64_t ms;
        int r = parse_unsigned(s, UINT32_MAX, &ms);

        if (r >= 0)
                *ret = (usec_t)ms * USEC_PER_MSEC;
        return r;
}

/* Returns 1 to go on, 0 to exit successfully (--help), -EINVAL on bad usage. */
static int parse_argv(int argc, char **argv, Args *a) {
        enum { ARG_CMDLINE = 0x100, ARG_CMDLINE_FILE, ARG_TIMEOUT, ARG_RESOLV, ARG_HOSTS,
               ARG_HOSTNAME_FILE, ARG_NO_HOSTNAME, ARG_TIMING, ARG_FORCE };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "dry-run", no_argument, NULL, 'n' },
                { "apply", no_argument, NULL, 'a' },
                { "cmdline", required_argument, NULL, ARG_CMDLINE },
                { "cmdline-file", required_argument, NULL, ARG_CMDLINE_FILE },
                { "force", no_argument, NULL, ARG_FORCE },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "resolv-conf", required_argument, NULL, ARG_RESOLV },
                { "hosts", required_argument, NULL, ARG_HOSTS },
                { "hostname-file", required_argument, NULL, ARG_HOSTNAME_FILE },
                { "no-hostname", no_argument, NULL, ARG_NO_HOSTNAME },
                { "timing", no_argument, NULL, ARG_TIMING },
                {}
        };
        int c;

        optind = 0; /* reset: main() may have used getopt already */
        opterr = 0; /* we report, with a priority prefix like every other line */
        while ((c = getopt_long(argc, argv, "+:h", options, NULL)) >= 0)
                switch (c) {
                case 'h': help(); return 0;
                case 'n': case 'a':
                        if (a->mode != MODE_NONE && a->mode != (c == 'n' ? MODE_DRY_RUN : MODE_APPLY))
                                return log_error_errno(-EINVAL, "--dry-run and --apply exclude each other.");
                        a->mode = c == 'n' ? MODE_DRY_RUN : MODE_APPLY;
                        break;
                case ARG_CMDLINE: a->cmdline = optarg; break;
                case ARG_CMDLINE_FILE: a->cmdline_file = optarg; break;
                case ARG_FORCE: a->force = true; break;
                case ARG_TIMEOUT:
                        if (parse_timeout(optarg, &a->opts.device_timeout_usec) < 0)
                                return log_error_errno(-EINVAL, "Invalid --timeout '%s': expected milliseconds.",
                                                       optarg);
                        break;
                case ARG_RESOLV: a->opts.resolv_conf = optarg; break;
                case ARG_HOSTS: a->opts.hosts = optarg; break;
                case ARG_HOSTNAME_FILE: a->opts.hostname_file = optarg; break;
                case ARG_NO_HOSTNAME: a->opts.set_hostname = false; break;
                case ARG_TIMING: a->timing = true; break;
                case ':':
                        return log_error_errno(-EINVAL, "Option '%s' needs an argument; see --help.",
                                               argv[optind - 1]);
                default:
                        return log_error_errno(-EINVAL, "Unknown option '%s'; see --help.", argv[optind - 1]);
                }
        if (optind < argc)
                return log_error_errno(-EINVAL, "Unexpected argument '%s'; see --help.", argv[optind]);
        if (a->mode == MODE_NONE)
                return log_error_errno(-EINVAL, "Specify --dry-run or --apply; see --help.");
        return 1;
}

static int dry_run(const IpcfgPlan *plan) {
        _cleanup_(freep) char *json = NULL;
        int r;

        r = ipcfg_plan_to_json(plan, &json);
        if (r < 0)
                return log_error_errno(r, "Failed to format the plan as JSON: %m");
        if (printf("%s\n", json) < 0 || fflush(stdout) != 0)
                return log_error_errno(-EIO, "Failed to write the plan: %m");
        return 0;
}

/* One line for a failure; returns the exit code. */
static int log_failure(const Args *a, const NetinitOutcome *n, int r) {
        switch (n->stage) {
        case NETINIT_STAGE_READ:
                log_error_errno(r, "Failed to read %s: %m", a->cmdline_file);
                return 1;
        case NETINIT_STAGE_PARSE:
                log_error_errno(r, r == -E2BIG ? "%s." : "%s", n->error);
                return 2;
        case NETINIT_STAGE_POLICY:
                log_error_errno(r, "%s. %s", n->error,
                                n->policy.refusal == NETINIT_REFUSAL_NETNS_UNKNOWN
                                        ? "Pass --force to override."
                                        : "Run inside a network namespace, as PID 1, or pass --force.");
                return 1;
        default:
                /* What did work may have a warning of its own. */
                if (n->result.warning[0])
                        log_warning("%s", n->result.warning);
                /* ipcfg_apply()'s failures, each with its errno already. */
                log_error_errno(r, "%s", n->error);
                return 1;
        }
}

static void log_applied(const Args *a, const NetinitOutcome *n) {
        if (n->result.warning[0])
                log_warning("%s", n->result.warning);
        if (a->opts.set_hostname && !n->policy.may_set_hostname && ipcfg_plan_hostname_iface(&n->plan))
                log_notice("Left the hostname alone: %s. Run in a private UTS namespace, or pass --force "
                           "or --no-hostname.", n->policy.reason);
        if (n->plan.n_ifaces == 0)
                log_info("No ip= on the kernel command line: brought up the loopback device only.");
        else
                log_info("Configured %s (ifindex %d)%s.", n->result.device, n->result.ifindex,
                         n->result.address_existed ? "; its address was already present" : "");
}

int netinit_main(int argc, char **argv) {
        Args a = { .cmdline_file = "/proc/cmdline" };
        NetinitOptions o;
        NetinitOutcome n;
        int r;

        ipcfg_apply_options_default(&a.opts);
        r = parse_argv(argc, argv, &a);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        o = (NetinitOptions){
                .cmdline = a.cmdline,
                .cmdline_path = a.cmdline_file,
                .apply = a.mode == MODE_APPLY,
                .force = a.force,
                .apply_options = a.opts,
        };
        r = netinit_run(&o, &n);
        if (a.timing && n.stage >= NETINIT_STAGE_PARSE)
                log_info("parse took %" PRIu64 " ns", n.parse_nsec);
        if (a.timing && o.apply && n.stage >= NETINIT_STAGE_APPLY)
                log_info("apply took %" PRIu64 " us", n.apply_usec);
        if (r < 0)
                return log_failure(&a, &n, r);
        if (!o.apply)
                return dry_run(&n.plan) < 0 ? 1 : 0;
        log_applied(&a, &n);
        return 0;
}
