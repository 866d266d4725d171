/*
 * live.c — `syncsim live server|device|ctl …` (SPEC §6): the model as real
 * processes on loopback, driven by sim/live/. Overrides the weak stub of
 * cli/weak.c. argv as given to main (argv[1] == "live").
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "live/live.h"

int cli_live(int argc, char **argv)
{
    const char *sub = argc > 2 ? argv[2] : "";
    if (strcmp(sub, "server") == 0) return live_server_main(argc, argv);
    if (strcmp(sub, "device") == 0) return live_device_main(argc, argv);
    if (strcmp(sub, "ctl") == 0) return live_ctl_main(argc, argv);
    fprintf(stderr,
            "usage: syncsim live server --db FILE --listen 127.0.0.1:PORT [--table SPEC]… [--config k=v]…\n"
            "       syncsim live device --db FILE --server 127.0.0.1:PORT --name NAME [--user U] [--table SPEC]… [--config k=v]…\n"
            "       syncsim live ctl --server 127.0.0.1:PORT COMMAND [ARG…]\n"
            "see sim/live/README.md\n");
    return 2;
}
