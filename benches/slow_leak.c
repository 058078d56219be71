/* A server-like loop with one slow leak, for benches/sites_leak_10min.sh (issue #18): does
 * soak's allocation-site sampler name the leaking function as site #1?
 *
 * Every 10 ms tick (absolute deadlines, so the rates do not drift with load):
 *   - handle_request: one request buffer of 512–2048 B, freed at once     (~128 kB/s churn)
 *   - parse_message:  four tokens of 16–256 B, freed at once               (~54 kB/s churn)
 *   - cache_put (every 10th tick): replaces one of 256 cache entries of 1–4 KiB (bounded,
 *     ~640 kB live; ~25 kB/s churn)
 *   - leak_slowly (every 10th tick): one 280 B block that is never freed: 2,800 B/s, i.e.
 *     10.08 MB/h (decimal MB, soak's unit). The blocks are chained through their first word,
 *     so the leak needs no bookkeeping allocation of its own (that would be a second site).
 * Once a minute it prints the true leaked bytes. Runs until killed (or for argv[1] seconds).
 * The functions are noinline so each is a frame of its own, as in a real server's code.
 * Build: cc -O2 -g -o slow_leak benches/slow_leak.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))
#define CACHE_SLOTS 256
#define LEAK_BLOCK 280

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static size_t between(size_t lo, size_t hi) { return lo + next_rand() % (hi - lo + 1); }

static volatile uint64_t sink;
static void *leaked_head;
static uint64_t leaked_bytes;
static void *cache[CACHE_SLOTS];

NOINLINE static void leak_slowly(void) {
    void **b = malloc(LEAK_BLOCK);
    if (!b) abort();
    memset(b, 0x5a, LEAK_BLOCK);
    *b = leaked_head;
    leaked_head = b;
    leaked_bytes += LEAK_BLOCK;
}

NOINLINE static void handle_request(void) {
    size_t n = between(512, 2048);
    unsigned char *buf = malloc(n);
    if (!buf) abort();
    memset(buf, (int)(n & 0xff), n);
    sink += buf[n / 2];
    free(buf);
}

NOINLINE static void parse_message(void) {
    char *tok[4];
    for (int i = 0; i < 4; i++) {
        size_t n = between(16, 256);
        tok[i] = malloc(n);
        if (!tok[i]) abort();
        memset(tok[i], 'a' + i, n);
    }
    for (int i = 0; i < 4; i++) {
        sink += (unsigned char)tok[i][0];
        free(tok[i]);
    }
}

NOINLINE static void cache_put(size_t slot) {
    size_t n = between(1024, 4096);
    free(cache[slot]);
    cache[slot] = malloc(n);
    if (!cache[slot]) abort();
    memset(cache[slot], 0x11, n);
}

int main(int argc, char **argv) {
    long limit_s = argc > 1 ? atol(argv[1]) : 0;
    for (size_t i = 0; i < CACHE_SLOTS; i++) cache_put(i); /* full from the start */
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (uint64_t tick = 1;; tick++) {
        handle_request();
        parse_message();
        if (tick % 10 == 0) {
            cache_put(next_rand() % CACHE_SLOTS);
            leak_slowly();
        }
        if (tick % 6000 == 0) {
            printf("t=%llus leaked_bytes=%llu\n", (unsigned long long)(tick / 100),
                   (unsigned long long)leaked_bytes);
            fflush(stdout);
        }
        if (limit_s > 0 && tick >= (uint64_t)limit_s * 100) break;
        next.tv_nsec += 10000000;
        if (next.tv_nsec >= 1000000000) {
            next.tv_nsec -= 1000000000;
            next.tv_sec++;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    printf("leaked_bytes=%llu\n", (unsigned long long)leaked_bytes);
    return 0;
}
