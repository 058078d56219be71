/* For soak's allocation-site tests: `exec_static grow STATIC_COPY` allocates 40 MB through
 * grow_before_exec, then execs a statically linked copy of itself (`... sleep`), which
 * cannot load the heap shim: the sites of the image before the exec must not be reported
 * as the process's. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((noinline)) void *grow_before_exec(size_t n) {
    void *p = malloc(n);
    memset(p, 1, n);
    return p;
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "grow") == 0) {
        /* 40 MB over 4 s: growth after the test's 1 s warm-up. */
        for (int i = 0; i < 40; i++) {
            void *volatile keep = grow_before_exec(1 << 20);
            (void)keep;
            usleep(100000);
        }
        char *args[] = {argv[2], "sleep", NULL};
        execv(argv[2], args);
        return 127;
    }
    sleep(60);
    return 0;
}
