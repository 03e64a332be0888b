/* Reading a variable out of an environment file as the host writes the
 * rootfs's /etc/environment (pam_env's simple form): KEY=VALUE lines,
 * optionally "export KEY=VALUE", a value optionally in single or double
 * quotes, '#' comments and blank lines; the last assignment wins.  Lines
 * that are none of these are skipped.  Pure: the caller reads the file. */
#pragma once

/* The value of key in text (NUL-terminated), newly allocated, in *ret;
 * -ENOENT when not set, -ENOMEM. */
int env_file_get(const char *text, const char *key, char **ret);
