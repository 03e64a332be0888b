/* The X authority file Xvfb is started with (-auth FILE) and that every X
 * client of ours reads (XAUTHORITY): one MIT-MAGIC-COOKIE-1 entry, in
 * libXau's binary format, written without the xauth binary.  Pure.
 *
 * The entry's family is FamilyWild (0xffff): libXau matches it whatever
 * the client's host name, so a hostname set by netinit after the file was
 * written does not lock our own clients out (an entry xauth ties to the
 * host name stops matching then).  The X server itself ignores family,
 * address and display number and accepts every cookie in the file. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define XAUTH_COOKIE_SIZE 16
#define XAUTH_COOKIE_NAME "MIT-MAGIC-COOKIE-1"
#define XAUTH_FAMILY_WILD 0xffff

/* The entry for display number display with cookie, into buf.  Each
 * field is a big-endian 16-bit length then the bytes: family (the value
 * itself, no length), address (empty), display number in decimal, name,
 * cookie.  Returns the size written, or -ENOBUFS when size is too small. */
ssize_t xauth_wild_entry(unsigned display, const uint8_t cookie[XAUTH_COOKIE_SIZE], uint8_t *buf,
                         size_t size);
