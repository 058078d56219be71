/* Three allocation paths for the heap shim's sampled allocation sites
 * (tests/sites_shim.rs): leak_here keeps every block, churn_here frees each at once,
 * cache_here keeps a bounded ring per thread. A second thread does half the work; one
 * fork()'s child runs churn only. Prints the address of main (the load bias, against
 * `nm`), the child's pid, and the true usable bytes leaked and cached.
 * usage: sites_paths [BATCHES]   (10 ms apart: 300 run ~3 s) */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define RING 2048
#define LEAK_CAP (1 << 20)

static void *leaked[LEAK_CAP];
static size_t n_leaked, leaked_usable;
static int batches = 300;

struct state {
    uint64_t rng;
    void *ring[RING];
    size_t next;
};

static size_t size_of(struct state *s) {
    uint64_t x = s->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s->rng = x;
    return 32 + (size_t)(x % 4000);
}

__attribute__((noinline, noclone)) void leak_here(struct state *s) {
    size_t n = size_of(s);
    char *p = malloc(n);
    if (!p) abort();
    memset(p, 1, n);
    size_t i = __atomic_fetch_add(&n_leaked, 1, __ATOMIC_RELAXED);
    if (i < LEAK_CAP) leaked[i] = p;
    __atomic_fetch_add(&leaked_usable, malloc_usable_size(p), __ATOMIC_RELAXED);
}

__attribute__((noinline, noclone)) void churn_here(struct state *s) {
    volatile char *p = malloc(size_of(s));
    if (!p) abort();
    p[0] = 1;
    free((void *)p);
}

__attribute__((noinline, noclone)) void cache_here(struct state *s) {
    free(s->ring[s->next]);
    s->ring[s->next] = malloc(size_of(s));
    if (!s->ring[s->next]) abort();
    s->next = (s->next + 1) % RING;
}

__attribute__((noinline, noclone)) void work(struct state *s, int leak, int cache) {
    for (int i = 0; i < leak; i++) leak_here(s);
    for (int i = 0; i < 256; i++) churn_here(s);
    for (int i = 0; i < cache; i++) cache_here(s);
}

static size_t ring_usable(struct state *s) {
    size_t t = 0;
    for (int i = 0; i < RING; i++)
        if (s->ring[i]) t += malloc_usable_size(s->ring[i]);
    return t;
}

static struct state worker_state = {.rng = 0x9e3779b97f4a7c15ULL};

__attribute__((noinline, noclone)) void *worker(void *arg) {
    (void)arg;
    for (int b = 0; b < batches; b++) {
        work(&worker_state, 32, 64);
        usleep(10000);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1) batches = atoi(argv[1]);
    static struct state main_state = {.rng = 0x2545f4914f6cdd1dULL};
    printf("main %p\n", (void *)main);
    fflush(stdout);
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL)) return 2;
    pid_t child = -1;
    for (int b = 0; b < batches; b++) {
        work(&main_state, 32, 64);
        if (b == batches / 3) {
            child = fork();
            if (child == 0) {
                for (int k = 0; k < 100; k++) {
                    for (int i = 0; i < 256; i++) churn_here(&main_state);
                    usleep(10000);
                }
                _exit(0);
            }
            printf("child %d\n", (int)child);
            fflush(stdout);
        }
        usleep(10000);
    }
    pthread_join(t, NULL);
    int status = 0;
    if (child > 0) waitpid(child, &status, 0);
    printf("leaked_usable %zu\nleaked_blocks %zu\ncache_usable %zu\n", leaked_usable, n_leaked,
           ring_usable(&main_state) + ring_usable(&worker_state));
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 3;
}
