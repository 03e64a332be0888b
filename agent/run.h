/* `vm-browser-agent run`: the agent itself (see run.c). */
#pragma once

int run_main(int argc, char **argv);
