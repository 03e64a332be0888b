/* See restore.h.  One MMDS question at a time: a trigger while one is out
 * is remembered and asked after it.  The restoring state starts only when
 * MMDS names a new generation, so a poke (which anyone may send) costs at
 * most one MMDS question per restore_check_interval_ms and never a 503;
 * pokes inside the interval share one question at its end.
 * A refused handover keeps the agent restoring until a later check brings
 * an acceptable one; a failed MMDS question while restoring is asked
 * again with a growing delay, and so is the first one (the boot's
 * generation) and one a trigger asked (a host may poke before its MMDS
 * has the handover), RESTORE_ATTEMPTS_MAX questions since the start or
 * the last trigger, whether the generation is known or not (a clone of a
 * template that never learnt one is poked like any other).  A redo that
 * fails part way is asked again the same way, until it is done: the same
 * handover then redoes what is left (compared with the secrets from
 * before it, the clock not stepped back). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "agent/host/host-addresses.h"
#include "agent/host/host-secrets.h"
#include "agent/host/mmds.h"
#include "agent/host/restore-plan.h"
#include "agent/http/http.h"
#include "agent/login/handoff-vsock.h"
#include "agent/login/login.h"
#include "agent/login-routes.h"
#include "agent/supervise/supervisor.h"
#include "clock-watch.h"
#include "desktop-setup.h"
#include "fileio.h"
#include "log.h"
#include "pid1.h"
#include "restore.h"
#include "vnc/display.h"

#define RESTORE_MMDS_TIMEOUT_USEC (2 * USEC_PER_SEC)
#define RESTORE_RETRY_FIRST_USEC (200 * USEC_PER_MSEC)
#define RESTORE_RETRY_MAX_USEC (10 * USEC_PER_SEC)
#define RESTORE_ATTEMPTS_MAX 8

struct Restore {
        Manager *m;
        char *generation;          /* the one this VM has; NULL: not known yet */
        bool answered;             /* MMDS gave a handover before, or the boot's questions ran out */
        bool restoring;
        /* A redo that failed part way, tried again: its generation, the
         * steps it did, and the secrets from before it (secret; wiped). */
        char *pending;
        usec_t pending_since;      /* CLOCK_MONOTONIC: its handover first read */
        unsigned done;
        char *before_token;
        char *before_desktop;
        bool again;                /* a trigger came while MMDS was being asked */
        unsigned restores;
        int64_t last_ms;           /* -1: none yet */
        usec_t started;            /* CLOCK_MONOTONIC: the trigger of the restore under way */
        usec_t asked;              /* CLOCK_MONOTONIC: the current question */
        const char *why;           /* static: the trigger of the current question */
        usec_t last_poke;          /* CLOCK_MONOTONIC: the last POST /restore-check that asked MMDS */
        sd_event_source *poke_later; /* pokes inside the interval: their one question, at its end */
        usec_t retry_usec;
        unsigned attempts;         /* failed questions since the start or the last trigger */
        /* What network steps that failed since the last that did not may
         * have applied: removed by the next as the snapshot's plan is. */
        IpcfgPlan tried;
        MmdsRequest *mmds;
        sd_event_source *retry;
        sd_event_source *clock_src;
        int clock_fd;
};

static void check(Restore *x, const char *why);
static int on_retry(sd_event_source *es, uint64_t usec, void *userdata);

static void retry_later(Restore *x) {
        int r;

        x->retry = sd_event_source_disable_unref(x->retry);
        r = sd_event_add_time_relative(x->m->event, &x->retry, CLOCK_MONOTONIC, x->retry_usec, 0,
                                       on_retry, x);
        x->retry_usec = MIN(x->retry_usec * 2, RESTORE_RETRY_MAX_USEC);
        if (r < 0)
                log_error_errno(r, "Failed to schedule another MMDS question: %m");
}

/* The agent sets the machine id as at boot (pid1_machine_id_setup()):
 * first, before anything reads it, so that the CLIs a login starts after
 * the restore read the clone's.  What runs already (Xvfb, the browser,
 * the session bus) keeps what it may have read.  Again on a retry: the
 * same id is found in place and nothing is written. */
static int step_machine_id(Restore *x, const RestorePlan *p, const RestoreHandover *h) {
        const Config *c = &x->m->config;
        int r = pid1_machine_id_install(c->machine_id_file, p->machine_id, c->runtime_dir);

        if (r < 0)
                return log_error_errno(r, "Restore: failed to set the machine id from the handover in %s: %m",
                                       c->machine_id_file);
        log_info("Restore: machine id from the handover %s %s.", pid1_machine_id_installed_to_string(r),
                 c->machine_id_file);
        return 0;
}

/* websockify keeps a share for the host's addresses: from its next start
 * (step_desktop's), the new gateway's.  Not ours without the display
 * stack (a services_file).  A failure here (out of memory) leaves the old
 * host's share, said in the log; the restore itself is done. */
static void novnc_hosts_update(Manager *m) {
        _cleanup_(freep) char *hosts = NULL, *entry = NULL;
        int r;

        r = host_addresses_text(m->config.allow_from, &m->net.plan, &hosts);
        if (r >= 0 && !(entry = display_host_addresses_entry(hosts)))
                r = -ENOMEM;
        if (r >= 0 && m->supervisor)
                r = supervisor_set_env(m->supervisor, DISPLAY_SERVICE_WEBSOCKIFY, entry);
        if (r < 0 && r != -ENOENT)
                log_error_errno(r, "Restore: failed to tell websockify the host's new address: %m");
}

/* The plan the handover is laid over: the one applied before, each
 * interface with the device it was applied to (an ip= may name none,
 * which the handover cannot name back). */
static void network_base(const NetinitOutcome *net, IpcfgPlan *ret) {
        *ret = net->plan;
        for (size_t i = 0; i < MIN(ret->n_ifaces, (size_t)IPCFG_MAX_IFACES); i++)
                if (!ret->ifaces[i].device[0])
                        memcpy(ret->ifaces[i].device, net->result.devices[i], IFNAMSIZ);
}

/* What the handover's network can never give, refused before anything
 * is applied (a value that does not parse is netinit_run()'s to name):
 * ip=off (none...) would apply nothing and remove nothing: the clone
 * would keep the snapshot's address, and its gateway would no longer be
 * the host allow_from admits.  DHCP or autoconf: netinit has no client;
 * applied, the link and the files would change and the device keep the
 * snapshot's address, the same failure on every retry. */
static int network_check(const char *cmdline, const char *network, IpcfgPlan *want) {
        if (ipcfg_parse_cmdline(cmdline, want, NULL) < 0)
                return 0;
        if (want->n_ifaces == 0)
                return log_error_errno(-EINVAL, "Restore: the handover's network \"%s\" configures no interface "
                                       "(to keep the address, leave network out).", network);
        for (size_t i = 0; i < want->n_ifaces; i++) {
                IpcfgMethod m = want->ifaces[i].method;

                if (m == IPCFG_METHOD_DHCP || m == IPCFG_METHOD_DHCP6 || m == IPCFG_METHOD_AUTO6)
                        return log_error_errno(-EOPNOTSUPP, "Restore: the handover's network \"%s\" asks for %s "
                                               "on %s, and netinit has no DHCP/autoconf client: give the clone a "
                                               "static address (nothing was changed).", network,
                                               ipcfg_method_to_string(m),
                                               want->ifaces[i].device[0] ? want->ifaces[i].device : "its device");
        }
        return 0;
}

static int step_network(Restore *x, const RestorePlan *p, const RestoreHandover *h) {
        Manager *m = x->m;
        _cleanup_(freep) char *cmdline = NULL;
        NetinitOutcome out = {};
        IpcfgPlan previous = m->net.plan, want = {}, base;
        size_t left_out = ipcfg_plan_merge(&previous, &x->tried);
        NetinitOptions o = {
                .apply = m->config.netinit < 0 ? m->is_pid1 : m->config.netinit > 0,
                .system_service = manager_is_system_service(m),
        };
        int r;

        if (asprintf(&cmdline, "ip=%s", h->network) < 0)
                return log_error_errno(-ENOMEM, "Restore: %m");
        r = network_check(cmdline, h->network, &want);
        if (r < 0)
                return r;
        o.cmdline = cmdline;
        network_base(&m->net, &base);
        o.base = &base;
        ipcfg_apply_options_default(&o.apply_options);
        o.apply_options.resolv_conf = m->config.resolv_conf;
        o.apply_options.hosts = m->config.hosts_file;
        o.apply_options.hostname_file = m->config.hostname_file;
        /* A clone has the snapshot's devices: none is waited for (the
         * wait would hold the agent's loop, a missing one fails at once). */
        o.apply_options.device_timeout_usec = 0;
        o.apply_options.previous = &previous;
        if (left_out > 0)
                log_warning("Restore: %zu address(es) an earlier try applied are not removed (more than %d "
                            "interfaces in all).", left_out, IPCFG_MAX_IFACES);
        r = netinit_run(&o, &out);
        if (out.result.warning[0])
                log_warning("Restore: %s", out.result.warning);
        if (r < 0) {
                /* It may have applied its address before failing (a file,
                 * a sysctl): the next try removes it too. */
                (void)ipcfg_plan_merge(&x->tried, &out.plan);
                return log_error_errno(r, "Restore: network from the handover failed: %s", out.error);
        }
        x->tried = (IpcfgPlan){};
        m->net = out; /* the new gateway is the host allow_from admits */
        /* The handover's first device: it named it, or it is the whole
         * plan (ipcfg_plan_overlay()) and the first device resolved. */
        log_info("Restore: network %s on %s.", o.apply ? "re-applied" : "plan taken (not ours to apply)",
                 want.ifaces[0].device[0] ? want.ifaces[0].device
                 : out.result.device[0] ? out.result.device : "(no device)");
        novnc_hosts_update(m);
        return 0;
}

/* Only the machine's owner steps the machine's clock: PID 1 of the
 * initial PID namespace or its systemd's service (auto), or when told. */
static bool clock_allowed(Manager *m) {
        NetinitFacts f;

        if (m->config.restore_clock >= 0)
                return m->config.restore_clock > 0;
        if (manager_is_system_service(m))
                return true;
        netinit_facts_probe(&f);
        return m->is_pid1 && f.pid_ns_is_initial;
}

/* The host's time when its handover was first read, plus what passed
 * since: a retry does not set the clock back by the time it took. */
static int step_clock(Restore *x, const RestorePlan *p, const RestoreHandover *h) {
        int64_t ms = h->time_ms + (int64_t)((now(CLOCK_MONOTONIC) - x->pending_since) / USEC_PER_MSEC);
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

        if (!clock_allowed(x->m)) {
                log_info("Restore: clock left alone (restore_clock: not this machine's init).");
                return 0;
        }
        if (clock_settime(CLOCK_REALTIME, &ts) < 0)
                return log_error_errno(errno, "Restore: failed to set the clock from the host's time: %m");
        log_info("Restore: clock set from the host's time.");
        return 0;
}

static int step_secrets(Restore *x, const RestorePlan *p, const RestoreHandover *h) {
        int r = host_secrets_replace(x->m->secrets, h->token, h->desktop_secret);

        if (r < 0)
                return log_error_errno(r, "Restore: failed to install the new secrets: %m");
        r = desktop_secret_files_update(&x->m->desktop, x->m->supervisor);
        if (r < 0)
                return r;
        log_info("Restore: new control token and desktop secret installed; the old ones are refused.");
        return 0;
}

/* Every login of the snapshot's ends: one in flight fails, and one that
 * signed in is closed, its credentials wiped, its HOME removed and its
 * push dropped.  They are the template's, for its host to take from it;
 * each clone would hand the same person's credentials on. */
static int step_logins(Restore *x, const RestorePlan *p, const RestoreHandover *h) {
        unsigned failed = 0, closed = 0;

        for (size_t i = 0; x->m->logins && i < LOGIN_SESSIONS_MAX; i++) {
                LoginSession *s = login_manager_session_at(x->m->logins, i);
                SessionState before;
                SessionEvent e;

                if (!s)
                        continue;
                before = s->state;
                e = before == SESSION_AUTHENTICATED ? SESSION_EVENT_CLOSE : SESSION_EVENT_ERROR;
                login_session_fail(s, e, "restored");
                /* s may be gone now; only its old state is looked at. */
                if (session_fsm_next(before, e) >= 0)
                        *(e == SESSION_EVENT_CLOSE ? &closed : &failed) += 1;
        }
        log_info("Restore: %u login(s) in flight failed, %u signed in closed with their credentials wiped (reason "
                 "\"restored\").", failed, closed);
        return 0;
}

/* Whether x11vnc's start failed at its spawn (its exec, or a step of its
 * spawn before it, a fork): the supervisor backs it off and tries again
 * by itself, as after any spawn that failed.  Not when it lacks its
 * binary or user (not_found: never tried again), nor when there is none. */
static bool x11vnc_spawn_failed(Supervisor *sv, int r, ServiceStatus *ret) {
        if (r >= 0 || r == -ESHUTDOWN)
                return false;
        for (size_t i = 0; sv && supervisor_get_status(sv, i, ret) >= 0; i++)
                if (streq(ret->name, DISPLAY_SERVICE_X11VNC))
                        /* Backing off after that spawn: an older
                         * last_error alone says nothing of r. */
                        return !ret->not_found && ret->last_error &&
                               (ret->state == SERVICE_BACKOFF || (ret->state == SERVICE_FAILED && ret->retry_in > 0));
        return false;
}

static int step_desktop(Restore *x, const RestorePlan *p, const RestoreHandover *h) {
        int r = desktop_restore_resume(&x->m->desktop, x->m->supervisor);
        ServiceStatus st;

        /* Its next spawn takes the new secret's files: the restore is
         * done with it, as it was before with a process that ran.  An
         * exec that fails for good (a binary its user may not run) would
         * otherwise keep the control routes answering "Restoring". */
        if (x11vnc_spawn_failed(x->m->supervisor, r, &st)) {
                log_warning("Restore: x11vnc did not start (%s): the desktop is down until the supervisor starts "
                            "it again.", st.last_error);
                return 0;
        }
        if (r == -ENOENT) {
                log_info("Restore: no x11vnc to start again.");
                return 0;
        }
        /* Its user missing or root: failed before the snapshot as now, and
         * never retried.  The clone's desktop stays down as the
         * template's was; failing the step would keep the control routes
         * answering "Restoring" for good. */
        if (r == -ESRCH || r == -EPERM) {
                log_warning_errno(r, "Restore: x11vnc cannot run as its user (%m): the desktop stays down.");
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "Restore: failed to start x11vnc again: %m");
        log_info("Restore: x11vnc starting again, websockify after it (their clients are gone); Xvfb and the "
                 "browser kept.");
        return 0;
}

/* The plan's steps in this order; each one done is added to x->done. */
static int redo(Restore *x, const RestorePlan *p, const RestoreHandover *h) {
        static const struct {
                RestoreStep step;
                int (*run)(Restore *x, const RestorePlan *p, const RestoreHandover *h);
        } steps[] = {
                { RESTORE_STEP_MACHINE_ID, step_machine_id },
                { RESTORE_STEP_NETWORK, step_network }, { RESTORE_STEP_CLOCK, step_clock },
                { RESTORE_STEP_SECRETS, step_secrets }, { RESTORE_STEP_LOGINS, step_logins },
                { RESTORE_STEP_DESKTOP, step_desktop },
        };

        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                int r;

                if (!(p->steps & steps[i].step))
                        continue;
                r = steps[i].run(x, p, h);
                if (r < 0)
                        return r;
                x->done |= steps[i].step;
        }
        return 0;
}

static void pending_clear(Restore *x) {
        free(x->pending);
        x->pending = NULL;
        x->before_token = erase_and_free(x->before_token);
        x->before_desktop = erase_and_free(x->before_desktop);
        x->done = 0;
}

/* Before a redo: what to compare the same handover with if it fails part
 * way (the secrets step installs the new ones first).  A new generation
 * while one is pending starts from scratch, against the same secrets. */
static int pending_begin(Restore *x, const char *generation) {
        char *g;

        if (x->pending && streq(x->pending, generation))
                return 0;
        g = strdup(generation);
        if (!g)
                return -ENOMEM;
        if (!x->pending) {
                const char *t = host_secrets_token(x->m->secrets), *d = host_secrets_desktop(x->m->secrets);

                if ((t && !(x->before_token = strdup(t))) || (d && !(x->before_desktop = strdup(d)))) {
                        free(g);
                        pending_clear(x);
                        return -ENOMEM;
                }
        }
        free(x->pending);
        x->pending = g;
        x->pending_since = now(CLOCK_MONOTONIC);
        x->done = 0;
        return 0;
}

static void restoring_begin(Restore *x, const char *generation) {
        if (x->restoring)
                return;
        x->restoring = true;
        x->started = x->asked;
        http_server_restore_begun(x->m->http);
        /* The snapshot's signed-in logins are dropped only when the
         * restore completes (step_logins()); until then their pushes,
         * with the template's token, must not reach this clone's host,
         * nor the rest of a pull's answer anyone. */
        handoff_hold(x->m->handoff);
        login_routes_restore_begun(x->m->login_routes);
        desktop_restore_hold(&x->m->desktop, x->m->supervisor);
        log_notice("Restored from a snapshot (generation %s, noticed after %s): control routes wait until the "
                   "clone is distinct.", generation, x->why ?: "a check");
}

static void adopt(Restore *x, const RestoreHandover *h) {
        char *g = strdup(h->generation);

        if (!g)
                return (void)log_error_errno(-ENOMEM, "Restore: cannot keep the generation: %m");
        free(x->generation);
        x->generation = g;
}

/* Whether path is, or leads through, a symlink another user owns, which
 * pid1_machine_id_install() refuses to follow (-EPERM) on every try: the
 * plan refuses the handover's machine id up front instead. */
static bool link_foreign(const char *path) {
        _cleanup_(freep) char *where = NULL;

        return path_follow_links(path, 0, &where) == -EPERM;
}

/* What the agent holds now, and the plan for h against it. */
static RestorePlan plan_of(const Restore *x, const RestoreHandover *h) {
        const char *file = x->m->config.machine_id_file;
        RestoreIdentity id = {
                .generation = x->generation, .answered = x->answered, .pending = x->pending, .done = x->done,
                .token = x->pending ? x->before_token : host_secrets_token(x->m->secrets),
                .desktop_secret = x->pending ? x->before_desktop : host_secrets_desktop(x->m->secrets),
                .machine_id_ours = x->m->is_pid1 && !isempty(file),
        };

        id.machine_id_link_foreign = h->machine_id && id.machine_id_ours && link_foreign(file);
        return restore_plan_decide(&id, h);
}

static void decide(Restore *x, const RestoreHandover *h) {
        RestorePlan p = plan_of(x, h);
        int r;

        x->answered = true;
        switch (p.verdict) {
        case RESTORE_FIRST:
                adopt(x, h);
                log_info("Generation %s.", x->generation);
                return;
        case RESTORE_SAME:
                log_debug("Restore check: the generation is unchanged.");
                return;
        case RESTORE_NO_GENERATION:
                log_debug("Restore check: the MMDS object has no generation.");
                return;
        default:
                break;
        }
        restoring_begin(x, h->generation);
        if (restore_verdict_is_refusal(p.verdict)) {
                /* Not only the secrets: a time or machine id may be at
                 * fault, and a link in the way is named. */
                bool named = p.verdict == RESTORE_MACHINE_ID_FOREIGN_LINK;

                log_error("Restore refused: %s (generation %s%s%s); control routes answer 503 until the host "
                          "corrects the handover and pokes again.", restore_verdict_to_string(p.verdict),
                          h->generation, named ? ", machine_id_file " : "",
                          named ? x->m->config.machine_id_file : "");
                return;
        }
        r = pending_begin(x, h->generation);
        if (r >= 0)
                r = redo(x, &p, h);
        if (r < 0) {
                /* Asked again without a trigger: the same handover redoes
                 * what is left (pending_begin()). */
                log_error("Restore incomplete (generation %s): control routes keep answering 503; asking MMDS "
                          "again.", h->generation);
                retry_later(x);
                return;
        }
        pending_clear(x);
        adopt(x, h);
        x->restoring = false;
        /* After step_logins(): what is still queued is this clone's. */
        handoff_resume(x->m->handoff);
        x->restores++;
        x->last_ms = (int64_t)((now(CLOCK_MONOTONIC) - x->started) / USEC_PER_MSEC);
        x->retry_usec = RESTORE_RETRY_FIRST_USEC;
        log_notice("Restore done: generation %s in %lld ms; control routes answer again.", x->generation,
                   (long long)x->last_ms);
}

/* A question that could not be asked or got no usable answer. */
static void question_failed(Restore *x) {
        /* While restoring, until it is done; else a few times (MMDS may
         * come up late, the host may poke before it wrote the handover). */
        if (x->restoring || ++x->attempts < RESTORE_ATTEMPTS_MAX) {
                retry_later(x);
                return;
        }
        log_warning("Restore check: MMDS gave no answer %u times in a row; waiting for the next trigger.",
                    x->attempts);
        /* The boot's questions are over: an object that comes later is a
         * clone's handover, held to its rules (new secrets), not the
         * boot's generation to adopt with the secrets this VM has. */
        x->answered = true;
}

static void on_mmds(int r, const char *json, const char *error, void *userdata) {
        Restore *x = userdata;
        RestoreHandover h = { .time_ms = -1 };
        const char *why = NULL;

        x->mmds = NULL; /* freed after this callback */
        if (r >= 0)
                r = restore_handover_parse(json, &h, &why);
        if (r < 0) {
                if (why || error)
                        log_warning_errno(r, "Restore check: MMDS gave no usable handover: %s.", why ?: error);
                else
                        log_warning_errno(r, "Restore check: MMDS gave no usable handover: %m");
                question_failed(x);
        } else {
                x->attempts = 0;
                decide(x, &h);
                restore_handover_done(&h);
                /* A redo that failed asks again with a growing delay. */
                if (!x->pending)
                        x->retry_usec = RESTORE_RETRY_FIRST_USEC;
        }
        if (x->again) {
                x->again = false;
                check(x, "a trigger while asking");
        }
}

static void check(Restore *x, const char *why) {
        const Config *c = &x->m->config;
        int r;

        if (x->mmds) {
                x->again = true;
                return;
        }
        /* The boot's object is on its way for the secrets, and comes here
         * too (restore_mmds_object()); an answer before it would be
         * compared with no token yet and taken for a clone's. */
        if (!x->generation && !x->answered && host_secrets_mmds_pending(x->m->secrets)) {
                log_debug("Restore check (%s): the boot's MMDS answer is still awaited.", why);
                return;
        }
        log_debug("Restore check (%s): asking MMDS.", why);
        x->asked = now(CLOCK_MONOTONIC);
        x->why = why;
        r = mmds_get(x->m->event, c->mmds_address, 80, c->mmds_path, RESTORE_MMDS_TIMEOUT_USEC, on_mmds, x,
                     &x->mmds);
        if (r < 0) {
                log_warning_errno(r, "Restore check: cannot ask MMDS: %m");
                question_failed(x);
        }
}

static int on_retry(sd_event_source *es, uint64_t usec, void *userdata) {
        check(userdata, "retry");
        return 0;
}

/* A trigger starts a new series of questions: its own attempts, from the
 * shortest delay. */
static void trigger(Restore *x, const char *why) {
        x->attempts = 0;
        x->retry_usec = RESTORE_RETRY_FIRST_USEC;
        check(x, why);
}

static int on_clock(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Restore *x = userdata;
        int r = clock_watch_read(fd);

        if (r < 0) {
                log_warning_errno(r, "The clock watch failed, disabled: %m");
                x->clock_src = sd_event_source_disable_unref(x->clock_src);
        } else if (r > 0) {
                /* Rare (a restore, an NTP step, our own step_clock()): worth a line. */
                log_info("The wall clock was set: asking MMDS whether this is a restored clone.");
                trigger(x, "the wall clock was set");
        }
        return 0;
}

static void poke(Restore *x) {
        x->poke_later = sd_event_source_disable_unref(x->poke_later);
        x->last_poke = now(CLOCK_MONOTONIC);
        trigger(x, "POST /restore-check");
}

static int on_poke_later(sd_event_source *es, uint64_t usec, void *userdata) {
        poke(userdata);
        return 0;
}

/* Public and data-less: it only makes the agent ask MMDS, the host's
 * channel, which only the host writes; so a neighbour gains at most one
 * MMDS question per interval.  A poke inside the interval (anyone's
 * before the host's: a neighbour, a page in the VM's browser) is
 * accepted too, and served by a question asked at the interval's end,
 * one for all such pokes: the question under way, or just answered, may
 * have read MMDS before the host wrote its handover. */
static int restore_check_handler(HttpRequest *req, void *userdata) {
        Restore *x = ((Manager *)userdata)->restore;
        usec_t t = now(CLOCK_MONOTONIC), interval = (usec_t)x->m->config.restore_check_interval_ms * USEC_PER_MSEC;
        size_t size = 0;
        int r;

        (void)http_request_body(req, &size);
        if (size > 0)
                return http_reply_error(req, 400, "restore-check takes no body");
        if (!x->last_poke || t - x->last_poke >= interval)
                poke(x);
        else if (!x->poke_later) {
                r = sd_event_add_time(x->m->event, &x->poke_later, CLOCK_MONOTONIC, x->last_poke + interval, 0,
                                      on_poke_later, x);
                if (r < 0) {
                        log_warning_errno(r, "Restore check: cannot schedule the poke's question: %m");
                        return http_reply_error(req, 429, "restore check already asked");
                }
                log_debug("POST /restore-check inside restore_check_interval_ms: MMDS is asked at its end.");
        }
        return http_reply_json(req, 202, json_pack("{s:s}", "status", "checking"), 0);
}

static const HttpRoute restore_routes[] = {
        { "POST", "/restore-check", HTTP_ROUTE_PUBLIC, restore_check_handler },
};

void restore_free(Manager *m) {
        Restore *x = m->restore;

        if (!x)
                return;
        mmds_request_free(x->mmds);
        sd_event_source_disable_unref(x->retry);
        sd_event_source_disable_unref(x->poke_later);
        sd_event_source_disable_unref(x->clock_src);
        safe_close(x->clock_fd);
        free(x->generation);
        pending_clear(x);
        free(x);
        m->restore = NULL;
}

int restore_setup(Manager *m) {
        Restore *x;
        int r;

        if (!m->http)
                return -ENOTCONN;
        x = calloc(1, sizeof *x);
        if (!x)
                return -ENOMEM;
        *x = (Restore){ .m = m, .last_ms = -1, .retry_usec = RESTORE_RETRY_FIRST_USEC, .clock_fd = -EBADF };
        m->restore = x;
        r = http_server_add_routes(m->http, restore_routes, ELEMENTSOF(restore_routes), m);
        if (r < 0)
                return r;
        x->clock_fd = clock_watch_open();
        if (x->clock_fd < 0)
                log_warning_errno(x->clock_fd, "No clock watch (a restore is noticed by POST /restore-check only): %m");
        else if ((r = sd_event_add_io(m->event, &x->clock_src, x->clock_fd, EPOLLIN, on_clock, x)) < 0)
                log_warning_errno(r, "No clock watch: %m");
        /* The secrets' MMDS answer carries the generation too: it is
         * learnt from that (restore_mmds_object()), not asked for twice. */
        if (host_secrets_mmds_pending(m->secrets))
                log_debug("Restore: the boot's generation comes with the secrets' MMDS answer.");
        else
                check(x, "start");
        return 0;
}

void restore_mmds_object(Manager *m, const char *json) {
        Restore *x = m->restore;
        RestoreHandover h = { .time_ms = -1 };
        const char *why = NULL;

        if (!x || x->generation)
                return;
        if (!json) {
                check(x, "MMDS gave the secrets nothing"); /* asks, with the first question's retries */
                return;
        }
        if (restore_handover_parse(json, &h, &why) < 0) {
                log_warning("Restore: the boot's MMDS object is not a handover (%s); asking MMDS again.",
                            why ?: "out of memory");
                check(x, "start");
                return;
        }
        x->asked = now(CLOCK_MONOTONIC);
        x->why = "the boot's MMDS answer";
        decide(x, &h);
        restore_handover_done(&h);
}

bool restore_in_progress(Manager *m) {
        return m->restore && m->restore->restoring;
}

void restore_report(Manager *m, HealthRestore *ret) {
        Restore *x = m->restore;

        *ret = (HealthRestore){ .last_restore_ms = -1 };
        if (!x)
                return;
        *ret = (HealthRestore){ .enabled = true, .restoring = x->restoring, .generation = x->generation,
                                .restores = x->restores, .last_restore_ms = x->last_ms };
}
