/*
 * env.h — the environment interface: the model's only door to the outside.
 *
 * The model (device, server, orchestrator) never reads a clock, draws a
 * random number, opens a socket, sleeps or spawns a thread. It sees the
 * world only through a struct env given at open time; the simulator, the
 * live driver, the fuzz harnesses and the unit tests each implement it.
 * Storage is a sqlite3* the driver opened (the simulator's is on a
 * simulated VFS).
 *
 * Timers are identified by small integers (enum dev_timer for a device);
 * set_timer replaces a pending timer of the same id. When it fires, the
 * driver calls the owner's on_timer(id) (dev_on_timer, srv_orch_on_timer).
 * A timer's deadline is on the monotonic clock.
 */
#ifndef SYNCSIM_ENV_H
#define SYNCSIM_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

struct coord_obs;  /* coord.h: one coordinator decision, for oracles */

struct env {
    void *ctx;
    /* Wall clock, ms since the epoch; may be skewed, drift, jump both ways. */
    int64_t (*now_ms)(void *ctx);
    /* Monotonic clock, ms; never goes backwards; restarts at crash. */
    int64_t (*mono_ms)(void *ctx);
    /* 64 uniformly random bits (jitter, tokens, request ids). */
    uint64_t (*random)(void *ctx);
    void (*set_timer)(void *ctx, int id, int64_t at_mono_ms);
    void (*cancel_timer)(void *ctx, int id);
    /* Send an encoded request to the server (device) — the driver owns
     * delivery; the response comes back through dev_on_message. The bytes
     * are only borrowed for the call. Unused by the server. */
    void (*send)(void *ctx, const uint8_t *msg, size_t len);
    /* A structured event (SPEC §1.8); borrowed for the call. */
    void (*emit)(void *ctx, const struct event *ev);
    /* Optional (may be NULL): every coordinator decision, with its inputs,
     * so a reference model can check it (sim/oracle). */
    void (*observe)(void *ctx, const struct coord_obs *obs);
};

#endif
