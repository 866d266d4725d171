/*
 * dumpdb.h — `--dump-db DIR` (issue 6): every device's and the server's
 * database at this point of a run, as ordinary SQLite files the sqlite3
 * shell opens: DIR/<device>.db and DIR/server.db, each with its hot journal
 * (<name>.db-journal) when one exists, so that opening it rolls back a
 * half-done transaction exactly as SQLite would after a crash.
 */
#ifndef SYNCSIM_DUMPDB_H
#define SYNCSIM_DUMPDB_H

#include <stddef.h>

struct world;

/* Writes the files (DIR must exist). Returns how many databases were
 * written, or -1 with err. */
int world_dump_dbs(const struct world *w, const char *dir, char *err, size_t errlen);

#endif
