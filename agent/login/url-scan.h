/* Finds the first URL matching a provider's patterns in a CLI's output:
 * raw bytes with colour codes, OSC 8 hyperlinks, and URLs hard-wrapped at
 * the terminal width.  Bounded: a token longer than URL_SCAN_MAX is
 * dropped, memory stays constant however much the CLI prints.  Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ansi.h"

#define URL_SCAN_MAX 8192

typedef struct UrlScan {
        AnsiParser ansi;
        char *const *patterns; /* borrowed, NULL-terminated URL prefixes */
        unsigned cols;         /* a line exactly this long continues on the next */
        unsigned line_len;     /* visible characters on the current line */
        bool pending_cr;
        bool overflow;         /* current token too long: skip to its end */
        size_t n;
        char token[URL_SCAN_MAX + 1];
        char *url;             /* the first match, owned; NULL until found */
} UrlScan;

/* cols 0: never join lines. */
int url_scan_new(char *const *patterns, unsigned cols, UrlScan **ret);
UrlScan *url_scan_free(UrlScan *s);
/* Returns 1 once a matching URL was found (now or before), 0 if not yet,
 * -ENOMEM. */
int url_scan_feed(UrlScan *s, const char *buf, size_t n);
/* The output ended: a URL at the very end counts. */
int url_scan_flush(UrlScan *s);
/* Borrowed; NULL until found. */
const char *url_scan_url(const UrlScan *s);

/* true when c may appear inside a URL as CLIs print them. */
bool url_char(unsigned char c);
