/*
 * erp.h — the simulated ERP source the orchestrator imports from (SPEC
 * §1.9): per table, the scenario's generated rows (ids NAME-1 … NAME-N with
 * fields n and name, as srv_seed_rows makes them) plus the rows written by
 * `erp write` (a patch over the row, generated or not), each with the ERP
 * time of its last change so an incremental import (ORCH-2) can select the
 * rows changed since a given instant.
 *
 * The ERP is outside the server: it lives in the driver and survives server
 * crashes. Pure memory, no clock: the caller passes every change time (the
 * server's wall clock). Generated rows are not materialised (a scenario may
 * declare a million), only the written ones are.
 *
 * Ownership: erp_new allocates, erp_free releases everything; rows handed
 * to erp_foreach callbacks are borrowed for the call.
 */
#ifndef SYNCSIM_ERP_H
#define SYNCSIM_ERP_H

#include <stdint.h>

#include "row.h"

#define ERP_MAX_TABLES MAX_TABLES
#define ERP_MAX_GENERATED 1000000   /* `table … rows N` (SCN_MAX_ROWS) */
#define ERP_MAX_WRITTEN 65536       /* distinct rows written by `erp write`, per table */
#define ERP_SINCE_ALL INT64_MIN     /* erp_foreach: every row (a full import) */

struct erp;

struct erp *erp_new(void);
void erp_free(struct erp *e);

/* Table gets the n generated rows, changed at at_ms (replaces an earlier
 * seed of that table). 0, or -1 past the limits. */
int erp_seed(struct erp *e, const char *table, int n, int64_t at_ms);
/* Sets the named fields of (table, id), changed at at_ms; a generated row
 * keeps its other generated fields. 0, or -1 past the limits (row caps of
 * §1.1 hard limits, ERP_MAX_WRITTEN, ERP_MAX_TABLES, bad names). */
int erp_write(struct erp *e, const char *table, const char *id, int n,
              const char *const *names, const char *const *values, int64_t at_ms);

/* Calls fn for every row of table changed at or after since_ms
 * (ERP_SINCE_ALL: every row): generated rows in number order, then written
 * rows in order of first write. Stops at fn's first nonzero return and
 * returns it; 0 when every row was visited (also for an unknown table). */
typedef int (*erp_row_fn)(void *arg, const char *table, const char *id, int n,
                          const char *const *names, const char *const *values);
int erp_foreach(const struct erp *e, const char *table, int64_t since_ms,
                erp_row_fn fn, void *arg);
/* Rows of table that erp_foreach would visit (tests, reports). */
long erp_count(const struct erp *e, const char *table, int64_t since_ms);

#endif
