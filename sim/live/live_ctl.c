/*
 * live_ctl.c — `syncsim live ctl --server 127.0.0.1:PORT WORDS…`: sends one
 * control line to a live server and prints its one-line answer (tests and
 * the live scenario runner ask the server this way: ROW, SEQ, OPSEEN, …).
 * Exit 0 on an answer that is not `ERR …`, 1 otherwise, 2 bad usage.
 */
#include "live.h"

#include <stdio.h>
#include <string.h>

int live_ctl_main(int argc, char **argv)
{
    int port;
    if (argc < 6 || strcmp(argv[3], "--server") != 0 || live_parse_addr(argv[4], &port) != 0) {
        fprintf(stderr, "usage: syncsim live ctl --server 127.0.0.1:PORT COMMAND [ARG…]\n");
        return 2;
    }
    char line[LIVE_LINE_MAX], ans[LIVE_LINE_MAX];
    size_t len = 0;
    for (int i = 5; i < argc && len < sizeof line - 1; i++)
        len += (size_t)snprintf(line + len, sizeof line - len, "%s%s", i > 5 ? " " : "", argv[i]);
    live_clock_init();
    if (live_roundtrip(port, line, ans, sizeof ans) != 0) {
        fprintf(stderr, "syncsim live ctl: no answer from 127.0.0.1:%d\n", port);
        return 1;
    }
    printf("%s\n", ans);
    return strncmp(ans, "ERR", 3) == 0 ? 1 : 0;
}
