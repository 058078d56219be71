/* Runs a command and writes its CPU time and peak RSS to a file, from wait4:
 * "USER_S SYS_S MAXRSS_KB". A small C parent, so the peak RSS is the command's own: the
 * kernel counts the pre-exec image of the forked child too, which for a child forked
 * by Python would be Python's RSS. GNU time does the same but prints CPU in 10 ms steps.
 * usage: rusage OUTFILE CMD [ARGS...] */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    pid_t c = fork();
    if (c < 0) return 1;
    if (c == 0) {
        execvp(argv[2], argv + 2);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(c, &status, 0, &ru) < 0) return 1;
    FILE *f = fopen(argv[1], "w");
    if (!f) return 1;
    fprintf(f, "%ld.%06ld %ld.%06ld %ld\n", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
            (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec, ru.ru_maxrss);
    fclose(f);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
