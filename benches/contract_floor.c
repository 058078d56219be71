/* The floor of soak's contract: the least a sampler must do per tick to write soak's
 * timeline row for one process (DESIGN.md), as a plain C loop — no runtime, no parsing
 * beyond what the row needs. Per tick, on files opened once:
 *   pread /proc/PID/stat      (CPU seconds, state and start time: zombies, pid reuse)
 *   pread /proc/PID/status    (RSS and its anon/file/shmem parts, swap, VmSize, threads)
 *   pread /proc/PID/task/PID/children  (who joined the tree: the processes column)
 *   fstat /proc/PID/fd        (the descriptor count, st_size)
 *   write one CSV row         (every row reaches the kernel as it is taken)
 * and it sleeps to an absolute deadline with clock_nanosleep. soak's tick does the same
 * plus its wake-up through the runtime (epoll_wait and the timerfd's read, which re-arms
 * it). benches/perf_goals.py runs this beside soak and floor.c, so the ratio
 * contract_floor / floor is the part of goal (a) no sampler keeping soak's contract can
 * remove. usage: contract_floor PID INTERVAL_MS SECONDS OUTFILE */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static unsigned long long field(const char *buf, const char *key) {
    const char *p = strstr(buf, key);
    return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

int main(int argc, char **argv) {
    if (argc < 5) return 2;
    char path[96];
    snprintf(path, sizeof path, "/proc/%s/stat", argv[1]);
    int fstat_fd = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "/proc/%s/status", argv[1]);
    int fstatus = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "/proc/%s/task/%s/children", argv[1], argv[1]);
    int fchildren = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "/proc/%s/fd", argv[1]);
    int ffd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int out = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fstat_fd < 0 || fstatus < 0 || fchildren < 0 || ffd < 0 || out < 0) return 1;
    long ticks_per_s = sysconf(_SC_CLK_TCK);
    long ms = atol(argv[2]);
    long n = atol(argv[3]) * 1000 / ms;
    char stat_buf[1024], status_buf[4096], children_buf[256], row[256];
    struct timespec start, next;
    clock_gettime(CLOCK_MONOTONIC, &start);
    next = start;
    for (long i = 0; i < n; i++) {
        ssize_t a = pread(fstat_fd, stat_buf, sizeof stat_buf - 1, 0);
        ssize_t b = pread(fstatus, status_buf, sizeof status_buf - 1, 0);
        ssize_t c = pread(fchildren, children_buf, sizeof children_buf - 1, 0);
        struct stat st;
        if (a <= 0 || b <= 0 || c < 0 || fstat(ffd, &st) < 0) break;
        stat_buf[a] = status_buf[b] = 0;
        /* utime and stime: fields 14 and 15, counted after the ')' that ends the name. */
        const char *p = strrchr(stat_buf, ')');
        unsigned long long f[16] = {0};
        for (int k = 3; p && k <= 15; k++) {
            p = strchr(p + 1, ' ');
            if (p) f[k] = strtoull(p + 1, NULL, 10);
        }
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int len = snprintf(row, sizeof row, "%lld.%03ld,%.6f,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%lld,1,%.2f\n",
                           (long long)now.tv_sec, now.tv_nsec / 1000000, (double)i * ms / 1000.0,
                           field(status_buf, "VmRSS:") * 1024, field(status_buf, "RssAnon:") * 1024,
                           field(status_buf, "RssFile:") * 1024, field(status_buf, "RssShmem:") * 1024,
                           field(status_buf, "VmSwap:") * 1024, field(status_buf, "VmSize:") * 1024,
                           field(status_buf, "Threads:"), (long long)st.st_size,
                           (double)(f[14] + f[15]) / (double)ticks_per_s);
        if (write(out, row, (size_t)len) != len) return 1;
        next.tv_nsec += ms * 1000000L;
        while (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    return 0;
}
