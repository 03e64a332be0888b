/* Micro-benchmark for the ip= parser: parses the Firecracker form N times
 * (warm, in one process) and prints the median time of one
 * ipcfg_parse_cmdline() call in nanoseconds on stdout, a human summary on
 * stderr.  bench/netinit reports the cold, per-process figure; this one
 * isolates the parser from process start-up.
 *
 *   bench-ipcfg-parse [ITERATIONS] [CMDLINE]      (default 10000, Firecracker form) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "netinit/ipcfg.h"

#define DEFAULT_CMDLINE                                                                     \
        "console=ttyS0 reboot=k panic=1 pci=off "                                           \
        "ip=172.16.0.2::172.16.0.1:255.255.255.0:vm1.example.com:eth0:off:1.1.1.1:8.8.8.8"

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

        return x < y ? -1 : x > y;
}

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
        long n = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
        const char *cmdline = argc > 2 ? argv[2] : DEFAULT_CMDLINE;
        uint64_t *t;
        IpcfgPlan plan;
        IpcfgError e;

        if (n < 1 || n > 10000000) {
                fprintf(stderr, "iterations must be 1..10000000\n");
                return 2;
        }
        if (ipcfg_parse_cmdline(cmdline, &plan, &e) < 0) {
                char line[512];

                ipcfg_error_format(&e, line, sizeof line);
                fprintf(stderr, "%s\n", line);
                return 2;
        }
        t = calloc((size_t)n, sizeof *t);
        if (!t)
                return 1;
        for (long i = 0; i < n; i++) {
                uint64_t t0 = now_ns();

                (void)ipcfg_parse_cmdline(cmdline, &plan, &e);
                t[i] = now_ns() - t0;
        }
        qsort(t, (size_t)n, sizeof *t, cmp_u64);
        printf("%llu\n", (unsigned long long)t[n / 2]);
        fprintf(stderr, "ipcfg_parse_cmdline: median %llu ns, p90 %llu ns, max %llu ns over %ld runs\n",
                (unsigned long long)t[n / 2], (unsigned long long)t[n * 9 / 10],
                (unsigned long long)t[n - 1], n);
        free(t);
        return 0;
}
