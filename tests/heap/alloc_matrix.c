/* Holds a known amount of live heap, allocated through every malloc-family entry point
 * (and jemalloc's mallocx/rallocx/sdallocx when built with -DWITH_JEMALLOC_API), then
 * frees it all and exits 0. tests/real_programs.rs links it to glibc, tcmalloc, mimalloc
 * and jemalloc to check that soak's heap shim harms none of them and counts each. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef WITH_JEMALLOC_API
#include <jemalloc/jemalloc.h>
#endif
#define N 4096
int main(int argc, char **argv) {
    int secs = argc > 1 ? atoi(argv[1]) : 3;
    static void *b[N];
    size_t total = 0;
    for (int i = 0; i < N; i++) {
        size_t n = 1000 + (size_t)(i % 7) * 3000;
        switch (i % 6) {
        case 0: b[i] = malloc(n); break;
        case 1: b[i] = calloc(1, n); break;
        case 2: b[i] = realloc(malloc(10), n); break;
        case 3: if (posix_memalign(&b[i], 64, n)) b[i] = NULL; break;
        case 4: b[i] = aligned_alloc(256, n); break;
#ifdef WITH_JEMALLOC_API
        case 5: b[i] = mallocx(n, 0); b[i] = rallocx(b[i], n + 100, 0); break;
#else
        case 5: b[i] = memalign(128, n); break;
#endif
        }
        if (!b[i]) { fprintf(stderr, "allocation failed\n"); return 3; }
        memset(b[i], 1, n);
        total += n;
    }
    printf("live %zu\n", total);
    fflush(stdout);
    sleep(secs);
    for (int i = 0; i < N; i++) {
#ifdef WITH_JEMALLOC_API
        if (i % 6 == 5) { sdallocx(b[i], 1000 + (size_t)(i % 7) * 3000 + 100, 0); continue; }
#endif
        free(b[i]);
    }
    puts("done");
    return 0;
}
