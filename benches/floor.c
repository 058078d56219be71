/* The physical floor of sampling: read /proc/PID/status every interval, nothing else.
 * Used by benches/vs_psrecord.py as the third contender.
 * usage: floor PID INTERVAL_MS SECONDS */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%s/status", argv[1]);
    long ms = atol(argv[2]);
    long n = atol(argv[3]) * 1000 / ms;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (long i = 0; i < n; i++) {
        int fd = open(path, O_RDONLY);
        if (fd < 0) return 1;
        if (read(fd, buf, sizeof buf) < 0) return 1;
        close(fd);
        next.tv_nsec += ms * 1000000L;
        while (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    return 0;
}
