/* The physical floor of sampling: read /proc/PID/status of each given pid every interval
 * (open + read + close, as a plain C loop would), sleeping to an absolute deadline,
 * nothing else. The contender soak is measured against in benches/perf_goals.py.
 * usage: floor PID INTERVAL_MS SECONDS [PID...]
 * Prints nothing; a pid that is gone is skipped. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    int npids = 1 + (argc - 4);
    char (*paths)[64] = malloc(sizeof *paths * (size_t)npids);
    char buf[4096];
    if (!paths) return 1;
    snprintf(paths[0], sizeof paths[0], "/proc/%s/status", argv[1]);
    for (int i = 4; i < argc; i++) snprintf(paths[i - 3], sizeof paths[0], "/proc/%s/status", argv[i]);
    long ms = atol(argv[2]);
    long n = atol(argv[3]) * 1000 / ms;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (long i = 0; i < n; i++) {
        for (int p = 0; p < npids; p++) {
            int fd = open(paths[p], O_RDONLY);
            if (fd < 0) continue;
            if (read(fd, buf, sizeof buf) < 0) { close(fd); continue; }
            close(fd);
        }
        next.tv_nsec += ms * 1000000L;
        while (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    return 0;
}
