/* placeholder, replaced by the netinit work */
#include "ipcfg.h"
