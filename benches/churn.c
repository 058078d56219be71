/* Machine churn: fork a short-lived child every PERIOD_MS (default 50) until killed.
 * Each child exits after 5 ms; the parent reaps it. None of them is related to what soak
 * watches: they only make "a process was created somewhere" true at every tick, which is
 * what a CI runner or a shared box looks like to a sampler.
 * usage: churn [PERIOD_MS] */
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long ms = argc > 1 ? atol(argv[1]) : 50;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        pid_t c = fork();
        if (c == 0) {
            struct timespec t = {0, 5000000L};
            nanosleep(&t, NULL);
            _exit(0);
        }
        if (c > 0) waitpid(c, NULL, 0);
        next.tv_nsec += ms * 1000000L;
        while (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
}
