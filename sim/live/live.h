/*
 * live.h — the live driver (SPEC §6): the same model code as real
 * processes. A server process (`syncsim live server`) and device processes
 * (`syncsim live device`) talk over loopback TCP; each process gives the
 * model the real clocks (clock_gettime: CLOCK_REALTIME for now_ms,
 * CLOCK_MONOTONIC since process start for mono_ms), a real SQLite file on
 * the unix VFS, and a small timer table polled by a poll() loop. Tests kill
 * the processes with SIGKILL (or at a named event, SYNCSIM_KILL_AT) and move
 * time with libfaketime. The protocols are in sim/live/README.md.
 *
 * live_io.c holds what both processes share: clocks, randomness, timers,
 * sockets, frames, unbuffered output lines and SYNCSIM_KILL_AT.
 */
#ifndef SYNCSIM_LIVE_H
#define SYNCSIM_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "event.h"
#include "types.h"

#define LIVE_MAX_TIMERS 16
#define LIVE_LINE_MAX 8192          /* one command or control line */
#define LIVE_POLL_CAP_MS 200        /* a faked clock jump is seen within this */
#define LIVE_IO_TIMEOUT_MS 3000     /* login / ctl round trips */

/* ---- clocks and randomness ---- */
int64_t live_wall_ms(void);
/* CLOCK_MONOTONIC in ms since live_clock_init (a process starts near 0, as
 * in the simulator: "mono restarts at crash"). */
int64_t live_mono_ms(void);
void live_clock_init(void);
/* getrandom(2) unless seeded (--seed): then splitmix64, reproducible. */
void live_random_seed(uint64_t seed);
uint64_t live_random(void);

/* ---- timers by id on the monotonic clock ---- */
struct live_timers {
    bool armed[LIVE_MAX_TIMERS];
    int64_t at[LIVE_MAX_TIMERS];
};
void live_timer_set(struct live_timers *t, int id, int64_t at);
void live_timer_cancel(struct live_timers *t, int id);
/* Milliseconds poll() may sleep: until the earliest deadline, capped. */
int live_timer_wait_ms(const struct live_timers *t, int64_t now);
/* The id of the earliest due timer (disarmed now), or -1. */
int live_timer_take_due(struct live_timers *t, int64_t now);

/* ---- output: one line per write(2), unbuffered, so SIGKILL loses none ---- */
void live_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "ev NAME k=v…" and applies SYNCSIM_KILL_AT=EVENT[:N]. */
void live_emit_line(const struct event *e);
/* Reads SYNCSIM_KILL_AT (call once at start). */
void live_kill_at_init(void);

/* ---- sockets ---- */
/* "127.0.0.1:PORT" → port; only 127.0.0.1 (loopback) is accepted. -1 bad. */
int live_parse_addr(const char *s, int *port);
int live_listen(int port, int *bound_port);       /* fd or -1 */
int live_connect(int port);                        /* blocking connect: fd or -1 */
void live_set_nonblock(int fd);
/* Growable byte buffer for socket input and output. */
struct live_buf {
    uint8_t *p;
    size_t len, cap;
};
int live_buf_add(struct live_buf *b, const void *data, size_t n);
void live_buf_drop(struct live_buf *b, size_t n);   /* drops n bytes at the front */
void live_buf_free(struct live_buf *b);
/* Writes what it can of b to fd (non-blocking): 0, or -1 on a dead socket. */
int live_buf_flush(struct live_buf *b, int fd);
/* Reads what is there: 1 got bytes, 0 nothing now, -1 EOF or error. */
int live_buf_fill(struct live_buf *b, int fd);
/* A complete frame at the front of b: its total length (4 + u32), 0 when
 * incomplete, -1 when its length is over WIRE_MAX_MSG. */
long live_frame_len(const struct live_buf *b);
/* One line round trip on a fresh connection (login, ctl): sends "line\n",
 * reads one answer line (without "\n") within LIVE_IO_TIMEOUT_MS. 0 / -1. */
int live_roundtrip(int port, const char *line, char *ans, size_t n);

/* ---- small parsing helpers ---- */
/* Splits s in place on blanks; returns the count (≤ max). */
int live_split(char *s, char **argv, int max);
/* "NAME[:rw|ro][:ROWS][:STRATEGY]" in any order after NAME. rows may be NULL. */
int live_parse_table(const char *s, struct table_decl *t, int *rows);

/* ---- the processes ---- */
int live_server_main(int argc, char **argv);
int live_device_main(int argc, char **argv);
int live_ctl_main(int argc, char **argv);

/* "k=v" words split in place into names and values; count, or -1 (no '='). */
int live_split_fields(char **av, int ac, const char **names, const char **values);

#endif
