/*
 * cli.h — shared pieces of the command line: argument helpers, repro
 * commands, the determinism check and the multi-process swarm.
 */
#ifndef SYNCSIM_CLI_H
#define SYNCSIM_CLI_H

#include <stdint.h>

#include "swarm.h"

int cli_usage_error(const char *fmt, const char *arg);
int cli_parse_seed(const char *s, uint64_t *out);
int cli_parse_int(const char *s, long lo, long hi, long *out);
/* The file name of path without directory and extension, in buf. */
const char *cli_base_noext(const char *path, char *buf, size_t n);
/* The one-line command that reproduces a seed with these overrides
 * (static buffer). */
const char *cli_repro(uint64_t seed, const struct swarm_opts *o);
/* `syncsim determinism S`: 0 same hash twice, 1 differ (first differing
 * step of both traces printed). */
int cli_determinism(uint64_t seed, const struct swarm_opts *o);
/* `syncsim swarm …`. */
int cli_swarm(int argc, char **argv);
/* `syncsim live …` (cli/live.c), `syncsim shrink …` (cli/shrink.c),
 * `syncsim report …` (cli/report.c): argv as given to main. */
int cli_live(int argc, char **argv);
int cli_shrink(int argc, char **argv);
int cli_report(int argc, char **argv);

#endif
