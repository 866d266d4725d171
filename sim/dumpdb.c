/* dumpdb.c — see dumpdb.h. Reads the simulated file systems (world_int.h);
 * simfs_dump is the only access to the real filesystem. */
#include "dumpdb.h"

#include <stdio.h>
#include <string.h>

#include "world_int.h"

static int dump_one(const struct simfs *fs, const char *db, const char *dir, const char *name,
                    char *err, size_t errlen)
{
    char host[4096], journal[300], hj[4200];
    int64_t len;
    if (!fs || !simfs_file_data(fs, db, &len)) return 0;
    snprintf(host, sizeof host, "%s/%s.db", dir, name);
    if (simfs_dump(fs, db, host) != 0) { snprintf(err, errlen, "cannot write %s", host); return -1; }
    snprintf(journal, sizeof journal, "%s-journal", db);
    snprintf(hj, sizeof hj, "%s-journal", host);
    remove(hj);
    if (simfs_file_data(fs, journal, &len) && len > 0 && simfs_dump(fs, journal, hj) != 0) {
        snprintf(err, errlen, "cannot write %s", hj);
        return -1;
    }
    return 1;
}

int world_dump_dbs(const struct world *w, const char *dir, char *err, size_t errlen)
{
    SS_ASSERT(w && dir);
    int n = 0, r;
    for (int i = 0; i < w->ndev; i++) {
        if ((r = dump_one(w->devs[i].fs, "/device.db", dir, w->devs[i].spec.name, err, errlen)) < 0) return -1;
        n += r;
    }
    if ((r = dump_one(w->sfs, "/server.db", dir, "server", err, errlen)) < 0) return -1;
    return n + r;
}
