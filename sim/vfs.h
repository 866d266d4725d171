/*
 * vfs.h — simfs: an in-memory, deterministic SQLite VFS with a power-loss
 * model (ARCHITECTURE "Storage and crashes"). One simfs per simulated device
 * (and one for the server). Each simfs registers its own VFS; open a database
 * on it with sqlite3_open_v2(path, &db, flags, simfs_vfs_name(fs)).
 *
 * The model, per file:
 *   durable image   the bytes that survived the last xSync of that file;
 *   pending ops     writes and truncates since then, in order. Reads see
 *                   durable + pending (what the OS page cache would show).
 * xSync makes a file's pending ops durable. simfs_crash() judges the pending
 * ops: a process kill keeps them all (the OS still has them); a power loss
 * keeps none, all, or a random subset of 512-byte sectors of each write
 * (torn writes), and each truncate as a whole; the choice comes from the
 * fault stream.
 *
 * Choices and limits (documented here because they are part of the model):
 * - Directory operations are atomic and durable at once: a file created by
 *   xOpen exists (empty) after any crash; xDelete is durable on return. This
 *   is stronger than POSIX without a directory fsync; SQLite fsyncs the
 *   directory anyway where it matters, so nothing is hidden by it.
 * - Rollback journal only (journal_mode DELETE, TRUNCATE or PERSIST). The
 *   io methods are version 1 (no xShmMap), so "PRAGMA journal_mode=WAL"
 *   leaves the mode unchanged instead of failing half way.
 * - xDeviceCharacteristics is 0 (no atomic-write or powersafe-overwrite
 *   promise), xSectorSize is 512.
 * - Locking is in-process: levels are tracked per file across connections
 *   of this fs, and a conflict returns SQLITE_BUSY at once (never blocks).
 * - Limits: SIMFS_MAX_FILES files (open temp files included) and
 *   SIMFS_MAX_FILE_BYTES per file; beyond either, SQLITE_FULL or
 *   SQLITE_CANTOPEN. Pending ops per file are bounded by SIMFS_MAX_PENDING_OPS
 *   and SIMFS_MAX_PENDING_BYTES: past them the oldest pending op is written
 *   back to the durable image, as an OS flushes dirty pages in the
 *   background. Paths are at most SIMFS_MAX_PATH bytes.
 * - xSleep returns at once; time and randomness come from the callbacks.
 * - Single-threaded: no locks, no real clock, no rand(), no real files except
 *   in simfs_dump().
 *
 * SQLite's own PRNG (journal nonces, randomblob(), temp names) is process
 * global and is seeded once from the *default* VFS, not from the VFS of the
 * connection. Call simfs_reseed_sqlite_prng() at the start of a run to seed
 * it from a simfs's random stream; otherwise file images are not
 * reproducible across runs.
 */
#ifndef SYNCSIM_VFS_H
#define SYNCSIM_VFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIMFS_SECTOR 512
#define SIMFS_MAX_FILES 32
#define SIMFS_MAX_PATH 255
#define SIMFS_MAX_NAME 47                          /* simfs_new() name */
#define SIMFS_MAX_FILE_BYTES (64LL * 1024 * 1024)
#define SIMFS_MAX_PENDING_OPS 4096                 /* per file */
#define SIMFS_MAX_PENDING_BYTES (16LL * 1024 * 1024) /* per file */
/* Wall clock when no clock callback is given: 2026-01-01T00:00:00Z (SPEC §3). */
#define SIMFS_DEFAULT_NOW_MS 1767225600000LL

struct simfs;

typedef uint64_t (*simfs_rnd_fn)(void *ctx);
typedef int64_t (*simfs_now_fn)(void *ctx);

/* Creates an empty fs and registers its VFS (not as the default) under the
 * name "simfs-<name>" ("-2", "-3"… appended if taken). `rnd` (required)
 * feeds xRandomness and, unless simfs_set_fault_rnd() is called, the crash
 * decisions. `now_ms` (may be NULL: SIMFS_DEFAULT_NOW_MS) gives Unix ms for
 * xCurrentTime*. Returns NULL on out of memory or registration failure. */
struct simfs *simfs_new(const char *name, simfs_rnd_fn rnd, void *rnd_ctx,
                        simfs_now_fn now_ms, void *clk_ctx);

/* Draws crash decisions (power loss) from a separate stream, so that SQLite's
 * randomness does not reshuffle the faults (ARCHITECTURE "sim/"). */
void simfs_set_fault_rnd(struct simfs *fs, simfs_rnd_fn rnd, void *ctx);

/* The registered VFS name; owned by fs, valid until simfs_free(). */
const char *simfs_vfs_name(const struct simfs *fs);

/* Unregisters the VFS and frees every file. No connection may be open. */
void simfs_free(struct simfs *fs);

/* Seeds SQLite's process-global PRNG from fs's random stream (briefly making
 * fs's VFS the default, then restoring the previous default). */
void simfs_reseed_sqlite_prng(struct simfs *fs);

/* ---- Crashes ---------------------------------------------------------- */

/* "The process died right now": from here on every write, truncate, delete
 * and sync from this fs's connections is ignored (returns SQLITE_OK), so the
 * driver can sqlite3_close() the dead process's connection without that
 * close rolling back or flushing anything. Reads still work; a file the
 * dead process creates is private to its handle and vanishes. Lifted by
 * simfs_crash(). */
void simfs_freeze(struct simfs *fs);

/* Test hook: let `n` more successful xWrite calls through, then freeze
 * before the next one (a crash at an exact write). n < 0 cancels. */
void simfs_freeze_after_writes(struct simfs *fs, int n);

bool simfs_is_frozen(const struct simfs *fs);

/* The crash itself; no connection may be open (close them first, frozen).
 * power_loss false: a process kill, every pending op is kept. true: pending
 * ops are judged as described at the top. Afterwards every file's content is
 * its new durable image, nothing is pending, and the fs is unfrozen. */
void simfs_crash(struct simfs *fs, bool power_loss);

/* ---- Fault injection -------------------------------------------------- */

enum simfs_fault {
    SIMFS_FAULT_WRITE = 0, /* xWrite fails with SQLITE_IOERR_WRITE, no effect */
    SIMFS_FAULT_SYNC,      /* xSync fails with SQLITE_IOERR_FSYNC, nothing made durable */
    SIMFS_FAULT_FULL,      /* an xWrite that grows a file fails with SQLITE_FULL */
    SIMFS_FAULT_COUNT
};

/* The next `count` operations of that kind (on any file of fs) fail.
 * count 0 cancels. Counts do not add up: the last call wins. Armed faults
 * survive simfs_crash(). */
void simfs_fail_next(struct simfs *fs, enum simfs_fault kind, int count);

/* Like simfs_fail_next(), after letting `skip` operations of that kind pass
 * (SIMFS_FAULT_FULL counts only writes that grow a file). */
void simfs_fail_at(struct simfs *fs, enum simfs_fault kind, int skip, int count);

/* Persistent disk-full: writes that would make the total size of all files
 * exceed `bytes` fail with SQLITE_FULL. 0 = unlimited (the default). */
void simfs_set_capacity(struct simfs *fs, int64_t bytes);

/* ---- Inspection ------------------------------------------------------- */

struct simfs_stats {
    uint64_t opens, reads, writes, bytes_written, truncates, syncs, deletes;
    uint64_t writebacks;      /* pending ops flushed by the pending limits */
    uint64_t faults;          /* injected failures returned (incl. capacity) */
    uint64_t ignored;         /* writes/truncates/syncs/deletes while frozen */
    uint64_t crashes, power_losses;
    uint64_t sectors_kept, sectors_dropped; /* by power losses */
};

void simfs_get_stats(const struct simfs *fs, struct simfs_stats *out);

/* Current content (durable + pending) of a file; NULL if it does not exist.
 * The pointer is owned by fs and valid until the next operation on it. */
const uint8_t *simfs_file_data(const struct simfs *fs, const char *path,
                               int64_t *len);

/* Number of pending (unsynced) ops of a file; -1 if it does not exist. */
int simfs_pending_ops(const struct simfs *fs, const char *path);

/* FNV-1a over every file (name, size, content) in name order: equal hashes
 * mean byte-identical file systems. */
uint64_t simfs_hash(const struct simfs *fs);

/* Writes the current content of `path` to the real file `host_path` (e.g. to
 * open it with the sqlite3 shell). The only access to the real filesystem.
 * Returns 0, or -1 if the file does not exist or the host write failed. */
int simfs_dump(const struct simfs *fs, const char *path, const char *host_path);

#endif
