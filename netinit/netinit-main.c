/* placeholder, replaced by the netinit work */
#include <stdio.h>
#include "netinit-main.h"
int netinit_main(int argc, char **argv) {
        fputs("netinit: not implemented yet\n", stderr);
        return 1;
}
