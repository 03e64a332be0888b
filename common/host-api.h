/* What the agent's host API and the host's tool (ctl) both hold to, so
 * that neither side spells it again. */
#pragma once

/* The longest long poll (`?wait=SECONDS`) the agent accepts; ctl asks for
 * no more, and waits again after it for a longer --timeout. */
#define HOST_API_WAIT_MAX_S 300
