/* Targets for soak's heap tests (built by the tests with cc, dynamic and -static).
 *
 *   heap_target hold MIB          malloc MIB blocks of exactly 1 MiB, touch them, wait
 *   heap_target leak MIB_PER_S    malloc and touch MIB_PER_S MiB a second, never free
 *   heap_target retain MIB_PER_S  every 100 ms malloc a growing set of small blocks,
 *                                 touch them and free them all: the live heap returns
 *                                 to ~0 each time while RSS ratchets up (the allocator
 *                                 keeps what it was given: trimming is turned off)
 *   heap_target fork N MIB        fork N children; each (and the parent) then holds MIB
 *                                 MiB in 1 MiB blocks
 *   heap_target mmap MIB          hold MIB of touched memory from mmap, not malloc (what
 *                                 Go or a private allocator does)
 *   heap_target threads           8 threads each allocate 5 blocks of 1 MiB and exit; 300
 *                                 short-lived threads (more than the shim's 256 slots,
 *                                 one at a time) each keep 100 KiB; then the main thread
 *                                 frees 20 of the 1 MiB blocks: 20 MiB + 300 x 100 KiB
 *                                 stay live
 * It waits for SIGTERM (exit 0) in every mode.
 */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void *volatile sink;

static void on_term(int sig) { (void)sig; stop = 1; }

static void nap_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static void hold_mib(long mib) {
    for (long i = 0; i < mib; i++) {
        char *p = malloc(1 << 20);
        if (!p) exit(3);
        memset(p, 0x5a, 1 << 20);
        sink = p;
    }
}

static void *volatile big[40];
static void *volatile small[300];

static void *five_mib(void *arg) {
    long t = (long)arg;
    for (int i = 0; i < 5; i++) {
        big[t * 5 + i] = malloc(1 << 20);
        memset((void *)big[t * 5 + i], 3, 1 << 20);
    }
    return NULL;
}

static void *hundred_kib(void *arg) {
    long t = (long)arg;
    small[t] = malloc(100 * 1024);
    memset((void *)small[t], 4, 100 * 1024);
    return NULL;
}

static void wait_for_term(void) {
    while (!stop) nap_ms(20);
}

int main(int argc, char **argv) {
    signal(SIGTERM, on_term);
    const char *mode = argc > 1 ? argv[1] : "hold";
    long a = argc > 2 ? atol(argv[2]) : 100;
    if (strcmp(mode, "hold") == 0) {
        hold_mib(a);
        wait_for_term();
    } else if (strcmp(mode, "leak") == 0) {
        while (!stop) {
            for (int i = 0; i < 10 && !stop; i++) {
                char *p = malloc((size_t)a * 104858);
                if (!p) return 3;
                memset(p, 1, (size_t)a * 104858);
                sink = p;
                nap_ms(100);
            }
        }
    } else if (strcmp(mode, "retain") == 0) {
        mallopt(M_TRIM_THRESHOLD, 1 << 30);
        mallopt(M_MMAP_THRESHOLD, 1 << 30);
        enum { N = 200000 };
        static void *blocks[N];
        long round = 0;
        while (!stop) {
            /* Each round needs a little more than the last (a MiB a second at a=1). */
            size_t total = (size_t)(round + 1) * (size_t)a * 104858;
            size_t each = 512, n = total / each;
            if (n > N) n = N, each = total / N;
            for (size_t i = 0; i < n; i++) {
                blocks[i] = malloc(each);
                if (!blocks[i]) return 3;
                memset(blocks[i], 2, each);
            }
            for (size_t i = 0; i < n; i++) free(blocks[i]);
            round++;
            nap_ms(100);
        }
    } else if (strcmp(mode, "fork") == 0) {
        long mib = argc > 3 ? atol(argv[3]) : 20;
        pid_t kids[64];
        if (a > 64) a = 64;
        for (long i = 0; i < a; i++) {
            pid_t c = kids[i] = fork();
            if (c == 0) {
                hold_mib(mib);
                wait_for_term();
                _exit(0);
            }
        }
        hold_mib(mib);
        wait_for_term();
        for (long i = 0; i < a; i++) kill(kids[i], SIGTERM);
        while (wait(NULL) > 0) {}
    } else if (strcmp(mode, "mmap") == 0) {
        size_t len = (size_t)a << 20;
        char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return 3;
        memset(p, 6, len);
        sink = p;
        wait_for_term();
    } else if (strcmp(mode, "threads") == 0) {
        pthread_t t[8];
        for (long i = 0; i < 8; i++) pthread_create(&t[i], NULL, five_mib, (void *)i);
        for (int i = 0; i < 8; i++) pthread_join(t[i], NULL);
        for (long i = 0; i < 300; i++) {
            pthread_t one;
            pthread_create(&one, NULL, hundred_kib, (void *)i);
            pthread_join(one, NULL);
        }
        for (int i = 0; i < 20; i++) free((void *)big[i]);
        wait_for_term();
    } else {
        return 2;
    }
    return 0;
}
