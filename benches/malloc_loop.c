/* A malloc-heavy loop for benches/heap_shim_cost.rs: N allocate/free pairs of 16 B to
 * 4 KiB blocks, 1024 live at a time, on T threads; prints the loop's own wall time in
 * nanoseconds (so process start-up and the shim's constructor are not in the figure).
 * usage: malloc_loop N [T] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long n_ops;

static void *churn(void *arg) {
    (void)arg;
    static const size_t sizes[] = {16, 64, 256, 1024, 4096};
    void *live[1024];
    int k = 0;
    for (long i = 0; i < n_ops; i++) {
        live[k] = malloc(sizes[i % 5]);
        if (!live[k]) abort();
        *(volatile char *)live[k] = 1;
        if (++k == 1024) {
            for (int j = 0; j < 1024; j++) free(live[j]);
            k = 0;
        }
    }
    for (int j = 0; j < k; j++) free(live[j]);
    return NULL;
}

int main(int argc, char **argv) {
    n_ops = argc > 1 ? atol(argv[1]) : 10000000;
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    pthread_t t[64];
    if (threads > 64) threads = 64;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, churn, NULL);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%lld\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
    return 0;
}
