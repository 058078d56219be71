/* Forks 200 times with sites on; a library's fork handlers allocate (see
 * sites_fork_handlers_lib.c). Prints "forked 200" when no fork hung. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

void fork_handlers_linked(void);

int main(void) {
    fork_handlers_linked();
    int n = 0;
    for (int i = 0; i < 200; i++) {
        pid_t c = fork();
        if (c == 0) _exit(0);
        if (c > 0 && waitpid(c, NULL, 0) == c) n++;
    }
    printf("forked %d\n", n);
    return 0;
}
