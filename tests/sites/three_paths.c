/*
 * A C target for soak's allocation-site tests: three allocation paths, of which one
 * leaks. leak_here keeps every block; churn_here frees each at once; cache_here keeps a
 * bounded ring. A second thread churns and fills the cache too, and a forked child
 * leaks through child_leak_here, so the sites of a thread and of a fork are seen.
 * Runs until killed (or for argv[1] seconds).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RING 256
static void *ring[RING];
static unsigned next_slot;
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;

static void pause_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

__attribute__((noinline)) void *leak_here(size_t n) {
    void *p = malloc(n);
    memset(p, 0xa5, n);
    return p; /* kept forever by the caller */
}

__attribute__((noinline)) void churn_here(size_t n) {
    char *p = malloc(n);
    memset(p, 1, n);
    __asm__ volatile("" : : "r"(p) : "memory");
    free(p);
}

__attribute__((noinline)) void cache_here(size_t n) {
    void *p = malloc(n);
    memset(p, 2, n);
    pthread_mutex_lock(&ring_lock);
    free(ring[next_slot % RING]);
    ring[next_slot++ % RING] = p;
    pthread_mutex_unlock(&ring_lock);
}

__attribute__((noinline)) void *child_leak_here(size_t n) {
    void *p = malloc(n);
    memset(p, 3, n);
    return p;
}

static void *worker(void *arg) {
    (void)arg;
    for (;;) {
        for (int i = 0; i < 20; i++) churn_here(8192);
        cache_here(4096);
        pause_ms(10);
    }
    return NULL;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 0;
    pid_t child = fork();
    if (child == 0) {
        for (;;) {
            void *volatile keep = child_leak_here(4096);
            (void)keep;
            for (int i = 0; i < 10; i++) churn_here(8192);
            pause_ms(20);
        }
    }
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        void *volatile keep = leak_here(4096);
        (void)keep;
        for (int i = 0; i < 20; i++) churn_here(8192);
        cache_here(4096);
        pause_ms(10);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (seconds > 0 && now.tv_sec - start.tv_sec >= seconds) break;
    }
    return 0;
}
