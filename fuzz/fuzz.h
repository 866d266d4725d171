/*
 * fuzz.h — the one main() every harness shares (SPEC §5).
 *
 * A harness defines
 *   static void fuzz_setup(void);                       once per process
 *   static void fuzz_one(const uint8_t *p, size_t n);   one input; resets all
 *                                                       state it touches
 * and includes this file last.
 *
 * Built with afl-clang-fast (__AFL_FUZZ_TESTCASE_LEN defined) the program
 * runs in persistent mode: the setup runs before the deferred fork server
 * (__AFL_INIT), the test case comes through shared memory and __AFL_LOOP
 * runs many inputs per process. Built with any other compiler it is the
 * replay binary: every argument is a file (or a directory of files) to run;
 * no argument reads stdin. A failure is an abort() with a readable message
 * on stderr (fuzz_fail), so AFL counts it as a crash and the replay exits
 * non-zero.
 */
#ifndef SYNCSIM_FUZZ_H
#define SYNCSIM_FUZZ_H

#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void fuzz_setup(void);
static void fuzz_one(const uint8_t *p, size_t n);

/* The input being run (replay prints it with the failure). */
static const char *fuzz_current = "<afl>";

__attribute__((format(printf, 2, 3), noreturn, unused))
static void fuzz_fail(const char *inv, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FUZZ FAILURE [%s] input=%s\n  ", inv, fuzz_current);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

/* A cursor over the input bytes; past the end every read is 0. */
struct fz {
    const uint8_t *p;
    size_t n, off;
};

static inline int fz_more(const struct fz *z) { return z->off < z->n; }
static inline uint8_t fz_u8(struct fz *z) { return z->off < z->n ? z->p[z->off++] : 0; }
static inline uint16_t fz_u16(struct fz *z)
{
    uint16_t a = fz_u8(z);
    return (uint16_t)(a << 8 | fz_u8(z));
}
static inline uint32_t fz_u32(struct fz *z)
{
    uint32_t a = fz_u16(z);
    return a << 16 | fz_u16(z);
}

#ifdef __AFL_FUZZ_TESTCASE_LEN
__AFL_FUZZ_INIT();

int main(void)
{
    fuzz_setup();
    __AFL_INIT();                                   /* deferred fork server */
    unsigned char *buf = __AFL_FUZZ_TESTCASE_BUF;   /* shared-memory test case */
    while (__AFL_LOOP(100000)) {
        int len = __AFL_FUZZ_TESTCASE_LEN;
        fuzz_one(buf, (size_t)len);
    }
    return 0;
}
#else
static int fuzz_run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "%s: cannot open\n", path); return 1; }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (n == cap) { cap *= 2; buf = realloc(buf, cap); }
        if (!buf) { fclose(f); return 1; }
        size_t k = fread(buf + n, 1, cap - n, f);
        if (k == 0) break;
        n += k;
    }
    fclose(f);
    fuzz_current = path;
    /* An exact-size copy, so ASan sees any read past the input. */
    uint8_t *exact = malloc(n ? n : 1);
    memcpy(exact, buf, n);
    free(buf);
    fuzz_one(exact, n);
    free(exact);
    return 0;
}

static int fuzz_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int fuzz_run_path(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) { fprintf(stderr, "%s: cannot stat\n", path); return 1; }
    if (!S_ISDIR(sb.st_mode)) return fuzz_run_file(path);
    DIR *dir = opendir(path);
    if (!dir) return 1;
    char **names = NULL;
    int n = 0, bad = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        if (e->d_name[0] == '.') continue;
        names = realloc(names, (size_t)(n + 1) * sizeof *names);
        size_t l = strlen(path) + strlen(e->d_name) + 2;
        names[n] = malloc(l);
        snprintf(names[n], l, "%s/%s", path, e->d_name);
        n++;
    }
    closedir(dir);
    if (n) qsort(names, (size_t)n, sizeof *names, fuzz_cmp);
    for (int i = 0; i < n; i++) {
        struct stat fs;
        if (stat(names[i], &fs) == 0 && S_ISREG(fs.st_mode)) bad |= fuzz_run_file(names[i]);
        free(names[i]);
    }
    free(names);
    return bad;
}

int main(int argc, char **argv)
{
    fuzz_setup();
    if (argc < 2) {
        fuzz_current = "<stdin>";
        size_t cap = 1 << 16, n = 0;
        uint8_t *buf = malloc(cap);
        size_t k;
        while (buf && (k = fread(buf + n, 1, cap - n, stdin)) > 0) {
            n += k;
            if (n == cap) { cap *= 2; buf = realloc(buf, cap); }
        }
        if (!buf) return 1;
        fuzz_one(buf, n);
        free(buf);
        return 0;
    }
    int bad = 0, files = 0;
    for (int i = 1; i < argc; i++) {
        bad |= fuzz_run_path(argv[i]);
        files++;
    }
    if (getenv("FUZZ_QUIET") == NULL) fprintf(stderr, "replayed %d path(s): ok\n", files);
    return bad;
}
#endif

#endif
