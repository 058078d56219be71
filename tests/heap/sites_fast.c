/* A thread that allocates as fast as it can, for the shim's sampling-rate cap
 * (tests/sites_shim.rs): rounds of 1000 malloc/free pairs (16 B-4 KiB) and one 64 KiB
 * block kept through keep_here, until 200 MiB are kept. Prints the usable bytes kept.
 * usage: sites_fast */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline, noclone)) void *keep_here(size_t n) { return malloc(n); }

int main(void) {
    static const size_t sizes[] = {16, 64, 256, 1024, 4096};
    size_t kept = 0;
    void **keep = calloc(4096, sizeof *keep);
    for (int r = 0; r < 3200; r++) {
        for (int i = 0; i < 1000; i++) {
            void *p = malloc(sizes[i % 5]);
            *(volatile char *)p = 1;
            free(p);
        }
        keep[r] = keep_here(64 * 1024);
        kept += malloc_usable_size(keep[r]);
    }
    printf("kept_usable %zu\n", kept);
    return 0;
}
