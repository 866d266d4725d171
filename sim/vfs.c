/*
 * vfs.c — simfs, the simulated SQLite VFS with a power-loss model.
 * See vfs.h for the model and its limits. Per file, `cur` is what reads see
 * (durable + pending applied in order) and `dur` the durable image; the
 * pending ops are kept so a power loss can judge them one sector at a time.
 */
#include "vfs.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Assertions stay on in release builds (ARCHITECTURE "Style"). Local so that
 * this module links on its own. */
static void simfs_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, expr);
    abort();
}
#define SIMFS_ASSERT(e) ((e) ? (void)0 : simfs_assert_fail(#e, __FILE__, __LINE__))

/* Unix epoch as a Julian day number in ms (what xCurrentTimeInt64 wants). */
#define JULIAN_UNIX_EPOCH_MS 210866760000000LL

enum op_kind { OP_WRITE, OP_TRUNCATE };

struct op {
    enum op_kind kind;
    int64_t off;   /* write: offset; truncate: new size */
    int64_t len;   /* write: bytes in data; truncate: 0 */
    uint8_t *data; /* owned */
};

struct buf {
    uint8_t *p;
    int64_t len, cap;
};

struct node {
    char path[SIMFS_MAX_PATH + 1];
    struct buf cur, dur;
    struct op *ops;
    int nops, cap_ops;
    int64_t pending_bytes;
    int nref;             /* open handles */
    bool linked;          /* visible in the namespace */
    int nshared;          /* handles holding SHARED or more */
    struct handle *writer; /* holder of RESERVED or more, if any */
};

struct handle {
    sqlite3_file base; /* first: SQLite casts sqlite3_file* to this */
    struct simfs *fs;
    struct node *node;
    int lock;
    bool readonly, delete_on_close;
};

struct simfs {
    sqlite3_vfs vfs; /* pAppData points back here */
    char vfs_name[SIMFS_MAX_NAME + 16];
    simfs_rnd_fn rnd, fault_rnd;
    void *rnd_ctx, *fault_ctx;
    simfs_now_fn now_ms;
    void *clk_ctx;
    struct node *nodes[SIMFS_MAX_FILES]; /* slot order is creation order */
    int nopen;
    bool frozen;
    int freeze_after; /* writes still allowed before freezing; -1 = off */
    int skip[SIMFS_FAULT_COUNT]; /* operations to let pass first… */
    int fail[SIMFS_FAULT_COUNT]; /* …then operations to fail */
    int64_t capacity;
    struct simfs_stats st;
};

/* ---- Byte buffers ----------------------------------------------------- */

static int buf_reserve(struct buf *b, int64_t n)
{
    SIMFS_ASSERT(n >= 0 && n <= SIMFS_MAX_FILE_BYTES);
    if (n <= b->cap)
        return 0;
    int64_t cap = b->cap ? b->cap : 4096;
    while (cap < n)
        cap *= 2;
    uint8_t *p = realloc(b->p, (size_t)cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Sets the length, zero-filling any growth. */
static int buf_resize(struct buf *b, int64_t n)
{
    if (buf_reserve(b, n) != 0)
        return -1;
    if (n > b->len)
        memset(b->p + b->len, 0, (size_t)(n - b->len));
    b->len = n;
    return 0;
}

static int buf_write(struct buf *b, int64_t off, const uint8_t *data, int64_t len)
{
    SIMFS_ASSERT(off >= 0 && len >= 0);
    int64_t end = off + len;
    if (end > b->len && buf_resize(b, end) != 0)
        return -1;
    memcpy(b->p + off, data, (size_t)len);
    return 0;
}

static int buf_copy(struct buf *dst, const struct buf *src)
{
    if (buf_reserve(dst, src->len) != 0)
        return -1;
    if (src->len)
        memcpy(dst->p, src->p, (size_t)src->len);
    dst->len = src->len;
    return 0;
}

static int op_apply(struct buf *b, const struct op *o)
{
    if (o->kind == OP_TRUNCATE)
        return buf_resize(b, o->off);
    return buf_write(b, o->off, o->data, o->len);
}

/* ---- Nodes (files) ---------------------------------------------------- */

static void node_drop_ops(struct node *n)
{
    for (int i = 0; i < n->nops; i++)
        free(n->ops[i].data);
    n->nops = 0;
    n->pending_bytes = 0;
}

static void node_free(struct simfs *fs, struct node *n)
{
    SIMFS_ASSERT(n->nref == 0);
    for (int i = 0; i < SIMFS_MAX_FILES; i++)
        if (fs->nodes[i] == n)
            fs->nodes[i] = NULL;
    node_drop_ops(n);
    free(n->ops);
    free(n->cur.p);
    free(n->dur.p);
    free(n);
}

static struct node *node_find(const struct simfs *fs, const char *path)
{
    SIMFS_ASSERT(path != NULL);
    for (int i = 0; i < SIMFS_MAX_FILES; i++) {
        struct node *n = fs->nodes[i];
        if (n && n->linked && strcmp(n->path, path) == 0)
            return n;
    }
    return NULL;
}

/* A new empty file; its existence is durable at once (vfs.h). NULL when the
 * file table is full or memory is out. */
static struct node *node_create(struct simfs *fs, const char *path, bool linked)
{
    SIMFS_ASSERT(strlen(path) <= SIMFS_MAX_PATH);
    for (int i = 0; i < SIMFS_MAX_FILES; i++) {
        if (fs->nodes[i])
            continue;
        struct node *n = calloc(1, sizeof *n);
        if (!n)
            return NULL;
        snprintf(n->path, sizeof n->path, "%s", path);
        n->linked = linked;
        fs->nodes[i] = n;
        return n;
    }
    return NULL;
}

/* Removes a file from the namespace; the bytes live until the last close. */
static void node_unlink(struct simfs *fs, struct node *n)
{
    n->linked = false;
    if (n->nref == 0)
        node_free(fs, n);
}

/* Applies the oldest pending op to the durable image (OS writeback). */
static int node_writeback_one(struct simfs *fs, struct node *n)
{
    SIMFS_ASSERT(n->nops > 0);
    struct op *o = &n->ops[0];
    if (op_apply(&n->dur, o) != 0)
        return -1;
    n->pending_bytes -= o->len;
    free(o->data);
    memmove(&n->ops[0], &n->ops[1], (size_t)(n->nops - 1) * sizeof *o);
    n->nops--;
    fs->st.writebacks++;
    return 0;
}

/* Makes every pending op of the file durable (xSync, process kill). */
static int node_sync(struct node *n)
{
    for (int i = 0; i < n->nops; i++)
        if (op_apply(&n->dur, &n->ops[i]) != 0)
            return -1;
    SIMFS_ASSERT(n->dur.len == n->cur.len);
    /* The durable image now equals what reads saw. Checked over the bytes
     * the ops touched (the rest was already equal): a whole-file compare
     * made every commit cost O(file size). */
    for (int i = 0; i < n->nops; i++) {
        const struct op *o = &n->ops[i];
        if (o->kind != OP_WRITE || o->off >= n->cur.len) continue;
        int64_t len = o->off + o->len <= n->cur.len ? o->len : n->cur.len - o->off;
        SIMFS_ASSERT(memcmp(n->dur.p + o->off, n->cur.p + o->off, (size_t)len) == 0);
    }
    node_drop_ops(n);
    return 0;
}

/* Records an op as pending and applies it to what reads see. Takes
 * ownership of o->data on success. */
static int node_push(struct simfs *fs, struct node *n, struct op *o)
{
    while (n->nops > 0 && (n->nops >= SIMFS_MAX_PENDING_OPS ||
                           n->pending_bytes + o->len > SIMFS_MAX_PENDING_BYTES))
        if (node_writeback_one(fs, n) != 0)
            return -1;
    if (n->nops == n->cap_ops) {
        int cap = n->cap_ops ? n->cap_ops * 2 : 16;
        struct op *ops = realloc(n->ops, (size_t)cap * sizeof *ops);
        if (!ops)
            return -1;
        n->ops = ops;
        n->cap_ops = cap;
    }
    int64_t need = o->kind == OP_WRITE ? o->off + o->len : o->off;
    if (buf_reserve(&n->cur, need) != 0)
        return -1;
    SIMFS_ASSERT(op_apply(&n->cur, o) == 0); /* reserved: cannot fail */
    n->ops[n->nops++] = *o;
    n->pending_bytes += o->len;
    return 0;
}

static int64_t fs_total_bytes(const struct simfs *fs)
{
    int64_t total = 0;
    for (int i = 0; i < SIMFS_MAX_FILES; i++)
        if (fs->nodes[i])
            total += fs->nodes[i]->cur.len;
    return total;
}

static bool fault_take(struct simfs *fs, enum simfs_fault kind)
{
    SIMFS_ASSERT(kind >= 0 && kind < SIMFS_FAULT_COUNT);
    if (fs->fail[kind] <= 0)
        return false;
    if (fs->skip[kind] > 0) {
        fs->skip[kind]--;
        return false;
    }
    fs->fail[kind]--;
    fs->st.faults++;
    return true;
}

/* SQLITE_OK if the file may grow to `end` bytes, else SQLITE_FULL. */
static int check_growth(struct simfs *fs, const struct node *n, int64_t end)
{
    if (end <= n->cur.len)
        return SQLITE_OK;
    if (end > SIMFS_MAX_FILE_BYTES || fault_take(fs, SIMFS_FAULT_FULL))
        return SQLITE_FULL;
    if (fs->capacity > 0 && fs_total_bytes(fs) + (end - n->cur.len) > fs->capacity) {
        fs->st.faults++;
        return SQLITE_FULL;
    }
    return SQLITE_OK;
}

/* ---- sqlite3_io_methods ----------------------------------------------- */

static int io_unlock(sqlite3_file *f, int level);

static int io_close(sqlite3_file *f)
{
    struct handle *h = (struct handle *)f;
    struct simfs *fs = h->fs;
    struct node *n = h->node;
    SIMFS_ASSERT(n->nref > 0 && fs->nopen > 0);
    io_unlock(f, SQLITE_LOCK_NONE);
    n->nref--;
    fs->nopen--;
    if (!n->linked && n->nref == 0)
        node_free(fs, n);
    h->node = NULL;
    return SQLITE_OK;
}

static int io_read(sqlite3_file *f, void *out, int amt, sqlite3_int64 off)
{
    struct handle *h = (struct handle *)f;
    const struct buf *b = &h->node->cur;
    SIMFS_ASSERT(amt >= 0 && off >= 0);
    h->fs->st.reads++;
    int64_t avail = off < b->len ? b->len - off : 0;
    if (avail > amt)
        avail = amt;
    if (avail > 0)
        memcpy(out, b->p + off, (size_t)avail);
    if (avail == amt)
        return SQLITE_OK;
    /* SQLite requires the unread tail to be zeroed on a short read. */
    memset((uint8_t *)out + avail, 0, (size_t)(amt - avail));
    return SQLITE_IOERR_SHORT_READ;
}

/* True if this mutation must be ignored because the process is dead. Also
 * fires the simfs_freeze_after_writes() hook when `is_write`. */
static bool frozen_now(struct simfs *fs, bool is_write)
{
    if (is_write && !fs->frozen && fs->freeze_after == 0) {
        fs->frozen = true;
        fs->freeze_after = -1;
    }
    if (fs->frozen)
        fs->st.ignored++;
    return fs->frozen;
}

static int io_write(sqlite3_file *f, const void *data, int amt, sqlite3_int64 off)
{
    struct handle *h = (struct handle *)f;
    struct simfs *fs = h->fs;
    SIMFS_ASSERT(amt >= 0 && off >= 0);
    if (frozen_now(fs, true))
        return SQLITE_OK;
    if (h->readonly)
        return SQLITE_READONLY;
    if (fault_take(fs, SIMFS_FAULT_WRITE))
        return SQLITE_IOERR_WRITE;
    int rc = check_growth(fs, h->node, off + amt);
    if (rc != SQLITE_OK)
        return rc;
    struct op o = { OP_WRITE, off, amt, malloc(amt ? (size_t)amt : 1) };
    if (!o.data)
        return SQLITE_IOERR_NOMEM;
    memcpy(o.data, data, (size_t)amt);
    if (node_push(fs, h->node, &o) != 0) {
        free(o.data);
        return SQLITE_IOERR_NOMEM;
    }
    fs->st.writes++;
    fs->st.bytes_written += (uint64_t)amt;
    if (fs->freeze_after > 0)
        fs->freeze_after--;
    return SQLITE_OK;
}

static int io_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    struct handle *h = (struct handle *)f;
    struct simfs *fs = h->fs;
    SIMFS_ASSERT(size >= 0);
    if (frozen_now(fs, false))
        return SQLITE_OK;
    if (h->readonly)
        return SQLITE_READONLY;
    int rc = check_growth(fs, h->node, size);
    if (rc != SQLITE_OK)
        return rc;
    struct op o = { OP_TRUNCATE, size, 0, NULL };
    if (node_push(fs, h->node, &o) != 0)
        return SQLITE_IOERR_NOMEM;
    fs->st.truncates++;
    return SQLITE_OK;
}

static int io_sync(sqlite3_file *f, int flags)
{
    struct handle *h = (struct handle *)f;
    struct simfs *fs = h->fs;
    (void)flags; /* NORMAL, FULL and DATAONLY are all a full sync here */
    if (frozen_now(fs, false))
        return SQLITE_OK;
    if (fault_take(fs, SIMFS_FAULT_SYNC))
        return SQLITE_IOERR_FSYNC;
    if (node_sync(h->node) != 0)
        return SQLITE_IOERR_NOMEM;
    fs->st.syncs++;
    return SQLITE_OK;
}

static int io_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    struct handle *h = (struct handle *)f;
    SIMFS_ASSERT(size != NULL);
    *size = h->node->cur.len;
    return SQLITE_OK;
}

/* In-process locking (vfs.h): never blocks, SQLITE_BUSY on conflict.
 * SQLite asks for SHARED, RESERVED or EXCLUSIVE; PENDING is the state of a
 * handle waiting for readers to leave on its way to EXCLUSIVE. */
static int io_lock(sqlite3_file *f, int level)
{
    struct handle *h = (struct handle *)f;
    struct node *n = h->node;
    SIMFS_ASSERT(level != SQLITE_LOCK_PENDING);
    if (h->lock >= level)
        return SQLITE_OK;
    if (level == SQLITE_LOCK_SHARED) {
        if (n->writer && n->writer != h && n->writer->lock >= SQLITE_LOCK_PENDING)
            return SQLITE_BUSY;
        n->nshared++;
        h->lock = SQLITE_LOCK_SHARED;
        return SQLITE_OK;
    }
    SIMFS_ASSERT(h->lock >= SQLITE_LOCK_SHARED);
    if (n->writer && n->writer != h)
        return SQLITE_BUSY;
    n->writer = h;
    if (level == SQLITE_LOCK_RESERVED) {
        h->lock = SQLITE_LOCK_RESERVED;
        return SQLITE_OK;
    }
    h->lock = SQLITE_LOCK_PENDING;
    if (n->nshared > 1)
        return SQLITE_BUSY;
    h->lock = SQLITE_LOCK_EXCLUSIVE;
    return SQLITE_OK;
}

static int io_unlock(sqlite3_file *f, int level)
{
    struct handle *h = (struct handle *)f;
    struct node *n = h->node;
    SIMFS_ASSERT(level == SQLITE_LOCK_NONE || level == SQLITE_LOCK_SHARED);
    if (h->lock <= level)
        return SQLITE_OK;
    if (n->writer == h)
        n->writer = NULL;
    if (level == SQLITE_LOCK_NONE) {
        SIMFS_ASSERT(n->nshared > 0);
        n->nshared--;
    }
    h->lock = level;
    return SQLITE_OK;
}

static int io_check_reserved(sqlite3_file *f, int *out)
{
    struct handle *h = (struct handle *)f;
    SIMFS_ASSERT(out != NULL);
    *out = h->node->writer != NULL;
    return SQLITE_OK;
}

static int io_file_control(sqlite3_file *f, int op, void *arg)
{
    (void)f, (void)op, (void)arg;
    return SQLITE_NOTFOUND;
}

static int io_sector_size(sqlite3_file *f)
{
    (void)f;
    return SIMFS_SECTOR;
}

static int io_device_characteristics(sqlite3_file *f)
{
    (void)f;
    return 0; /* no atomic writes, no powersafe overwrite: vfs.h */
}

/* Version 1: no xShmMap, so SQLite refuses WAL and keeps the rollback
 * journal (vfs.h). */
static const sqlite3_io_methods simfs_io = {
    .iVersion = 1,
    .xClose = io_close,
    .xRead = io_read,
    .xWrite = io_write,
    .xTruncate = io_truncate,
    .xSync = io_sync,
    .xFileSize = io_file_size,
    .xLock = io_lock,
    .xUnlock = io_unlock,
    .xCheckReservedLock = io_check_reserved,
    .xFileControl = io_file_control,
    .xSectorSize = io_sector_size,
    .xDeviceCharacteristics = io_device_characteristics,
};

/* ---- sqlite3_vfs ------------------------------------------------------ */

/* Finds or creates the node xOpen asks for; *rc says why on NULL. A file
 * created while frozen is not linked: the dead process cannot create. */
static struct node *open_node(struct simfs *fs, const char *name, int flags, int *rc)
{
    *rc = SQLITE_CANTOPEN;
    if (!name)
        return node_create(fs, "<temp>", false);
    if (strlen(name) > SIMFS_MAX_PATH)
        return NULL;
    struct node *n = node_find(fs, name);
    bool create = flags & SQLITE_OPEN_CREATE;
    if (n && create && (flags & SQLITE_OPEN_EXCLUSIVE))
        return NULL;
    if (n || !create)
        return n;
    return node_create(fs, name, !fs->frozen);
}

static int vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f,
                    int flags, int *out_flags)
{
    struct simfs *fs = vfs->pAppData;
    struct handle *h = (struct handle *)f;
    SIMFS_ASSERT(fs != NULL && h != NULL);
    memset(h, 0, sizeof *h); /* pMethods NULL: no xClose on failure */
    int rc;
    struct node *n = open_node(fs, name, flags, &rc);
    if (!n)
        return rc;
    h->fs = fs;
    h->node = n;
    h->readonly = flags & SQLITE_OPEN_READONLY;
    h->delete_on_close = flags & SQLITE_OPEN_DELETEONCLOSE;
    h->base.pMethods = &simfs_io;
    n->nref++;
    fs->nopen++;
    fs->st.opens++;
    /* Like unix: a delete-on-close file leaves the namespace at once. */
    if (h->delete_on_close && !fs->frozen)
        n->linked = false;
    if (out_flags)
        *out_flags = flags;
    return SQLITE_OK;
}

static int vfs_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    struct simfs *fs = vfs->pAppData;
    (void)sync_dir; /* directory operations are durable at once: vfs.h */
    if (frozen_now(fs, false))
        return SQLITE_OK;
    struct node *n = node_find(fs, name);
    if (!n)
        return SQLITE_IOERR_DELETE_NOENT;
    node_unlink(fs, n);
    fs->st.deletes++;
    return SQLITE_OK;
}

static int vfs_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    struct simfs *fs = vfs->pAppData;
    const struct node *n = node_find(fs, name);
    SIMFS_ASSERT(out != NULL);
    /* Like the unix VFS, an empty file does not "exist" (hot-journal test). */
    if (flags == SQLITE_ACCESS_EXISTS)
        *out = n != NULL && n->cur.len > 0;
    else
        *out = n != NULL;
    return SQLITE_OK;
}

static int vfs_full_pathname(sqlite3_vfs *vfs, const char *name, int nout, char *out)
{
    (void)vfs;
    SIMFS_ASSERT(name != NULL && out != NULL);
    const char *slash = name[0] == '/' ? "" : "/";
    int n = snprintf(out, (size_t)nout, "%s%s", slash, name);
    if (n < 0 || n >= nout || n > SIMFS_MAX_PATH)
        return SQLITE_CANTOPEN;
    return SQLITE_OK;
}

static void *vfs_dl_open(sqlite3_vfs *vfs, const char *path)
{
    (void)vfs, (void)path;
    return NULL;
}

static void vfs_dl_error(sqlite3_vfs *vfs, int n, char *msg)
{
    (void)vfs;
    if (n > 0)
        snprintf(msg, (size_t)n, "simfs: loadable extensions not supported");
}

static void (*vfs_dl_sym(sqlite3_vfs *vfs, void *lib, const char *sym))(void)
{
    (void)vfs, (void)lib, (void)sym;
    return NULL;
}

static void vfs_dl_close(sqlite3_vfs *vfs, void *lib)
{
    (void)vfs, (void)lib;
}

static int vfs_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    struct simfs *fs = vfs->pAppData;
    SIMFS_ASSERT(n >= 0 && out != NULL);
    for (int i = 0; i < n; i += 8) {
        uint64_t r = fs->rnd(fs->rnd_ctx);
        int k = n - i < 8 ? n - i : 8;
        for (int j = 0; j < k; j++)
            out[i + j] = (char)(r >> (8 * j));
    }
    return n;
}

static int vfs_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return us; /* virtual time: nobody waits */
}

static int64_t fs_now_ms(const struct simfs *fs)
{
    return fs->now_ms ? fs->now_ms(fs->clk_ctx) : SIMFS_DEFAULT_NOW_MS;
}

static int vfs_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    SIMFS_ASSERT(out != NULL);
    *out = fs_now_ms(vfs->pAppData) + JULIAN_UNIX_EPOCH_MS;
    return SQLITE_OK;
}

static int vfs_current_time(sqlite3_vfs *vfs, double *out)
{
    sqlite3_int64 ms;
    vfs_current_time_int64(vfs, &ms);
    *out = (double)ms / 86400000.0;
    return SQLITE_OK;
}

static int vfs_get_last_error(sqlite3_vfs *vfs, int n, char *msg)
{
    (void)vfs;
    if (n > 0)
        msg[0] = '\0';
    return 0;
}

/* ---- Public API --------------------------------------------------------- */

static void fill_vfs(struct simfs *fs)
{
    sqlite3_vfs *v = &fs->vfs;
    v->iVersion = 2;
    v->szOsFile = (int)sizeof(struct handle);
    v->mxPathname = SIMFS_MAX_PATH;
    v->zName = fs->vfs_name;
    v->pAppData = fs;
    v->xOpen = vfs_open;
    v->xDelete = vfs_delete;
    v->xAccess = vfs_access;
    v->xFullPathname = vfs_full_pathname;
    v->xDlOpen = vfs_dl_open;
    v->xDlError = vfs_dl_error;
    v->xDlSym = vfs_dl_sym;
    v->xDlClose = vfs_dl_close;
    v->xRandomness = vfs_randomness;
    v->xSleep = vfs_sleep;
    v->xCurrentTime = vfs_current_time;
    v->xGetLastError = vfs_get_last_error;
    v->xCurrentTimeInt64 = vfs_current_time_int64;
}

struct simfs *simfs_new(const char *name, simfs_rnd_fn rnd, void *rnd_ctx,
                        simfs_now_fn now_ms, void *clk_ctx)
{
    SIMFS_ASSERT(name != NULL && rnd != NULL);
    SIMFS_ASSERT(strlen(name) <= SIMFS_MAX_NAME);
    struct simfs *fs = calloc(1, sizeof *fs);
    if (!fs)
        return NULL;
    fs->rnd = fs->fault_rnd = rnd;
    fs->rnd_ctx = fs->fault_ctx = rnd_ctx;
    fs->now_ms = now_ms;
    fs->clk_ctx = clk_ctx;
    fs->freeze_after = -1;
    snprintf(fs->vfs_name, sizeof fs->vfs_name, "simfs-%s", name);
    for (int k = 2; sqlite3_vfs_find(fs->vfs_name) != NULL; k++)
        snprintf(fs->vfs_name, sizeof fs->vfs_name, "simfs-%s-%d", name, k);
    fill_vfs(fs);
    if (sqlite3_vfs_register(&fs->vfs, 0) != SQLITE_OK) {
        free(fs);
        return NULL;
    }
    return fs;
}

void simfs_set_fault_rnd(struct simfs *fs, simfs_rnd_fn rnd, void *ctx)
{
    SIMFS_ASSERT(fs != NULL && rnd != NULL);
    fs->fault_rnd = rnd;
    fs->fault_ctx = ctx;
}

const char *simfs_vfs_name(const struct simfs *fs)
{
    SIMFS_ASSERT(fs != NULL);
    return fs->vfs_name;
}

void simfs_free(struct simfs *fs)
{
    if (!fs)
        return;
    SIMFS_ASSERT(fs->nopen == 0);
    sqlite3_vfs_unregister(&fs->vfs);
    for (int i = 0; i < SIMFS_MAX_FILES; i++)
        if (fs->nodes[i])
            node_free(fs, fs->nodes[i]);
    free(fs);
}

void simfs_reseed_sqlite_prng(struct simfs *fs)
{
    SIMFS_ASSERT(fs != NULL);
    sqlite3_vfs *prev = sqlite3_vfs_find(NULL);
    sqlite3_vfs_register(&fs->vfs, 1);
    sqlite3_randomness(0, NULL);  /* forget the state… */
    unsigned char b;
    sqlite3_randomness(1, &b);    /* …and reseed now, from the default VFS */
    if (prev && prev != &fs->vfs)
        sqlite3_vfs_register(prev, 1);
    SIMFS_ASSERT(sqlite3_vfs_find(NULL) == (prev ? prev : &fs->vfs));
}

void simfs_freeze(struct simfs *fs)
{
    SIMFS_ASSERT(fs != NULL);
    fs->frozen = true;
    fs->freeze_after = -1;
}

void simfs_freeze_after_writes(struct simfs *fs, int n)
{
    SIMFS_ASSERT(fs != NULL);
    fs->freeze_after = n < 0 ? -1 : n;
}

bool simfs_is_frozen(const struct simfs *fs)
{
    SIMFS_ASSERT(fs != NULL);
    return fs->frozen;
}

/* How a power loss treats the unsynced writes (ARCHITECTURE "Storage"). */
enum loss_mode { LOSS_DROP_ALL, LOSS_KEEP_ALL, LOSS_TORN };

static void judge_write(struct simfs *fs, struct node *n, const struct op *o,
                        enum loss_mode mode)
{
    int64_t off = o->off, end = o->off + o->len;
    while (off < end) {
        int64_t sec_end = (off / SIMFS_SECTOR + 1) * SIMFS_SECTOR;
        if (sec_end > end)
            sec_end = end;
        bool keep = mode == LOSS_KEEP_ALL ||
                    (mode == LOSS_TORN && (fs->fault_rnd(fs->fault_ctx) & 1));
        if (keep) {
            SIMFS_ASSERT(buf_write(&n->dur, off, o->data + (off - o->off), sec_end - off) == 0);
            fs->st.sectors_kept++;
        } else {
            fs->st.sectors_dropped++;
        }
        off = sec_end;
    }
}

static void judge_node(struct simfs *fs, struct node *n, enum loss_mode mode)
{
    for (int i = 0; i < n->nops; i++) {
        const struct op *o = &n->ops[i];
        if (o->kind == OP_WRITE) {
            judge_write(fs, n, o, mode);
            continue;
        }
        bool keep = mode == LOSS_KEEP_ALL ||
                    (mode == LOSS_TORN && (fs->fault_rnd(fs->fault_ctx) & 1));
        if (keep)
            SIMFS_ASSERT(buf_resize(&n->dur, o->off) == 0);
    }
    node_drop_ops(n);
    SIMFS_ASSERT(buf_copy(&n->cur, &n->dur) == 0);
}

void simfs_crash(struct simfs *fs, bool power_loss)
{
    SIMFS_ASSERT(fs != NULL);
    SIMFS_ASSERT(fs->nopen == 0); /* close (frozen) connections first */
    enum loss_mode mode = LOSS_KEEP_ALL;
    if (power_loss) {
        uint64_t r = fs->fault_rnd(fs->fault_ctx) % 4;
        mode = r == 0 ? LOSS_DROP_ALL : r == 1 ? LOSS_KEEP_ALL : LOSS_TORN;
        fs->st.power_losses++;
    }
    for (int i = 0; i < SIMFS_MAX_FILES; i++) {
        struct node *n = fs->nodes[i];
        if (!n)
            continue;
        SIMFS_ASSERT(n->linked && n->nref == 0 && n->nshared == 0 && !n->writer);
        if (power_loss)
            judge_node(fs, n, mode);
        else
            SIMFS_ASSERT(node_sync(n) == 0);
    }
    fs->frozen = false;
    fs->freeze_after = -1;
    fs->st.crashes++;
}

void simfs_fail_at(struct simfs *fs, enum simfs_fault kind, int skip, int count)
{
    SIMFS_ASSERT(fs != NULL && kind >= 0 && kind < SIMFS_FAULT_COUNT);
    SIMFS_ASSERT(skip >= 0 && count >= 0);
    fs->skip[kind] = skip;
    fs->fail[kind] = count;
}

void simfs_fail_next(struct simfs *fs, enum simfs_fault kind, int count)
{
    simfs_fail_at(fs, kind, 0, count);
}

void simfs_set_capacity(struct simfs *fs, int64_t bytes)
{
    SIMFS_ASSERT(fs != NULL && bytes >= 0);
    fs->capacity = bytes;
}

void simfs_get_stats(const struct simfs *fs, struct simfs_stats *out)
{
    SIMFS_ASSERT(fs != NULL && out != NULL);
    *out = fs->st;
}

const uint8_t *simfs_file_data(const struct simfs *fs, const char *path, int64_t *len)
{
    SIMFS_ASSERT(fs != NULL && len != NULL);
    const struct node *n = node_find(fs, path);
    *len = n ? n->cur.len : 0;
    if (!n)
        return NULL;
    return n->cur.p ? n->cur.p : (const uint8_t *)"";
}

int simfs_pending_ops(const struct simfs *fs, const char *path)
{
    SIMFS_ASSERT(fs != NULL);
    const struct node *n = node_find(fs, path);
    return n ? n->nops : -1;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

uint64_t simfs_hash(const struct simfs *fs)
{
    SIMFS_ASSERT(fs != NULL);
    const struct node *v[SIMFS_MAX_FILES];
    int n = 0;
    for (int i = 0; i < SIMFS_MAX_FILES; i++)
        if (fs->nodes[i] && fs->nodes[i]->linked)
            v[n++] = fs->nodes[i];
    for (int i = 1; i < n; i++) /* insertion sort by name: address-free order */
        for (int j = i; j > 0 && strcmp(v[j - 1]->path, v[j]->path) > 0; j--) {
            const struct node *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < n; i++) {
        uint8_t len[8];
        for (int k = 0; k < 8; k++)
            len[k] = (uint8_t)((uint64_t)v[i]->cur.len >> (8 * k));
        h = fnv(h, v[i]->path, strlen(v[i]->path) + 1);
        h = fnv(h, len, sizeof len);
        if (v[i]->cur.len)
            h = fnv(h, v[i]->cur.p, (size_t)v[i]->cur.len);
    }
    return h;
}

int simfs_dump(const struct simfs *fs, const char *path, const char *host_path)
{
    SIMFS_ASSERT(fs != NULL && host_path != NULL);
    int64_t len;
    const uint8_t *data = simfs_file_data(fs, path, &len);
    if (!data)
        return -1;
    FILE *f = fopen(host_path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, (size_t)len, f);
    int rc = fclose(f);
    return (w == (size_t)len && rc == 0) ? 0 : -1;
}
