/*
 * A library whose constructor registers fork handlers that allocate and free. It is a
 * dependency of sites_fork_handlers.c, so its constructor runs before the shim's: its
 * prepare handler runs after the shim's, and its parent and child handlers before the
 * shim's, while the shim holds its sampler's locks.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void churn(void) {
    for (int i = 0; i < 64; i++) {
        char *p = malloc(1 << 16);
        memset(p, 0, 16);
        __asm__ volatile("" : : "r"(p) : "memory");
        free(p);
    }
}

__attribute__((constructor)) static void early_init(void) {
    pthread_atfork(churn, churn, churn);
}

/* Referenced by the program so that the linker keeps this library. */
void fork_handlers_linked(void) {}
