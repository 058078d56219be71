/* The container workload of soak's tests, built with `cc -static` into a FROM scratch
 * image (no registry here: the tests build the image locally).
 *
 *   workload steady MB      hold MB of touched memory, do nothing else
 *   workload leak MB_PER_S  allocate and touch MB_PER_S every second, in 10 steps
 *   workload exit CODE S    exit with CODE after S seconds
 *
 * Without arguments the mode and figure come from the environment (MODE, MB), which is
 * how the tests check --env. SIGTERM ends it at once with code 0, as a service would.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
/* Every block is published here, so the compiler cannot elide an allocation. */
static void *volatile sink;

static void on_term(int sig) { (void)sig; stop = 1; }

static void nap_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static void *touched(size_t bytes) {
    char *p = malloc(bytes);
    if (p) memset(p, 0x5a, bytes);
    sink = p;
    return p;
}

int main(int argc, char **argv) {
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    const char *mode = argc > 1 ? argv[1] : getenv("MODE");
    const char *fig = argc > 2 ? argv[2] : getenv("MB");
    if (!mode) mode = "steady";
    double mb = fig ? atof(fig) : 10.0;
    if (strcmp(mode, "exit") == 0) {
        int secs = argc > 3 ? atoi(argv[3]) : 2;
        for (int i = 0; i < secs * 10 && !stop; i++) nap_ms(100);
        return (int)mb;
    }
    if (strcmp(mode, "steady") == 0) {
        void *keep = touched((size_t)(mb * 1e6));
        while (!stop) nap_ms(50);
        free(keep);
        return 0;
    }
    if (strcmp(mode, "leak") == 0) {
        size_t step = (size_t)(mb * 1e6 / 10);
        while (!stop) {
            /* Never freed: a leak of live objects. */
            if (!touched(step)) return 3;
            nap_ms(100);
        }
        return 0;
    }
    return 2;
}
