/*
 * test_vfs.c — simfs: SQLite on the simulated VFS survives process kills and
 * power losses (INV-DURABLE), injected I/O errors surface as SQLite errors,
 * instances are independent, and the same seed gives the same bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "vfs.h"

#define DB_PATH "/test.db"
#define SEEDS 200

/* ---- Harness ----------------------------------------------------------- */

struct rng {
    uint64_t s;
};

static uint64_t rng_next(void *ctx) /* splitmix64 */
{
    struct rng *r = ctx;
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int64_t clock_now(void *ctx)
{
    return *(int64_t *)ctx;
}

/* One simulated device: its fs, its streams and its connection. */
struct dev {
    struct rng rnd, fault;
    struct simfs *fs;
    sqlite3 *db;
};

static void dev_init(struct dev *d, const char *name, uint64_t seed)
{
    d->rnd.s = seed * 2 + 1;
    d->fault.s = seed ^ 0x5eed5eed5eedULL;
    d->fs = simfs_new(name, rng_next, &d->rnd, NULL, NULL);
    assert_non_null(d->fs);
    simfs_set_fault_rnd(d->fs, rng_next, &d->fault);
    d->db = NULL;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fprintf(stderr, "sql failed (%d): %s: %s\n", rc, sql, err ? err : "");
    sqlite3_free(err);
    assert_int_equal(rc, SQLITE_OK);
}

/* The rollback journal's mode: DELETE is SQLite's default, PERSIST what the
 * engine's store and server use (README "Design decisions"); the durability
 * tests run with both. */
static const char *journal_mode = "DELETE";

/* Opens DB_PATH on the device's fs with the given synchronous level. */
static void dev_open(struct dev *d, const char *sync)
{
    char sql[160];
    int rc = sqlite3_open_v2(DB_PATH, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                             simfs_vfs_name(d->fs));
    assert_int_equal(rc, SQLITE_OK);
    snprintf(sql, sizeof sql,
             "PRAGMA synchronous=%s; PRAGMA journal_mode=%s; PRAGMA cache_size=10;", sync,
             journal_mode);
    exec_ok(d->db, sql);
}

static void dev_close(struct dev *d)
{
    assert_int_equal(sqlite3_close(d->db), SQLITE_OK);
    d->db = NULL;
}

/* The process dies now: freeze, close what it had open, crash. */
static void dev_crash(struct dev *d, bool power_loss)
{
    simfs_freeze(d->fs);
    if (d->db)
        dev_close(d);
    simfs_crash(d->fs, power_loss);
}

static void dev_free(struct dev *d)
{
    if (d->db)
        dev_close(d);
    simfs_free(d->fs);
}

/* Rows from..to (inclusive), each with a 200-byte value derived from its id,
 * in one statement (one implicit transaction unless inside BEGIN). */
static int insert_range(sqlite3 *db, int from, int to)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE c(x) AS (SELECT %d UNION ALL SELECT x+1 FROM c WHERE x<%d) "
             "INSERT INTO t SELECT x, printf('%%0200d', x) FROM c;",
             from, to);
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

struct state {
    bool readable; /* the query ran (table present, file not malformed) */
    int64_t count, sum, bad;
};

static struct state state_read(sqlite3 *db)
{
    struct state s = { false, 0, 0, 0 };
    sqlite3_stmt *st = NULL;
    const char *sql = "SELECT count(*), coalesce(sum(id),0), "
                      "coalesce(sum(v != printf('%0200d', id)),0) FROM t";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        s.readable = true;
        s.count = sqlite3_column_int64(st, 0);
        s.sum = sqlite3_column_int64(st, 1);
        s.bad = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    return s;
}

/* True if the table holds exactly rows 1..n, intact. */
static bool state_is(sqlite3 *db, int64_t n)
{
    struct state s = state_read(db);
    return s.readable && s.count == n && s.sum == n * (n + 1) / 2 && s.bad == 0;
}

static bool integrity_ok(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    bool ok = false;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        ok = strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
    sqlite3_finalize(st);
    return ok;
}

static void create_table(struct dev *d)
{
    exec_ok(d->db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
}

/* ---- (1) committed transactions survive -------------------------------- */

/* Commits some transactions, leaves a large one open (it spills pages into
 * the database file), dies; the reopened database holds exactly the
 * committed rows. Twice per seed, so recovery itself is crashed over. */
static void test_inv_durable_committed_survives_kill_and_power_loss(void **state)
{
    (void)state;
    uint64_t kept = 0, dropped = 0;
    for (uint64_t seed = 0; seed < SEEDS; seed++) {
        struct dev d;
        dev_init(&d, "dur", seed);
        dev_open(&d, "FULL");
        create_table(&d);
        int64_t n = 0;
        for (int round = 0; round < 2; round++) {
            int txs = 1 + (int)(seed % 4);
            for (int i = 0; i < txs; i++, n += 20)
                assert_int_equal(insert_range(d.db, (int)n + 1, (int)n + 20), SQLITE_OK);
            exec_ok(d.db, "BEGIN");
            assert_int_equal(insert_range(d.db, (int)n + 1, (int)n + 600), SQLITE_OK);
            dev_crash(&d, (seed + (uint64_t)round) % 2 == 0);
            dev_open(&d, "FULL");
            assert_true(state_is(d.db, n));
            assert_true(integrity_ok(d.db));
        }
        struct simfs_stats st;
        simfs_get_stats(d.fs, &st);
        kept += st.sectors_kept;
        dropped += st.sectors_dropped;
        dev_free(&d);
    }
    assert_true(kept > 0 && dropped > 0); /* power losses did tear writes */
}

/* ---- (2) a transaction cut at any write is atomic ----------------------- */

#define BASE_ROWS 100
#define TX_ROWS 800

/* The VFS operations one TX_ROWS transaction on BASE_ROWS rows takes
 * (a dry run on its own fs). */
static struct simfs_stats tx_cost(void)
{
    struct dev d;
    struct simfs_stats a, b;
    dev_init(&d, "probe", 0);
    dev_open(&d, "FULL");
    create_table(&d);
    assert_int_equal(insert_range(d.db, 1, BASE_ROWS), SQLITE_OK);
    simfs_get_stats(d.fs, &a);
    exec_ok(d.db, "BEGIN");
    assert_int_equal(insert_range(d.db, BASE_ROWS + 1, BASE_ROWS + TX_ROWS), SQLITE_OK);
    exec_ok(d.db, "COMMIT");
    simfs_get_stats(d.fs, &b);
    assert_true(b.syncs > a.syncs); /* synchronous=FULL really syncs */
    dev_free(&d);
    b.writes -= a.writes;
    b.syncs -= a.syncs;
    return b;
}

/* Freezes after the p-th write of BEGIN; INSERT…; COMMIT. Died before
 * COMMIT was issued: the old state. Died during COMMIT: old or new. COMMIT
 * returned before the freeze: the new state (INV-DURABLE). */
enum cut { CUT_BEFORE_COMMIT, CUT_IN_COMMIT, CUT_AFTER_COMMIT };

static enum cut cut_at_write(uint64_t seed, int p)
{
    struct dev d;
    dev_init(&d, "cut", seed);
    dev_open(&d, "FULL");
    create_table(&d);
    assert_int_equal(insert_range(d.db, 1, BASE_ROWS), SQLITE_OK);
    simfs_freeze_after_writes(d.fs, p);
    exec_ok(d.db, "BEGIN");
    assert_int_equal(insert_range(d.db, BASE_ROWS + 1, BASE_ROWS + TX_ROWS), SQLITE_OK);
    bool dead_before_commit = simfs_is_frozen(d.fs);
    exec_ok(d.db, "COMMIT");
    bool committed = !simfs_is_frozen(d.fs);
    dev_crash(&d, seed % 3 != 0);
    dev_open(&d, "FULL");
    bool before = state_is(d.db, BASE_ROWS), after = state_is(d.db, BASE_ROWS + TX_ROWS);
    if (dead_before_commit)
        assert_true(before);
    else if (committed)
        assert_true(after);
    else
        assert_true(before || after);
    assert_true(integrity_ok(d.db));
    dev_free(&d);
    return dead_before_commit ? CUT_BEFORE_COMMIT : committed ? CUT_AFTER_COMMIT : CUT_IN_COMMIT;
}

static void test_inv_durable_uncommitted_tx_rolls_back_at_any_write(void **state)
{
    (void)state;
    int w = (int)tx_cost().writes;
    assert_true(w > 20);
    int runs = SEEDS > w + 2 ? SEEDS : w + 2, seen[3] = { 0, 0, 0 };
    for (int run = 0; run < runs; run++)
        seen[cut_at_write((uint64_t)run, run % (w + 2))]++; /* w+1: never frozen */
    assert_true(seen[CUT_BEFORE_COMMIT] > 0 && seen[CUT_IN_COMMIT] > 0);
    assert_true(seen[CUT_AFTER_COMMIT] > 0);
}

static void test_inv_durable_persist_journal(void **state)
{
    journal_mode = "PERSIST";
    test_inv_durable_committed_survives_kill_and_power_loss(state);
    test_inv_durable_uncommitted_tx_rolls_back_at_any_write(state);
    journal_mode = "DELETE";
}

/* ---- (3) the model does drop unsynced writes --------------------------- */

static void test_power_loss_with_synchronous_off_loses_committed_data(void **state)
{
    (void)state;
    int lost = 0, lost_on_kill = 0;
    for (uint64_t seed = 0; seed < 50; seed++) {
        for (int power = 0; power < 2; power++) {
            struct dev d;
            dev_init(&d, "off", seed);
            dev_open(&d, "OFF");
            create_table(&d);
            assert_int_equal(insert_range(d.db, 1, 300), SQLITE_OK);
            struct simfs_stats st;
            simfs_get_stats(d.fs, &st);
            assert_int_equal(st.syncs, 0);
            assert_true(simfs_pending_ops(d.fs, DB_PATH) > 0);
            dev_crash(&d, power);
            /* no pragmas: after a power loss the schema itself may be torn */
            assert_int_equal(sqlite3_open_v2(DB_PATH, &d.db, SQLITE_OPEN_READWRITE,
                                             simfs_vfs_name(d.fs)), SQLITE_OK);
            if (!state_is(d.db, 300))
                (power ? lost++ : lost_on_kill++);
            dev_free(&d);
        }
    }
    assert_true(lost > 0);            /* power loss drops unsynced writes */
    assert_int_equal(lost_on_kill, 0); /* a process kill never does */
}

/* ---- (4) injected faults ------------------------------------------------ */

static void expect_base_state_after_error(struct dev *d, int rc, int want)
{
    assert_int_not_equal(rc, SQLITE_OK);
    assert_int_equal(rc & 0xff, want & 0xff);
    /* The disk heals (a rollback needs writes, so it may have failed too). */
    for (int k = 0; k < SIMFS_FAULT_COUNT; k++)
        simfs_fail_next(d->fs, (enum simfs_fault)k, 0);
    sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL); /* may be gone already */
    assert_true(state_is(d->db, BASE_ROWS));
    assert_true(integrity_ok(d->db));
}

/* After the error the device goes on, then loses power: all consistent. */
static void finish_after_fault(struct dev *d)
{
    assert_int_equal(insert_range(d->db, BASE_ROWS + 1, BASE_ROWS + TX_ROWS), SQLITE_OK);
    dev_crash(d, true);
    dev_open(d, "FULL");
    assert_true(state_is(d->db, BASE_ROWS + TX_ROWS));
    assert_true(integrity_ok(d->db));
    dev_free(d);
}

static void fault_setup(struct dev *d, uint64_t seed)
{
    dev_init(d, "fault", seed);
    dev_open(d, "FULL");
    create_table(d);
    assert_int_equal(insert_range(d->db, 1, BASE_ROWS), SQLITE_OK);
}

/* A write fault at every write of the transaction (and of its rollback,
 * when count > 1), then sync faults at every sync. */
static void test_inv_durable_write_and_sync_errors_surface(void **state)
{
    (void)state;
    struct simfs_stats cost = tx_cost();
    int w = (int)cost.writes;
    for (int skip = 0; skip < w; skip++) {
        struct dev d;
        fault_setup(&d, (uint64_t)skip);
        simfs_fail_at(d.fs, SIMFS_FAULT_WRITE, skip, 1 + skip % 3);
        int rc = insert_range(d.db, BASE_ROWS + 1, BASE_ROWS + TX_ROWS);
        expect_base_state_after_error(&d, rc, SQLITE_IOERR);
        finish_after_fault(&d);
    }
    for (int skip = 0; skip < (int)cost.syncs; skip++) {
        struct dev d;
        fault_setup(&d, (uint64_t)skip);
        simfs_fail_at(d.fs, SIMFS_FAULT_SYNC, skip, 1);
        int rc = insert_range(d.db, BASE_ROWS + 1, BASE_ROWS + TX_ROWS);
        assert_int_equal(sqlite3_extended_errcode(d.db), SQLITE_IOERR_FSYNC);
        expect_base_state_after_error(&d, rc, SQLITE_IOERR);
        finish_after_fault(&d);
    }
}

static void test_inv_durable_disk_full_surfaces(void **state)
{
    (void)state;
    struct dev d;
    fault_setup(&d, 1);
    simfs_fail_next(d.fs, SIMFS_FAULT_FULL, 1);
    int rc = insert_range(d.db, BASE_ROWS + 1, BASE_ROWS + TX_ROWS);
    expect_base_state_after_error(&d, rc, SQLITE_FULL);
    finish_after_fault(&d);

    fault_setup(&d, 2);
    int64_t len;
    assert_non_null(simfs_file_data(d.fs, DB_PATH, &len));
    simfs_set_capacity(d.fs, len + 8192); /* the journal fits, the rows don't */
    rc = insert_range(d.db, BASE_ROWS + 1, BASE_ROWS + TX_ROWS);
    expect_base_state_after_error(&d, rc, SQLITE_FULL);
    dev_crash(&d, true);
    dev_open(&d, "FULL");
    assert_true(state_is(d.db, BASE_ROWS));
    assert_true(integrity_ok(d.db));
    simfs_set_capacity(d.fs, 0);
    finish_after_fault(&d);
}

/* ---- (5) instances are independent ------------------------------------- */

static void test_two_instances_are_independent(void **state)
{
    (void)state;
    struct dev a, b;
    dev_init(&a, "twin", 1);
    dev_init(&b, "twin", 1); /* same name: still a distinct VFS */
    assert_string_not_equal(simfs_vfs_name(a.fs), simfs_vfs_name(b.fs));
    dev_open(&a, "FULL");
    dev_open(&b, "FULL");
    create_table(&a);
    create_table(&b);
    assert_int_equal(insert_range(a.db, 1, 10), SQLITE_OK);
    assert_int_equal(insert_range(b.db, 1, 20), SQLITE_OK);
    exec_ok(a.db, "BEGIN");
    assert_int_equal(insert_range(a.db, 11, 900), SQLITE_OK);
    uint64_t hb = simfs_hash(b.fs);
    dev_crash(&a, true);
    assert_int_equal(simfs_hash(b.fs), hb); /* b untouched by a's crash */
    assert_true(state_is(b.db, 20));
    dev_open(&a, "FULL");
    assert_true(state_is(a.db, 10));
    assert_int_not_equal(simfs_hash(a.fs), simfs_hash(b.fs));
    dev_free(&a);
    dev_free(&b);
}

/* ---- (6) determinism ----------------------------------------------------- */

/* A workload with SQLite randomness (randomblob, journal nonces), a spill,
 * a power loss and recovery; returns the fs hash and a copy of the file. */
static uint64_t run_workload(uint64_t seed, uint8_t **image, int64_t *len)
{
    struct dev d;
    dev_init(&d, "det", seed);
    simfs_reseed_sqlite_prng(d.fs);
    dev_open(&d, "FULL");
    exec_ok(d.db, "CREATE TABLE r(id INTEGER PRIMARY KEY, b BLOB, at TEXT)");
    exec_ok(d.db, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<200) "
                  "INSERT INTO r SELECT x, randomblob(100), datetime('now') FROM c");
    exec_ok(d.db, "BEGIN");
    exec_ok(d.db, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<900) "
                  "INSERT INTO r(b) SELECT randomblob(300) FROM c");
    dev_crash(&d, true);
    dev_open(&d, "FULL");
    exec_ok(d.db, "INSERT INTO r(b) VALUES(randomblob(50))");
    dev_close(&d);
    uint64_t h = simfs_hash(d.fs);
    const uint8_t *p = simfs_file_data(d.fs, DB_PATH, len);
    assert_non_null(p);
    *image = malloc((size_t)*len);
    assert_non_null(*image);
    memcpy(*image, p, (size_t)*len);
    dev_free(&d);
    return h;
}

static void test_inv_durable_same_seed_same_bytes(void **state)
{
    (void)state;
    for (uint64_t seed = 0; seed < 20; seed++) {
        uint8_t *a, *b, *c;
        int64_t la, lb, lc;
        uint64_t ha = run_workload(seed, &a, &la);
        unsigned char noise[16];
        sqlite3_randomness(sizeof noise, noise); /* disturb the global PRNG */
        uint64_t hb = run_workload(seed, &b, &lb);
        uint64_t hc = run_workload(seed + 1000, &c, &lc);
        assert_int_equal(ha, hb);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, (size_t)la);
        assert_int_not_equal(ha, hc);
        free(a);
        free(b);
        free(c);
    }
}

/* ---- The model, driven through the raw VFS ------------------------------ */

struct raw {
    sqlite3_vfs *vfs;
    sqlite3_file *f;
};

static void raw_open(struct raw *r, struct simfs *fs, const char *path)
{
    r->vfs = sqlite3_vfs_find(simfs_vfs_name(fs));
    assert_non_null(r->vfs);
    r->f = calloc(1, (size_t)r->vfs->szOsFile);
    assert_non_null(r->f);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MAIN_DB;
    assert_int_equal(r->vfs->xOpen(r->vfs, path, r->f, flags, NULL), SQLITE_OK);
}

static void raw_close(struct raw *r)
{
    assert_int_equal(r->f->pMethods->xClose(r->f), SQLITE_OK);
    free(r->f);
}

/* A power loss keeps or drops whole 512-byte sectors of unsynced writes,
 * never parts of one; synced bytes always survive; truncates are whole. */
static void test_power_loss_tears_whole_sectors(void **state)
{
    (void)state;
    uint8_t old[4096], neu[4096];
    memset(old, 'o', sizeof old);
    memset(neu, 'n', sizeof neu);
    int torn = 0, none = 0, all = 0;
    for (uint64_t seed = 0; seed < 64; seed++) {
        struct dev d;
        struct raw r;
        dev_init(&d, "raw", seed);
        raw_open(&r, d.fs, "/f");
        const sqlite3_io_methods *io = r.f->pMethods;
        assert_int_equal(io->xWrite(r.f, old, sizeof old, 0), SQLITE_OK);
        assert_int_equal(io->xSync(r.f, SQLITE_SYNC_FULL), SQLITE_OK);
        assert_int_equal(simfs_pending_ops(d.fs, "/f"), 0);
        assert_int_equal(io->xWrite(r.f, neu, sizeof neu, 0), SQLITE_OK);
        assert_int_equal(io->xTruncate(r.f, 1024), SQLITE_OK);
        raw_close(&r);
        simfs_crash(d.fs, true);
        int64_t len;
        const uint8_t *p = simfs_file_data(d.fs, "/f", &len);
        assert_true(len == 1024 || len == 4096);
        int newsec = 0;
        for (int64_t sec = 0; sec < len / 512; sec++) {
            const uint8_t *b = p + sec * 512;
            assert_true(memcmp(b, old, 512) == 0 || memcmp(b, neu, 512) == 0);
            newsec += b[0] == 'n';
        }
        if (len == 4096 && newsec == 0)
            none++;
        else if (newsec == len / 512)
            all++;
        else
            torn++;
        simfs_free(d.fs);
    }
    assert_true(torn > 0 && none > 0 && all > 0);
}

static void test_limits_and_short_reads(void **state)
{
    (void)state;
    struct dev d;
    struct raw r[SIMFS_MAX_FILES + 1];
    dev_init(&d, "limits", 5);
    char path[32];
    for (int i = 0; i < SIMFS_MAX_FILES; i++) {
        snprintf(path, sizeof path, "/f%d", i);
        raw_open(&r[i], d.fs, path);
    }
    sqlite3_vfs *vfs = r[0].vfs;
    sqlite3_file *extra = calloc(1, (size_t)vfs->szOsFile);
    assert_non_null(extra);
    assert_int_equal(vfs->xOpen(vfs, "/one-too-many", extra,
                                SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_CANTOPEN);
    free(extra);
    const sqlite3_io_methods *io = r[0].f->pMethods;
    uint8_t b[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    assert_int_equal(io->xWrite(r[0].f, b, 4, SIMFS_MAX_FILE_BYTES - 2), SQLITE_FULL);
    assert_int_equal(io->xWrite(r[0].f, b, 4, 0), SQLITE_OK);
    assert_int_equal(io->xRead(r[0].f, b, 8, 0), SQLITE_IOERR_SHORT_READ);
    assert_int_equal(b[3], 4);
    assert_int_equal(b[4], 0); /* the unread tail is zeroed */
    int exists = -1;
    assert_int_equal(vfs->xAccess(vfs, "/f1", SQLITE_ACCESS_EXISTS, &exists), SQLITE_OK);
    assert_int_equal(exists, 0); /* empty files do not "exist", like unix */
    assert_int_equal(vfs->xAccess(vfs, "/f0", SQLITE_ACCESS_EXISTS, &exists), SQLITE_OK);
    assert_int_equal(exists, 1);
    /* Deleting an open file: gone from the namespace, readable until closed. */
    assert_int_equal(vfs->xDelete(vfs, "/f0", 1), SQLITE_OK);
    assert_int_equal(vfs->xAccess(vfs, "/f0", SQLITE_ACCESS_EXISTS, &exists), SQLITE_OK);
    assert_int_equal(exists, 0);
    assert_int_equal(io->xRead(r[0].f, b, 4, 0), SQLITE_OK);
    assert_int_equal(vfs->xDelete(vfs, "/f0", 1), SQLITE_IOERR_DELETE_NOENT);
    for (int i = 0; i < SIMFS_MAX_FILES; i++)
        raw_close(&r[i]);
    simfs_free(d.fs);
}

/* Past SIMFS_MAX_PENDING_OPS the oldest unsynced writes are written back,
 * as an OS does; nothing is lost by it. */
static void test_pending_writes_are_written_back_past_the_limit(void **state)
{
    (void)state;
    struct dev d;
    dev_init(&d, "wb", 6);
    dev_open(&d, "OFF");
    create_table(&d);
    for (int i = 1; i <= 3000; i++)
        assert_int_equal(insert_range(d.db, i, i), SQLITE_OK);
    struct simfs_stats st;
    simfs_get_stats(d.fs, &st);
    assert_true(st.writebacks > 0);
    assert_true(simfs_pending_ops(d.fs, DB_PATH) <= SIMFS_MAX_PENDING_OPS);
    dev_crash(&d, false);
    dev_open(&d, "OFF");
    assert_true(state_is(d.db, 3000));
    dev_free(&d);
}

/* ---- The rest of the VFS contract --------------------------------------- */

static void test_wal_is_refused_and_clock_is_virtual(void **state)
{
    (void)state;
    struct dev d;
    int64_t now = 1767225600000LL + 3600 * 1000; /* 2026-01-01T01:00:00Z */
    d.rnd.s = 7;
    d.fs = simfs_new("clock", rng_next, &d.rnd, clock_now, &now);
    assert_non_null(d.fs);
    dev_open(&d, "FULL");
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(d.db, "PRAGMA journal_mode=WAL", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "delete");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(d.db, "SELECT datetime('now')", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "2026-01-01 01:00:00");
    sqlite3_finalize(st);
    dev_free(&d);
}

static void test_locks_conflict_without_blocking(void **state)
{
    (void)state;
    struct dev d;
    sqlite3 *other;
    dev_init(&d, "lock", 3);
    dev_open(&d, "FULL");
    create_table(&d);
    assert_int_equal(sqlite3_open_v2(DB_PATH, &other, SQLITE_OPEN_READWRITE, simfs_vfs_name(d.fs)),
                     SQLITE_OK);
    exec_ok(d.db, "BEGIN IMMEDIATE");
    assert_int_equal(insert_range(d.db, 1, 5), SQLITE_OK);
    assert_int_equal(insert_range(other, 100, 101), SQLITE_BUSY);
    assert_true(state_is(other, 0)); /* readers still see the old state */
    exec_ok(d.db, "COMMIT");
    assert_true(state_is(other, 5));
    assert_int_equal(sqlite3_close(other), SQLITE_OK);
    dev_free(&d);
}

static void test_dump_opens_with_the_real_sqlite(void **state)
{
    (void)state;
    struct dev d;
    char host[64];
    sqlite3 *real;
    dev_init(&d, "dump", 4);
    dev_open(&d, "FULL");
    create_table(&d);
    assert_int_equal(insert_range(d.db, 1, 50), SQLITE_OK);
    char dir[] = "/tmp/simfs-dump-XXXXXX";
    assert_non_null(mkdtemp(dir));
    snprintf(host, sizeof host, "%s/dump.db", dir);
    assert_int_equal(simfs_dump(d.fs, DB_PATH, host), 0);
    assert_int_equal(simfs_dump(d.fs, "/missing", host), -1);
    assert_int_equal(sqlite3_open_v2(host, &real, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_true(state_is(real, 50));
    assert_int_equal(sqlite3_close(real), SQLITE_OK);
    unlink(host);
    rmdir(dir);
    dev_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inv_durable_committed_survives_kill_and_power_loss),
        cmocka_unit_test(test_inv_durable_uncommitted_tx_rolls_back_at_any_write),
        cmocka_unit_test(test_inv_durable_persist_journal),
        cmocka_unit_test(test_power_loss_with_synchronous_off_loses_committed_data),
        cmocka_unit_test(test_inv_durable_write_and_sync_errors_surface),
        cmocka_unit_test(test_inv_durable_disk_full_surfaces),
        cmocka_unit_test(test_two_instances_are_independent),
        cmocka_unit_test(test_inv_durable_same_seed_same_bytes),
        cmocka_unit_test(test_power_loss_tears_whole_sectors),
        cmocka_unit_test(test_limits_and_short_reads),
        cmocka_unit_test(test_pending_writes_are_written_back_past_the_limit),
        cmocka_unit_test(test_wal_is_refused_and_clock_is_virtual),
        cmocka_unit_test(test_locks_conflict_without_blocking),
        cmocka_unit_test(test_dump_opens_with_the_real_sqlite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
