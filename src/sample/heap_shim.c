/*
 * soak's heap shim: loaded into a target with LD_PRELOAD, it counts the bytes and
 * blocks the program has allocated through malloc and not freed, and publishes them in
 * a small file in shared memory that soak's sampler reads each tick
 * (src/sample/heap.rs reads the same layout).
 *
 * Rules it keeps:
 * - It never changes which allocator serves a call: every entry point forwards to the
 *   next definition in symbol lookup order (dlsym(RTLD_NEXT)), the one the program
 *   would have called without the shim: glibc's, or jemalloc's, tcmalloc's or
 *   mimalloc's when the program links one. Sizes come from that allocator's own
 *   usable-size function, so free subtracts exactly what malloc added.
 * - Where counting is not safe (the allocator's malloc and malloc_usable_size come from
 *   different objects, or it has none), it only forwards, and says so in the segment.
 * - It never allocates: allocations made while it resolves the real functions (dlsym
 *   may allocate an error string) come from a small static arena that free ignores; the
 *   segment is made with open/ftruncate/mmap.
 * - Threads: each thread counts in its own slot (a cache line of the segment) with
 *   plain stores; the sampler sums the slots. An exiting thread's figures move to the
 *   segment's base. Past 256 live threads the rest share the base (atomic adds).
 * - fork: the child gets its own segment (named by its pid), starting from the parent's
 *   figures at the fork, since its heap is a copy of the parent's; the sampler sums the
 *   tree. exec: the new image starts a fresh segment (the constructor truncates it).
 * Without SOAK_HEAP_DIR in the environment it only counts, publishing nothing.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

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
    uint32_t version;    /* 3 */
    uint32_t pid;
    uint64_t created_ns; /* CLOCK_BOOTTIME when this image/process began publishing */
    int64_t base_bytes;  /* figures of exited threads and of the image before this segment */
    int64_t base_blocks;
    uint32_t slots_used; /* slots [0, slots_used) may hold figures */
    uint32_t flags;      /* FLAG_* */
    /* The image that published this: /proc/self/stat's startcode and endcode (0 when
     * unknown). After an exec into a program without the shim the segment is the fork's;
     * the reader tells by comparing these with the process's own. */
    uint64_t startcode, endcode;
    /* The object that serves malloc (its path's last part), NUL-terminated. */
    char allocator[64];
    struct slot slot[SLOTS];
};

/* The figures are counts (not set: the shim only forwards, heap_bytes is not known). */
#define FLAG_COUNTING 1u

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

/* ---- The real allocator: resolved once, without allocating. ---- */

typedef size_t (*size_fn)(void *);

static struct {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void *(*reallocarray)(void *, size_t, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    void (*free_sized)(void *, size_t);
    void (*free_aligned_sized)(void *, size_t, size_t);
    size_fn usable;
    /* jemalloc's extended API (the same pointers as malloc's when jemalloc serves it). */
    void *(*mallocx)(size_t, int);
    void *(*rallocx)(void *, size_t, int);
    size_t (*xallocx)(void *, size_t, size_t, int);
    size_t (*sallocx)(const void *, int);
    void (*dallocx)(void *, int);
    void (*sdallocx)(void *, size_t, int);
    /* tcmalloc's and mimalloc's own names, sized with their own functions. */
    void *(*tc_malloc)(size_t);
    void (*tc_free)(void *);
    void *(*tc_calloc)(size_t, size_t);
    void *(*tc_realloc)(void *, size_t);
    size_t (*tc_malloc_size)(void *);
    void *(*mi_malloc)(size_t);
    void *(*mi_zalloc)(size_t);
    void *(*mi_calloc)(size_t, size_t);
    void *(*mi_realloc)(void *, size_t);
    void (*mi_free)(void *);
    size_t (*mi_usable_size)(const void *);
    /* C++'s operator new and delete (x86_64/aarch64 mangling: size_t is 'm'). */
    void *(*new1)(size_t);
    void *(*new1_nothrow)(size_t, const void *);
    void *(*new1_al)(size_t, size_t);
    void *(*new1_al_nothrow)(size_t, size_t, const void *);
    void *(*newa)(size_t);
    void *(*newa_nothrow)(size_t, const void *);
    void *(*newa_al)(size_t, size_t);
    void *(*newa_al_nothrow)(size_t, size_t, const void *);
    void (*del1)(void *);
    void (*del1_sized)(void *, size_t);
    void (*del1_nothrow)(void *, const void *);
    void (*del1_al)(void *, size_t);
    void (*del1_sized_al)(void *, size_t, size_t);
    void (*del1_al_nothrow)(void *, size_t, const void *);
    void (*dela)(void *);
    void (*dela_sized)(void *, size_t);
    void (*dela_nothrow)(void *, const void *);
    void (*dela_al)(void *, size_t);
    void (*dela_sized_al)(void *, size_t, size_t);
    void (*dela_al_nothrow)(void *, size_t, const void *);
} real;

/* Whether operator new and delete are the allocator's own (tcmalloc and mimalloc define
 * them) and so must be counted here; libstdc++'s call malloc, which counts already. */
static int new_counts;

/* 0: not yet, 1: resolving (this thread), 2: done. */
static int resolved;
/* Whether counting is safe: malloc's own usable-size function is known. */
static int counting;
static char allocator_name[64] = "unknown";
/* Whether the allocator may call back into the shim from its size function (glibc's and
 * jemalloc's never do: the flag and its thread-local stores are skipped for them). */
static int reenters = 1;

/* Allocations made while dlsym runs (it may allocate an error string) come from here;
 * they are never counted and free ignores them. */
static char arena[64 * 1024] __attribute__((aligned(64)));
static size_t arena_used;

static int in_arena(const void *p) {
    return (const char *)p >= arena && (const char *)p < arena + sizeof arena;
}

__attribute__((noinline, cold)) static void *arena_alloc(size_t n, size_t align) {
    if (align < 16) align = 16;
    size_t used = __atomic_load_n(&arena_used, __ATOMIC_RELAXED);
    for (;;) {
        /* A size word before each block, so realloc can copy it out. */
        size_t start = (used + sizeof(size_t) + align - 1) & ~(align - 1);
        if (start + n > sizeof arena || start < used) return NULL;
        if (__atomic_compare_exchange_n(&arena_used, &used, start + n, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            memcpy(arena + start - sizeof(size_t), &n, sizeof n);
            return arena + start;
        }
    }
}

static size_t arena_size(const void *p) {
    size_t n;
    memcpy(&n, (const char *)p - sizeof(size_t), sizeof n);
    return n;
}

/* The last part of a path, into `out` (no allocation). */
static void basename_into(char *out, size_t cap, const char *path) {
    const char *b = path;
    for (const char *c = path; *c; c++)
        if (*c == '/') b = c + 1;
    size_t n = strlen(b);
    if (n >= cap) n = cap - 1;
    memcpy(out, b, n);
    out[n] = 0;
}

#define NEXT(name) (real.name = (__typeof__(real.name))dlsym(RTLD_NEXT, #name))

__attribute__((noinline, cold)) static void resolve(void) {
    int expected = 0;
    if (!__atomic_compare_exchange_n(&resolved, &expected, 1, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        /* Another thread resolves: wait for it (this thread is not inside dlsym). */
        while (__atomic_load_n(&resolved, __ATOMIC_ACQUIRE) != 2) sched_yield();
        return;
    }
    int saved = errno;
    NEXT(malloc);
    NEXT(free);
    NEXT(calloc);
    NEXT(realloc);
    NEXT(reallocarray);
    NEXT(posix_memalign);
    NEXT(aligned_alloc);
    NEXT(memalign);
    NEXT(valloc);
    NEXT(pvalloc);
    NEXT(free_sized);
    NEXT(free_aligned_sized);
    real.usable = (size_fn)dlsym(RTLD_NEXT, "malloc_usable_size");
    NEXT(mallocx);
    NEXT(rallocx);
    NEXT(xallocx);
    NEXT(sallocx);
    NEXT(dallocx);
    NEXT(sdallocx);
    NEXT(tc_malloc);
    NEXT(tc_free);
    NEXT(tc_calloc);
    NEXT(tc_realloc);
    NEXT(tc_malloc_size);
    NEXT(mi_malloc);
    NEXT(mi_zalloc);
    NEXT(mi_calloc);
    NEXT(mi_realloc);
    NEXT(mi_free);
    NEXT(mi_usable_size);
#define CXX(field, mangled) (real.field = (__typeof__(real.field))dlsym(RTLD_NEXT, mangled))
    CXX(new1, "_Znwm");
    CXX(new1_nothrow, "_ZnwmRKSt9nothrow_t");
    CXX(new1_al, "_ZnwmSt11align_val_t");
    CXX(new1_al_nothrow, "_ZnwmSt11align_val_tRKSt9nothrow_t");
    CXX(newa, "_Znam");
    CXX(newa_nothrow, "_ZnamRKSt9nothrow_t");
    CXX(newa_al, "_ZnamSt11align_val_t");
    CXX(newa_al_nothrow, "_ZnamSt11align_val_tRKSt9nothrow_t");
    CXX(del1, "_ZdlPv");
    CXX(del1_sized, "_ZdlPvm");
    CXX(del1_nothrow, "_ZdlPvRKSt9nothrow_t");
    CXX(del1_al, "_ZdlPvSt11align_val_t");
    CXX(del1_sized_al, "_ZdlPvmSt11align_val_t");
    CXX(del1_al_nothrow, "_ZdlPvSt11align_val_tRKSt9nothrow_t");
    CXX(dela, "_ZdaPv");
    CXX(dela_sized, "_ZdaPvm");
    CXX(dela_nothrow, "_ZdaPvRKSt9nothrow_t");
    CXX(dela_al, "_ZdaPvSt11align_val_t");
    CXX(dela_sized_al, "_ZdaPvmSt11align_val_t");
    CXX(dela_al_nothrow, "_ZdaPvSt11align_val_tRKSt9nothrow_t");
#undef CXX
    /* Counting is safe only when the usable-size function belongs to the object that
     * serves malloc and free: another allocator's would read foreign block headers. */
    Dl_info mi, ui, fi;
    int have = real.malloc && real.free && real.usable &&
               dladdr((void *)real.malloc, &mi) && dladdr((void *)real.usable, &ui) &&
               dladdr((void *)real.free, &fi) && mi.dli_fbase == ui.dli_fbase &&
               mi.dli_fbase == fi.dli_fbase;
    if (real.malloc && dladdr((void *)real.malloc, &mi) && mi.dli_fname)
        basename_into(allocator_name, sizeof allocator_name, mi.dli_fname);
    counting = have;
    reenters = !(strncmp(allocator_name, "libc.so", 7) == 0 ||
                 strncmp(allocator_name, "libjemalloc.so", 14) == 0);
    Dl_info ni;
    new_counts = have && real.new1 && dladdr((void *)real.new1, &ni) &&
                 ni.dli_fbase == mi.dli_fbase;
    errno = saved;
    __atomic_store_n(&resolved, 2, __ATOMIC_RELEASE);
}

/* Whether the real functions are usable now; 0 while this thread is resolving them. */
static __thread volatile int resolving_here __attribute__((tls_model("initial-exec")));

static inline int ready(void) {
    if (__builtin_expect(__atomic_load_n(&resolved, __ATOMIC_ACQUIRE) == 2, 1)) return 1;
    /* Re-entered from inside dlsym: the caller serves this call from the arena. */
    if (resolving_here) return 0;
    resolving_here = 1;
    resolve();
    resolving_here = 0;
    return 1;
}

/* Set while this thread is inside an allocator's size function: some (tcmalloc's)
 * allocate there through operator new, which must then only forward, not recurse. */
static __thread volatile int busy __attribute__((tls_model("initial-exec")));

static inline size_t sized(size_t (*size)(void *), void *p) {
    if (!reenters) return size(p);
    busy = 1;
    size_t n = size(p);
    busy = 0;
    return n;
}

/* Whether this call is counted: the allocator can be sized, and it is not a call that
 * an allocator makes from inside its own size function. */
static inline int counts(void) { return counting && (!reenters || !busy); }

static inline void counted_with(void *p, size_t (*size)(void *)) {
    if (p && counts()) add((int64_t)sized(size, p), 1);
}

static inline void uncounted_with(void *p, size_t (*size)(void *)) {
    if (p && counts()) add(-(int64_t)sized(size, p), -1);
}

static size_t mi_size(void *p) { return real.mi_usable_size(p); }
static size_t tc_size(void *p) { return real.tc_malloc_size(p); }
static size_t jx_size(void *p) { return real.sallocx(p, 0); }

static inline void counted(void *p) { counted_with(p, real.usable); }
static inline void uncounted(void *p) { uncounted_with(p, real.usable); }

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

/* startcode and endcode (fields 26 and 27 of /proc/self/stat), without allocating. */
static void own_image(uint64_t *start, uint64_t *end) {
    char buf[1024];
    *start = *end = 0;
    int saved = errno;
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) { errno = saved; return; }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    errno = saved;
    if (n <= 0) return;
    buf[n] = 0;
    /* Fields are counted after the last ')': the command name may hold anything. */
    char *p = NULL;
    for (char *c = buf; *c; c++)
        if (*c == ')') p = c + 1;
    if (!p) return;
    int field = 2;
    uint64_t v[2] = {0, 0};
    while (*p && field < 27) {
        while (*p == ' ') p++;
        field++;
        uint64_t x = 0;
        while (*p >= '0' && *p <= '9') x = x * 10 + (uint64_t)(*p++ - '0');
        while (*p && *p != ' ') p++;
        if (field == 26) v[0] = x;
        if (field == 27) v[1] = x;
    }
    *start = v[0];
    *end = v[1];
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
    s->version = 3;
    s->flags = counting ? FLAG_COUNTING : 0;
    own_image(&s->startcode, &s->endcode);
    memcpy(s->allocator, allocator_name, sizeof s->allocator);
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
    ready();
    if (pthread_key_create(&key, thread_exit) == 0) key_ready = 1;
    int64_t bytes, blocks;
    totals(&local, &bytes, &blocks);
    publish(bytes, blocks);
    pthread_atfork(before_fork, NULL, after_fork_in_child);
}

/* ---- The malloc family. Each forwards to the real function, then counts. ---- */

void *malloc(size_t n) {
    if (!ready()) return arena_alloc(n, 16);
    void *p = real.malloc(n);
    counted(p);
    return p;
}

void *calloc(size_t n, size_t size) {
    if (!ready()) {
        size_t total;
        if (__builtin_mul_overflow(n, size, &total)) return NULL;
        return arena_alloc(total, 16); /* static storage: already zero */
    }
    void *p = real.calloc(n, size);
    counted(p);
    return p;
}

void free(void *p) {
    if (!p || in_arena(p)) return;
    if (!ready()) return; /* cannot happen: only arena blocks exist before */
    uncounted(p);
    real.free(p);
}

void *realloc(void *old, size_t n) {
    if (!ready() || in_arena(old)) {
        /* An arena block moves to the real heap once the real allocator is known. */
        void *p = ready() ? malloc(n) : arena_alloc(n, 16);
        if (p && old) {
            size_t m = arena_size(old);
            memcpy(p, old, m < n ? m : n);
        }
        return p;
    }
    int c = counts();
    size_t before = (old && c) ? sized(real.usable, old) : 0;
    void *p = real.realloc(old, n);
    if (!c) return p;
    if (p) {
        add((int64_t)sized(real.usable, p) - (int64_t)before, old ? 0 : 1);
    } else if (old && n == 0) {
        /* realloc(p, 0) freed p (glibc); others return a minimal block instead. */
        add(-(int64_t)before, -1);
    }
    return p;
}

void *reallocarray(void *old, size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) { errno = ENOMEM; return NULL; }
    return realloc(old, total);
}

int posix_memalign(void **out, size_t align, size_t n) {
    if (!ready()) {
        void *p = arena_alloc(n, align);
        if (!p) return ENOMEM;
        *out = p;
        return 0;
    }
    if (!real.posix_memalign) return ENOMEM;
    int rc = real.posix_memalign(out, align, n);
    if (rc == 0) counted(*out);
    return rc;
}

void *aligned_alloc(size_t align, size_t n) {
    if (!ready()) return arena_alloc(n, align);
    if (!real.aligned_alloc) { errno = ENOMEM; return NULL; }
    void *p = real.aligned_alloc(align, n);
    counted(p);
    return p;
}

void *memalign(size_t align, size_t n) {
    if (!ready()) return arena_alloc(n, align);
    if (!real.memalign) { errno = ENOMEM; return NULL; }
    void *p = real.memalign(align, n);
    counted(p);
    return p;
}

void *valloc(size_t n) {
    if (!ready()) return arena_alloc(n, 4096);
    if (!real.valloc) { errno = ENOMEM; return NULL; }
    void *p = real.valloc(n);
    counted(p);
    return p;
}

void *pvalloc(size_t n) {
    if (!ready()) return arena_alloc((n + 4095) & ~(size_t)4095, 4096);
    if (!real.pvalloc) { errno = ENOMEM; return NULL; }
    void *p = real.pvalloc(n);
    counted(p);
    return p;
}

/* C23's sized frees: the program links them only where its allocator has them. */
void free_sized(void *p, size_t n) {
    if (!p || in_arena(p) || !ready()) return;
    uncounted(p);
    if (real.free_sized) real.free_sized(p, n); else real.free(p);
}

void free_aligned_sized(void *p, size_t align, size_t n) {
    if (!p || in_arena(p) || !ready()) return;
    uncounted(p);
    if (real.free_aligned_sized) real.free_aligned_sized(p, align, n); else real.free(p);
}

/* ---- jemalloc's extended API: same pointers as malloc's, sized by sallocx. A program
 * calls these only when it links jemalloc, so they exist whenever they are called. ---- */

static inline int jx(void) { return ready() && real.mallocx && real.sallocx; }

void *mallocx(size_t n, int flags) {
    if (!jx()) { errno = ENOMEM; return NULL; }
    void *p = real.mallocx(n, flags);
    counted_with(p, jx_size);
    return p;
}

void *rallocx(void *old, size_t n, int flags) {
    if (!jx() || !real.rallocx) return NULL;
    int c = counts();
    size_t before = c ? sized(jx_size, old) : 0;
    void *p = real.rallocx(old, n, flags);
    if (p && c) add((int64_t)sized(jx_size, p) - (int64_t)before, 0);
    return p;
}

size_t xallocx(void *p, size_t n, size_t extra, int flags) {
    if (!jx() || !real.xallocx) return 0;
    int c = counts();
    size_t before = c ? sized(jx_size, p) : 0;
    size_t after = real.xallocx(p, n, extra, flags);
    if (c) add((int64_t)after - (int64_t)before, 0);
    return after;
}

void dallocx(void *p, int flags) {
    if (!p || in_arena(p) || !jx() || !real.dallocx) return;
    uncounted_with(p, jx_size);
    real.dallocx(p, flags);
}

void sdallocx(void *p, size_t n, int flags) {
    if (!p || in_arena(p) || !jx() || !real.sdallocx) return;
    uncounted_with(p, jx_size);
    real.sdallocx(p, n, flags);
}

/* ---- tcmalloc's and mimalloc's own names, for programs that call them directly. ---- */

static inline int tc(void) { return ready() && real.tc_malloc && real.tc_malloc_size; }

void *tc_malloc(size_t n) {
    if (!tc()) return NULL;
    void *p = real.tc_malloc(n);
    counted_with(p, tc_size);
    return p;
}

void *tc_calloc(size_t n, size_t size) {
    if (!tc() || !real.tc_calloc) return NULL;
    void *p = real.tc_calloc(n, size);
    counted_with(p, tc_size);
    return p;
}

void *tc_realloc(void *old, size_t n) {
    if (!tc() || !real.tc_realloc) return NULL;
    int c = counts();
    size_t before = (old && c) ? sized(tc_size, old) : 0;
    void *p = real.tc_realloc(old, n);
    if (p && c) add((int64_t)sized(tc_size, p) - (int64_t)before, old ? 0 : 1);
    return p;
}

void tc_free(void *p) {
    if (!p || in_arena(p) || !tc() || !real.tc_free) return;
    uncounted_with(p, tc_size);
    real.tc_free(p);
}

static inline int mi(void) { return ready() && real.mi_malloc && real.mi_usable_size; }

void *mi_malloc(size_t n) {
    if (!mi()) return NULL;
    void *p = real.mi_malloc(n);
    counted_with(p, mi_size);
    return p;
}

void *mi_zalloc(size_t n) {
    if (!mi() || !real.mi_zalloc) return NULL;
    void *p = real.mi_zalloc(n);
    counted_with(p, mi_size);
    return p;
}

void *mi_calloc(size_t n, size_t size) {
    if (!mi() || !real.mi_calloc) return NULL;
    void *p = real.mi_calloc(n, size);
    counted_with(p, mi_size);
    return p;
}

void *mi_realloc(void *old, size_t n) {
    if (!mi() || !real.mi_realloc) return NULL;
    int c = counts();
    size_t before = (old && c) ? sized(mi_size, old) : 0;
    void *p = real.mi_realloc(old, n);
    if (p && c) add((int64_t)sized(mi_size, p) - (int64_t)before, old ? 0 : 1);
    return p;
}

void mi_free(void *p) {
    if (!p || in_arena(p) || !mi() || !real.mi_free) return;
    uncounted_with(p, mi_size);
    real.mi_free(p);
}

/* ---- C++ operator new and delete. A C++ program links them, so the next definition
 * (libstdc++'s, or the allocator's own) exists whenever they are called. ---- */

/* The operator's next definition. A library dlopen'ed with RTLD_LOCAL (the JVM's
 * libjimage) binds its operator new to this shim, yet its libstdc++ is not in the global
 * scope that RTLD_NEXT searches: look there too. */
__attribute__((noinline, cold)) static void *cxx_lookup(const char *name) {
    void *f = dlsym(RTLD_NEXT, name);
    static const char *const libs[] = {"libstdc++.so.6", "libc++.so.1"};
    for (size_t i = 0; !f && i < sizeof libs / sizeof *libs; i++) {
        void *h = dlopen(libs[i], RTLD_LAZY | RTLD_NOLOAD);
        if (h) {
            f = dlsym(h, name);
            dlclose(h);
        }
    }
    return f;
}

static void *aligned_fallback(size_t n, size_t a) {
    void *p = NULL;
    return posix_memalign(&p, a < sizeof(void *) ? sizeof(void *) : a, n ? n : 1) ? NULL : p;
}

/* Without any definition to forward to (no C++ runtime found), new and delete fall back
 * to this shim's malloc and free (which count); a throwing new that gets no memory
 * aborts, since C cannot throw std::bad_alloc. */
#define NEW_FN(sym, field, PARAMS, ARGS, FALLBACK, THROWS)                                \
    void *sym PARAMS {                                                                    \
        ready();                                                                          \
        if (__builtin_expect(!real.field, 0))                                             \
            real.field = (__typeof__(real.field))cxx_lookup(#sym);                        \
        if (__builtin_expect(!real.field, 0)) {                                           \
            void *q = FALLBACK;                                                           \
            if (!q && THROWS) abort();                                                    \
            return q;                                                                     \
        }                                                                                 \
        void *p = real.field ARGS;                                                        \
        if (new_counts) counted(p);                                                       \
        return p;                                                                         \
    }
#define DEL_FN(sym, field, PARAMS, ARGS)                                                  \
    void sym PARAMS {                                                                     \
        if (!p || in_arena(p)) return;                                                    \
        ready();                                                                          \
        if (__builtin_expect(!real.field, 0))                                             \
            real.field = (__typeof__(real.field))cxx_lookup(#sym);                        \
        if (__builtin_expect(!real.field, 0)) {                                           \
            free(p);                                                                      \
            return;                                                                       \
        }                                                                                 \
        if (new_counts) uncounted(p);                                                     \
        real.field ARGS;                                                                  \
    }

NEW_FN(_Znwm, new1, (size_t n), (n), malloc(n ? n : 1), 1)
NEW_FN(_ZnwmRKSt9nothrow_t, new1_nothrow, (size_t n, const void *t), (n, t), malloc(n ? n : 1), 0)
NEW_FN(_ZnwmSt11align_val_t, new1_al, (size_t n, size_t a), (n, a), aligned_fallback(n, a), 1)
NEW_FN(_ZnwmSt11align_val_tRKSt9nothrow_t, new1_al_nothrow, (size_t n, size_t a, const void *t),
       (n, a, t), aligned_fallback(n, a), 0)
NEW_FN(_Znam, newa, (size_t n), (n), malloc(n ? n : 1), 1)
NEW_FN(_ZnamRKSt9nothrow_t, newa_nothrow, (size_t n, const void *t), (n, t), malloc(n ? n : 1), 0)
NEW_FN(_ZnamSt11align_val_t, newa_al, (size_t n, size_t a), (n, a), aligned_fallback(n, a), 1)
NEW_FN(_ZnamSt11align_val_tRKSt9nothrow_t, newa_al_nothrow, (size_t n, size_t a, const void *t),
       (n, a, t), aligned_fallback(n, a), 0)
DEL_FN(_ZdlPv, del1, (void *p), (p))
DEL_FN(_ZdlPvm, del1_sized, (void *p, size_t n), (p, n))
DEL_FN(_ZdlPvRKSt9nothrow_t, del1_nothrow, (void *p, const void *t), (p, t))
DEL_FN(_ZdlPvSt11align_val_t, del1_al, (void *p, size_t a), (p, a))
DEL_FN(_ZdlPvmSt11align_val_t, del1_sized_al, (void *p, size_t n, size_t a), (p, n, a))
DEL_FN(_ZdlPvSt11align_val_tRKSt9nothrow_t, del1_al_nothrow, (void *p, size_t a, const void *t),
       (p, a, t))
DEL_FN(_ZdaPv, dela, (void *p), (p))
DEL_FN(_ZdaPvm, dela_sized, (void *p, size_t n), (p, n))
DEL_FN(_ZdaPvRKSt9nothrow_t, dela_nothrow, (void *p, const void *t), (p, t))
DEL_FN(_ZdaPvSt11align_val_t, dela_al, (void *p, size_t a), (p, a))
DEL_FN(_ZdaPvmSt11align_val_t, dela_sized_al, (void *p, size_t n, size_t a), (p, n, a))
DEL_FN(_ZdaPvSt11align_val_tRKSt9nothrow_t, dela_al_nothrow, (void *p, size_t a, const void *t),
       (p, a, t))
