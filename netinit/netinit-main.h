/* `vm-browser-agent netinit`: parse /proc/cmdline (or --cmdline) and print
 * the plan (--dry-run) or apply it. */
#pragma once

int netinit_main(int argc, char **argv);
