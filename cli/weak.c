/*
 * weak.c — commands whose module lives in its own file (cli/live.c,
 * cli/shrink.c, cli/report.c). These weak definitions keep `syncsim` linking
 * while a module is absent from a build, and say so clearly.
 */
#include <stdio.h>

#include "cli.h"

__attribute__((weak)) int cli_live(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "syncsim: live mode is not part of this build\n");
    return 2;
}

__attribute__((weak)) int cli_shrink(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "syncsim: shrink is not part of this build\n");
    return 2;
}

__attribute__((weak)) int cli_report(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "syncsim: report is not part of this build\n");
    return 2;
}
