/*
 * event.h — structured events (SPEC §1.8, COORD-8): a name and up to
 * EV_MAX_FIELDS key=value pairs, all in fixed-size storage so emitting never
 * allocates. The model emits them through env->emit; tests and scenarios
 * match them by name and fields.
 */
#ifndef SYNCSIM_EVENT_H
#define SYNCSIM_EVENT_H

#include <stddef.h>
#include <stdint.h>

#define EV_MAX_FIELDS 8
#define EV_NAME_MAX 31
#define EV_KEY_MAX 23
#define EV_VAL_MAX 95

struct ev_field {
    char key[EV_KEY_MAX + 1];
    char val[EV_VAL_MAX + 1];
};

struct event {
    char name[EV_NAME_MAX + 1];
    int n;
    struct ev_field f[EV_MAX_FIELDS];
};

void ev_init(struct event *e, const char *name);
/* Adding more than EV_MAX_FIELDS, or an over-long key, is an assertion
 * failure (a programming error); values are truncated to EV_VAL_MAX. */
void ev_str(struct event *e, const char *key, const char *val);
void ev_int(struct event *e, const char *key, int64_t val);
/* The value of key, or NULL. */
const char *ev_get(const struct event *e, const char *key);
/* "name k=v k=v"; a value with a space or quote is written in double quotes
 * with \" and \\ escaped. Returns the length written (truncates to n-1). */
size_t ev_format(const struct event *e, char *buf, size_t n);
/* Does e have this name and every (key, val) of want? (want->n may be 0.) */
int ev_matches(const struct event *e, const struct event *want);

/* Every event name of SPEC §1.8, NULL-terminated (the scenario parser
 * rejects unknown names at read time). */
extern const char *const ev_known_names[];
int ev_name_known(const char *name);

#endif
