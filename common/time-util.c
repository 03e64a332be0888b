/* Implementation of time-util.h. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "time-util.h"

usec_t process_start_boottime(void) {
        _cleanup_(freep) char *buf = NULL;
        unsigned long long ticks;
        long hz = sysconf(_SC_CLK_TCK);

        if (read_full_file("/proc/self/stat", 4096, &buf, NULL) < 0 || hz <= 0)
                return 0;
        /* Field 2 (comm) may hold spaces and parentheses: skip past the last ')'. */
        const char *p = strrchr(buf, ')');
        if (!p)
                return 0;
        /* Each step lands on the space before field N; stop before field 22 (starttime). */
        for (int field = 3; field <= 22; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return 0;
        }
        if (sscanf(p + 1, "%llu", &ticks) != 1)
                return 0;
        return (usec_t)ticks * USEC_PER_SEC / (usec_t)hz;
}

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
 * civil_from_days): gmtime_r() takes glibc's timezone lock, and it and the
 * snprintf() after it were ~5 % of a whole /health request. */
static void civil_from_days(uint64_t z, uint64_t *ret_y, unsigned *ret_m, unsigned *ret_d) {
        uint64_t era;
        unsigned doe, yoe, doy, mp;

        z += 719468;
        era = z / 146097;
        doe = (unsigned)(z - era * 146097);
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153;
        *ret_d = doy - (153 * mp + 2) / 5 + 1;
        *ret_m = mp < 10 ? mp + 3 : mp - 9;
        *ret_y = era * 400 + yoe + (*ret_m <= 2);
}

/* v in decimal, zero-padded to at least width digits; returns the end. */
static char *put_digits(char *p, uint64_t v, unsigned width) {
        char d[24];
        unsigned n = 0;

        do
                d[n++] = (char)('0' + v % 10);
        while ((v /= 10) > 0);
        while (n < width)
                d[n++] = '0';
        while (n > 0)
                *p++ = d[--n];
        return p;
}

char *format_iso8601(usec_t realtime, char buf[static ISO8601_MAX]) {
        uint64_t t = realtime / USEC_PER_SEC, y;
        unsigned sod = (unsigned)(t % 86400), mon, day;
        char *p = buf;

        civil_from_days(t / 86400, &y, &mon, &day);
        p = put_digits(p, y, 4);
        *p++ = '-';
        p = put_digits(p, mon, 2);
        *p++ = '-';
        p = put_digits(p, day, 2);
        *p++ = 'T';
        p = put_digits(p, sod / 3600, 2);
        *p++ = ':';
        p = put_digits(p, sod / 60 % 60, 2);
        *p++ = ':';
        p = put_digits(p, sod % 60, 2);
        *p++ = '.';
        p = put_digits(p, realtime % USEC_PER_SEC / USEC_PER_MSEC, 3);
        *p++ = 'Z';
        *p = '\0';
        return buf;
}
