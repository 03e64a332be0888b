/* Finds the authorize URL on a CLI's rendered screen (screen.h): the first
 * URL starting with one of a provider's patterns, in the text a person
 * would see (colours gone, a URL wrapped across rows already joined), or
 * else in an OSC 8 hyperlink's target.  Bounded: a word longer than
 * URL_SCAN_MAX is not a URL.  Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "screen.h"

#define URL_SCAN_MAX 8192

/* patterns: NULL-terminated URL prefixes (borrowed).  A URL the cursor
 * still touches may be half written and is passed over, unless final (the
 * output ended).  Returns 1 and the URL in *ret (owned by the caller), 0
 * when there is none, -ENOMEM. */
int url_scan(char *const *patterns, const ScreenView *v, bool final, char **ret);

/* true when c may appear inside a URL as CLIs print them. */
bool url_char(unsigned char c);
