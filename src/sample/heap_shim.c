/*
 * soak's heap shim: loaded into a target with LD_PRELOAD, it counts the bytes and
 * blocks the program has allocated through malloc and not freed, and publishes them in
 * a small file in shared memory that soak's sampler reads each tick
 * (src/sample/heap.rs reads the same layout).
 *
 * Rules it keeps:
 * - It never allocates: the real allocator is glibc's __libc_* entry points (no dlsym,
 *   which may itself allocate), and the segment is made with open/ftruncate/mmap.
 * - Threads: each thread counts in its own slot (a cache line of the segment) with
 *   plain stores; the sampler sums the slots. An exiting thread's figures move to the
 *   segment's base. Past 256 live threads the rest share the base (atomic adds).
 * - fork: the child gets its own segment (named by its pid), starting from the parent's
 *   figures at the fork, since its heap is a copy of the parent's; the sampler sums the
 *   tree. exec: the new image starts a fresh segment (the constructor truncates it).
 * - Sizes are malloc_usable_size's, so free subtracts exactly what malloc added.
 * Without SOAK_HEAP_DIR in the environment it only counts, publishing nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

/* The published layout: a 64-byte header, then one 64-byte slot per thread (its own
 * cache line: threads never contend). Keep in sync with heap.rs. */
#define SLOTS 256

struct slot {
    uint32_t owner; /* 0 = free */
    uint32_t pad;
    int64_t bytes;  /* this thread's net bytes (may be negative: it frees others' blocks) */
    int64_t blocks;
    uint64_t reserved[5];
};

struct segment {
    uint64_t magic;      /* "SOAKHEAP" */
    uint32_t version;    /* 2 */
    uint32_t pid;
    uint64_t created_ns; /* CLOCK_BOOTTIME when this image/process began publishing */
    int64_t base_bytes;  /* figures of exited threads and of the image before this segment */
    int64_t base_blocks;
    uint32_t slots_used; /* slots [0, slots_used) may hold figures */
    uint32_t pad;
    uint64_t reserved[2];
    struct slot slot[SLOTS];
};

#define MAGIC 0x5041454b48414f53ULL /* "SOAKHEAP" read as little-endian */

static struct segment local; /* counts before (or without) the shared segment */
static struct segment *seg = &local;
/* Bumped whenever `seg` changes (publish, fork): a thread's slot from an older epoch
 * belongs to a segment it must no longer write. */
static unsigned epoch = 1;
static pthread_key_t key;
static int key_ready;

struct me {
    struct slot *slot;
    unsigned epoch;
    int retired; /* the thread is exiting: its slot is gone, count in the base */
};
static __thread struct me me __attribute__((tls_model("initial-exec")));

static void thread_exit(void *unused);

static struct slot *claim(void) {
    if (me.retired) return NULL;
    struct segment *s = seg;
    for (uint32_t i = 0; i < SLOTS; i++) {
        uint32_t free_ = 0;
        if (__atomic_compare_exchange_n(&s->slot[i].owner, &free_, 1, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            uint32_t used = __atomic_load_n(&s->slots_used, __ATOMIC_RELAXED);
            while (used < i + 1 &&
                   !__atomic_compare_exchange_n(&s->slots_used, &used, i + 1, 0,
                                                __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
            }
            me.slot = &s->slot[i];
            me.epoch = __atomic_load_n(&epoch, __ATOMIC_ACQUIRE);
            /* Without a value the key's destructor would not run at thread exit.
             * (glibc keeps the first 32 keys' values in the thread: no allocation.) */
            if (key_ready) pthread_setspecific(key, (void *)1);
            return me.slot;
        }
    }
    return NULL; /* more threads than slots: the rest count in the shared base */
}

static inline void add(int64_t bytes, int64_t blocks) {
    struct slot *s = me.slot;
    if (__builtin_expect(!s || me.epoch != __atomic_load_n(&epoch, __ATOMIC_RELAXED), 0)) {
        s = claim();
        if (!s) {
            __atomic_fetch_add(&seg->base_bytes, bytes, __ATOMIC_RELAXED);
            __atomic_fetch_add(&seg->base_blocks, blocks, __ATOMIC_RELAXED);
            return;
        }
    }
    /* One writer per slot: plain (but untorn) stores, no locked instruction. */
    __atomic_store_n(&s->bytes, s->bytes + bytes, __ATOMIC_RELAXED);
    __atomic_store_n(&s->blocks, s->blocks + blocks, __ATOMIC_RELAXED);
}

/* A thread's figures move to the base when it exits, and its slot is freed for reuse. */
static void thread_exit(void *unused) {
    (void)unused;
    struct slot *s = me.slot;
    if (s && me.epoch == __atomic_load_n(&epoch, __ATOMIC_RELAXED)) {
        __atomic_fetch_add(&seg->base_bytes, s->bytes, __ATOMIC_RELAXED);
        __atomic_fetch_add(&seg->base_blocks, s->blocks, __ATOMIC_RELAXED);
        __atomic_store_n(&s->bytes, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&s->blocks, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&s->owner, 0, __ATOMIC_RELEASE);
    }
    me.slot = NULL;
    me.retired = 1;
}

static inline void counted(void *p) {
    if (p) add((int64_t)malloc_usable_size(p), 1);
}

static inline void uncounted(void *p) {
    if (p) add(-(int64_t)malloc_usable_size(p), -1);
}

/* The whole segment's figures. */
static void totals(const struct segment *s, int64_t *bytes, int64_t *blocks) {
    int64_t b = __atomic_load_n(&s->base_bytes, __ATOMIC_RELAXED);
    int64_t k = __atomic_load_n(&s->base_blocks, __ATOMIC_RELAXED);
    uint32_t used = __atomic_load_n(&s->slots_used, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < used && i < SLOTS; i++) {
        b += __atomic_load_n(&s->slot[i].bytes, __ATOMIC_RELAXED);
        k += __atomic_load_n(&s->slot[i].blocks, __ATOMIC_RELAXED);
    }
    *bytes = b;
    *blocks = k;
}

/* Writes DIR/PID (no allocation, no stdio). */
static int segment_path(char *buf, size_t cap, const char *dir, pid_t pid) {
    size_t n = strlen(dir);
    char digits[16];
    int d = 0;
    unsigned v = (unsigned)pid;
    do { digits[d++] = (char)('0' + v % 10); v /= 10; } while (v && d < 15);
    if (n + 1 + (size_t)d + 1 > cap) return -1;
    memcpy(buf, dir, n);
    buf[n++] = '/';
    while (d) buf[n++] = digits[--d];
    buf[n] = 0;
    return 0;
}

/* Maps a fresh segment for this process whose base holds `bytes`/`blocks`. */
static void publish(int64_t bytes, int64_t blocks) {
    const char *dir = getenv("SOAK_HEAP_DIR");
    char path[4096];
    if (!dir || !*dir) return;
    pid_t pid = getpid();
    if (segment_path(path, sizeof path, dir, pid) < 0) return;
    int saved = errno;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) { errno = saved; return; }
    if (ftruncate(fd, sizeof(struct segment)) < 0) { close(fd); errno = saved; return; }
    void *m = mmap(NULL, sizeof(struct segment), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    errno = saved;
    if (m == MAP_FAILED) return;
    struct segment *s = m;
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    s->base_bytes = bytes;
    s->base_blocks = blocks;
    s->pid = (uint32_t)pid;
    s->created_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
    s->version = 2;
    /* The magic goes last: a reader never sees a half-made segment as valid. */
    __atomic_store_n(&s->magic, MAGIC, __ATOMIC_RELEASE);
    seg = s;
    __atomic_fetch_add(&epoch, 1, __ATOMIC_RELEASE);
}

/* The parent's figures at the fork, taken before it: the parent's segment is shared
 * memory that the parent goes on changing while the child starts. */
static int64_t fork_bytes, fork_blocks;

static void before_fork(void) {
    totals(seg, &fork_bytes, &fork_blocks);
}

static void after_fork_in_child(void) {
    struct segment *parent = seg;
    /* Only this thread lives on in the child; the heap it sees is the parent's copy. */
    memset(&local, 0, sizeof local);
    local.base_bytes = fork_bytes;
    local.base_blocks = fork_blocks;
    seg = &local;
    __atomic_fetch_add(&epoch, 1, __ATOMIC_RELEASE);
    me.slot = NULL;
    publish(fork_bytes, fork_blocks);
    if (parent != &local && seg != parent) munmap(parent, sizeof(struct segment));
}

__attribute__((constructor)) static void soak_heap_init(void) {
    if (pthread_key_create(&key, thread_exit) == 0) key_ready = 1;
    int64_t bytes, blocks;
    totals(&local, &bytes, &blocks);
    publish(bytes, blocks);
    pthread_atfork(before_fork, NULL, after_fork_in_child);
}

void *malloc(size_t n) {
    void *p = __libc_malloc(n);
    counted(p);
    return p;
}

void *calloc(size_t n, size_t size) {
    void *p = __libc_calloc(n, size);
    counted(p);
    return p;
}

void *realloc(void *old, size_t n) {
    size_t before = old ? malloc_usable_size(old) : 0;
    void *p = __libc_realloc(old, n);
    if (p) {
        add((int64_t)malloc_usable_size(p) - (int64_t)before, old ? 0 : 1);
    } else if (old && n == 0) {
        /* realloc(p, 0) freed p. */
        add(-(int64_t)before, -1);
    }
    return p;
}

void *reallocarray(void *old, size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) { errno = ENOMEM; return NULL; }
    return realloc(old, total);
}

void free(void *p) {
    uncounted(p);
    __libc_free(p);
}

void *memalign(size_t align, size_t n) {
    void *p = __libc_memalign(align, n);
    counted(p);
    return p;
}

void *aligned_alloc(size_t align, size_t n) {
    void *p = __libc_memalign(align, n);
    counted(p);
    return p;
}

int posix_memalign(void **out, size_t align, size_t n) {
    if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
    void *p = __libc_memalign(align, n);
    if (!p) return ENOMEM;
    counted(p);
    *out = p;
    return 0;
}

void *valloc(size_t n) {
    void *p = __libc_valloc(n);
    counted(p);
    return p;
}

void *pvalloc(size_t n) {
    void *p = __libc_pvalloc(n);
    counted(p);
    return p;
}
