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
 * With SOAK_SITES_PERIOD too it samples allocation call stacks by bytes and publishes
 * per-site live estimates in DIR/PID.sites ("Allocation sites" below).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <unwind.h>

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

/* ---- Allocation sites (SOAK_SITES_PERIOD): a Poisson sample by bytes of the
 * allocations' call stacks, with per-site live-bytes estimates published in DIR/PID.sites
 * (src/sample/sites.rs reads the same layout). Off, it costs one predictable branch per
 * counted call: `sites_on` is never set. ---- */

#define SITES_CAP 4096
#define MAX_FRAMES 32
#define SITE_INDEX (SITES_CAP * 2) /* private open-addressed index: hash -> record */
#define LIVE_CAP (1u << 15)        /* sampled blocks live at once */
#define FILTER_LEN (64 * 1024)     /* counting filter in front of the live table */

struct site_rec {
    uint64_t hash;
    uint32_t nframes;
    uint32_t ready;             /* 1 once frames are written (release store, last) */
    int64_t live_bytes;         /* sum of bytes weights of sampled blocks still live */
    int64_t live_blocks_milli;  /* sum of blocks weights * 1000 */
    uint64_t allocs, frees;
    uint64_t reserved[2];
    uint64_t frames[MAX_FRAMES]; /* return addresses, innermost first */
};

struct sites_file {
    uint64_t magic;   /* "SOAKSITE" */
    uint32_t version; /* 1 */
    uint32_t pid;
    uint64_t period;
    uint32_t capacity;
    uint32_t used;    /* records [0, used) were claimed */
    uint32_t max_frames;
    uint32_t flags;   /* SITES_* */
    uint64_t samples;
    uint64_t dropped;
    uint64_t created_ns;
    struct site_rec rec[SITES_CAP];
};

_Static_assert(sizeof(struct site_rec) == 320, "site record layout");
_Static_assert(offsetof(struct sites_file, rec) == 64, "sites header layout");

#define SITES_MAGIC 0x455449534b414f53ULL /* "SOAKSITE" read as little-endian */
#define SITES_EH 1u
#define SITES_FP 2u
#define SITES_FULL 4u
#define SITES_LIVE_FULL 8u
#define SITES_THROTTLED 16u /* some thread's period was coarsened (see site_sample) */

/* A thread that spent more than 1/BUDGET of its time in the sampler over its last BURST
 * samples has its period doubled (up to 2^MAX_SHIFT times the base), and halved again
 * when it spent under a quarter of that. One sample costs 0.5-0.8 us with libgcc's
 * unwinder on a shallow stack, several on a deep one (node's): this caps the sampler at
 * about 1% of each thread's time, however fast it allocates (a loop of nothing but
 * malloc and free at 33 GB/s sampled 82,000 times a second at 64 KiB), within a few
 * hundred samples. Each sample is weighted by the period its countdown ran under, which
 * was set before the bytes it covers were allocated, so the estimates stay unbiased. */
#define BURST 64
#define BUDGET 100
#define MAX_SHIFT 20

/* A sampled block still live: what its free must take back from its site. */
struct live {
    uintptr_t p; /* 0: empty, 1: deleted */
    uint32_t site;
    uint32_t pad;
    int64_t bytes, milli;
};

static int sites_on;          /* read by every counted call */
static uint64_t sites_period; /* mean bytes between samples */
static struct sites_file *sites;
static uint32_t *site_index;           /* record + 1; 0 = empty */
static struct live *live_tab, *live_scratch;
static uint32_t live_count, live_dead; /* under live_lock */
static uint8_t *live_filter;           /* nonzero: a sampled block may hash here */
static int site_lock, live_lock;

/* Per thread: bytes left until the next sample, and the sampler's own state. */
struct sampler {
    int64_t until;
    uint64_t rng;
    uintptr_t stack_lo, stack_hi; /* the mapping holding this thread's stack (fp walk) */
    int in_sampler;               /* allocations made while sampling are never sampled */
    int seeded;
    uint64_t period;              /* mean of the countdown now running */
    uint64_t burst_ns;            /* CLOCK_MONOTONIC at the start of this burst */
    uint64_t spent_ns;            /* time spent sampling in it */
    uint32_t burst_samples;       /* samples in it */
    uint32_t shift;               /* period = sites_period << shift */
};
static __thread struct sampler st __attribute__((tls_model("initial-exec")));

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static inline void spin_lock(int *l) {
    while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(l, __ATOMIC_RELAXED)) cpu_relax();
}
static inline void spin_unlock(int *l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }

static inline uint64_t ptr_hash(uintptr_t p) { return (uint64_t)p * 0x9e3779b97f4a7c15ULL; }
static inline uint32_t filter_slot(uintptr_t p) { return (uint32_t)(ptr_hash(p) >> 48); }

static void site_sample(void *p, size_t n);
static int live_take(uintptr_t p, struct live *out);
static void site_release(const struct live *e);

/* After a counted allocation of usable size n (the real allocator has returned). */
static inline void site_alloc(void *p, size_t n) {
    if (__builtin_expect(sites_on, 0)) {
        st.until -= (int64_t)n;
        if (__builtin_expect(st.until < 0, 0)) site_sample(p, n);
    }
}

/* Before a counted free: only a block whose filter byte is set can have been sampled,
 * so frees of unsampled blocks never take the lock. Not while this thread is sampling or
 * forking (`in_sampler`): it may hold the locks itself (a fork handler registered before
 * the shim's runs with them held); the block's sample then stays, a missed free. */
static inline void site_free(void *p) {
    if (__builtin_expect(sites_on, 0) &&
        __atomic_load_n(&live_filter[filter_slot((uintptr_t)p)], __ATOMIC_RELAXED) &&
        !st.in_sampler) {
        struct live e;
        if (live_take((uintptr_t)p, &e)) site_release(&e);
    }
}

/* A resize: the old block's sample (if any) is taken out first and given back to its
 * site once the resize succeeded (or put back when it failed: the old block lives on). */
static inline int site_take(void *old, struct live *e) {
    return __builtin_expect(sites_on, 0) && old &&
           __atomic_load_n(&live_filter[filter_slot((uintptr_t)old)], __ATOMIC_RELAXED) &&
           !st.in_sampler && live_take((uintptr_t)old, e);
}

/* Whether this call is counted: the allocator can be sized, and it is not a call that
 * an allocator makes from inside its own size function. */
static inline int counts(void) { return counting && (!reenters || !busy); }

static inline void counted_with(void *p, size_t (*size)(void *)) {
    if (p && counts()) {
        size_t n = sized(size, p);
        add((int64_t)n, 1);
        site_alloc(p, n);
    }
}

static inline void uncounted_with(void *p, size_t (*size)(void *)) {
    if (p && counts()) {
        site_free(p);
        add(-(int64_t)sized(size, p), -1);
    }
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

/* ---- Allocation sites: the slow side (samples are rare). ---- */

/* Self-contained ln and 1 - e^-x (no libm): accurate to ~1e-10, far below the
 * sampler's own noise. */
static double ln_pos(double x) {
    union { double d; uint64_t u; } v = {x};
    int e = (int)((v.u >> 52) & 0x7ff) - 1023;
    v.u = (v.u & ((1ULL << 52) - 1)) | (1023ULL << 52);
    double m = v.d; /* [1, 2) */
    if (m > 1.4142135623730951) { m *= 0.5; e++; }
    double s = (m - 1) / (m + 1), s2 = s * s, t = s2, sum = 1;
    for (int k = 3; k <= 21; k += 2) { sum += t / k; t *= s2; }
    return e * 0.6931471805599453 + 2 * s * sum;
}

static double one_minus_exp_neg(double x) {
    if (x <= 0) return 0;
    if (x < 0.25) { /* the series, without the cancellation of 1 - e^-x */
        double term = x, sum = x;
        for (int k = 2; k <= 14; k++) { term *= -x / k; sum += term; }
        return sum;
    }
    if (x > 60) return 1;
    int k = (int)(x / 0.6931471805599453);
    double r = x - k * 0.6931471805599453, term = 1, sum = 1;
    for (int i = 1; i <= 18; i++) { term *= -r / i; sum += term; }
    union { double d; uint64_t u; } scale = {.u = (uint64_t)(1023 - k) << 52};
    return 1 - sum * scale.d;
}

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void sampler_seed(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t s = (uint64_t)syscall(SYS_gettid) * 0x2545f4914f6cdd1dULL ^
                 ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec) ^
                 (uint64_t)(uintptr_t)&st;
    st.rng = splitmix(&s) | 1;
    st.seeded = 1;
}

/* Bytes until the next sample: exponential with mean `period` (xorshift64*). */
static int64_t sampler_draw(uint64_t period) {
    uint64_t x = st.rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    st.rng = x;
    double u = ((double)((x * 0x2545f4914f6cdd1dULL) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double d = -ln_pos(u) * (double)period;
    return d > 4e18 ? (int64_t)4e18 : (int64_t)d;
}

/* The shim's own text: its frames are dropped from every stack. */
static uintptr_t shim_lo, shim_hi;

static int find_shim_text(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    uintptr_t me_ = (uintptr_t)arg, lo = UINTPTR_MAX, hi = 0;
    int mine = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t a = info->dlpi_addr + ph->p_vaddr, b = a + ph->p_memsz;
        if (me_ >= a && me_ < b) mine = 1;
        if (ph->p_flags & PF_X) {
            if (a < lo) lo = a;
            if (b > hi) hi = b;
        }
    }
    if (!mine || hi == 0) return 0;
    shim_lo = lo;
    shim_hi = hi;
    return 1;
}

static inline int in_shim(uintptr_t ip) { return ip >= shim_lo && ip < shim_hi; }

/* The default unwinder: libgcc's, which reads .eh_frame (no frame pointers needed)
 * and, on glibc 2.35+ with GCC 12+, finds it through the lock-free _dl_find_object. */
static _Unwind_Reason_Code (*uw_backtrace)(_Unwind_Trace_Fn, void *);
static uintptr_t (*uw_getip)(struct _Unwind_Context *);

struct frames {
    uint64_t *pc;
    uint32_t n;
};

static _Unwind_Reason_Code eh_frame(struct _Unwind_Context *ctx, void *arg) {
    struct frames *f = arg;
    uintptr_t ip = uw_getip(ctx);
    if (!ip) return _URC_END_OF_STACK;
    if (in_shim(ip)) return _URC_NO_REASON;
    f->pc[f->n++] = ip;
    return f->n >= MAX_FRAMES ? _URC_END_OF_STACK : _URC_NO_REASON;
}

__attribute__((noinline)) static uint32_t capture_eh(uint64_t *pc) {
    struct frames f = {pc, 0};
    uw_backtrace(eh_frame, &f);
    return f.n;
}

/* The mapping of /proc/self/maps that holds `sp`, read with open/read (no stdio, no
 * malloc); 0 when none does. */
static void find_stack(uintptr_t sp, uintptr_t *lo, uintptr_t *hi) {
    *lo = *hi = 0;
    int saved = errno;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) { errno = saved; return; }
    char buf[1024];
    /* Per line: 0 reading the start, 1 reading the end, 2 skipping to the newline. */
    int state = 0;
    uintptr_t a = 0, b = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            char c = buf[i];
            if (state == 2) {
                if (c == '\n') { state = 0; a = b = 0; }
                continue;
            }
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d >= 0) {
                if (state == 0) a = a << 4 | (uintptr_t)d; else b = b << 4 | (uintptr_t)d;
            } else if (state == 0 && c == '-') {
                state = 1;
            } else {
                if (state == 1 && sp >= a && sp < b) {
                    *lo = a;
                    *hi = b;
                    close(fd);
                    errno = saved;
                    return;
                }
                state = c == '\n' ? 0 : 2;
                if (state == 0) a = b = 0;
            }
        }
    }
    close(fd);
    errno = saved;
}

/* The fallback: a frame-pointer walk that cannot fault, since it reads only inside
 * this thread's stack mapping, upwards, 16-aligned. */
__attribute__((noinline)) static uint32_t capture_fp(uint64_t *pc) {
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    if (fp < st.stack_lo || fp >= st.stack_hi) find_stack(fp, &st.stack_lo, &st.stack_hi);
    uintptr_t hi = st.stack_hi;
    uint32_t n = 0;
    while (n < MAX_FRAMES && (fp & 15) == 0 && fp >= st.stack_lo && fp + 16 <= hi) {
        uintptr_t next = ((const uintptr_t *)fp)[0], ret = ((const uintptr_t *)fp)[1];
        if (!ret) break;
        if (!in_shim(ret)) pc[n++] = ret;
        if (next <= fp) break;
        fp = next;
    }
    return n;
}

static uint64_t frames_hash(const uint64_t *pc, uint32_t n) {
    uint64_t h = 0xcbf29ce484222325ULL ^ n;
    for (uint32_t i = 0; i < n; i++) {
        h ^= pc[i];
        h *= 0x100000001b3ULL;
        h ^= h >> 29;
    }
    return h;
}

/* The record of a stack, claimed on its first sample; -1 when the table is full. */
static int site_find(const uint64_t *pc, uint32_t n) {
    uint64_t h = frames_hash(pc, n);
    spin_lock(&site_lock);
    uint32_t i = (uint32_t)h & (SITE_INDEX - 1);
    for (;;) {
        uint32_t v = site_index[i];
        if (!v) break;
        struct site_rec *r = &sites->rec[v - 1];
        if (r->hash == h && r->nframes == n && memcmp(r->frames, pc, n * sizeof *pc) == 0) {
            spin_unlock(&site_lock);
            return (int)(v - 1);
        }
        i = (i + 1) & (SITE_INDEX - 1);
    }
    uint32_t used = __atomic_load_n(&sites->used, __ATOMIC_RELAXED);
    if (used >= SITES_CAP) {
        spin_unlock(&site_lock);
        __atomic_fetch_or(&sites->flags, SITES_FULL, __ATOMIC_RELAXED);
        return -1;
    }
    struct site_rec *r = &sites->rec[used];
    __atomic_store_n(&sites->used, used + 1, __ATOMIC_RELEASE);
    r->hash = h;
    r->nframes = n;
    memcpy(r->frames, pc, n * sizeof *pc);
    __atomic_store_n(&r->ready, 1, __ATOMIC_RELEASE);
    site_index[i] = used + 1;
    spin_unlock(&site_lock);
    return (int)used;
}

/* Moves the live entries to the scratch table and back, dropping the deleted ones. */
static void live_rebuild(void) {
    memcpy(live_scratch, live_tab, LIVE_CAP * sizeof *live_tab);
    memset(live_tab, 0, LIVE_CAP * sizeof *live_tab);
    for (uint32_t j = 0; j < LIVE_CAP; j++) {
        if (live_scratch[j].p <= 1) continue;
        uint32_t i = (uint32_t)(ptr_hash(live_scratch[j].p) >> 49);
        while (live_tab[i].p) i = (i + 1) & (LIVE_CAP - 1);
        live_tab[i] = live_scratch[j];
    }
    live_dead = 0;
}

/* Records a sampled block; 0 when the table is full. A stale entry for the same
 * address (a free the shim did not see) is replaced, its weights given back. */
static int live_put(const struct live *e) {
    struct live stale = {0};
    spin_lock(&live_lock);
    if (live_count + live_dead + 1 > LIVE_CAP / 4 * 3) {
        if (live_dead) live_rebuild();
        if (live_count + 1 > LIVE_CAP / 4 * 3) {
            spin_unlock(&live_lock);
            return 0;
        }
    }
    uint32_t i = (uint32_t)(ptr_hash(e->p) >> 49), slot = UINT32_MAX;
    for (;; i = (i + 1) & (LIVE_CAP - 1)) {
        uintptr_t q = live_tab[i].p;
        if (q == e->p) {
            stale = live_tab[i];
            slot = i;
            break;
        }
        if (q == 1 && slot == UINT32_MAX) slot = i;
        if (q == 0) {
            if (slot == UINT32_MAX) slot = i;
            break;
        }
    }
    if (stale.p) {
        live_tab[slot] = *e;
    } else {
        if (live_tab[slot].p == 1) live_dead--;
        live_tab[slot] = *e;
        live_count++;
        uint8_t *f = &live_filter[filter_slot(e->p)];
        uint8_t c = __atomic_load_n(f, __ATOMIC_RELAXED);
        /* Saturated slots stay set: only a false positive, never a missed free. */
        if (c != 255) __atomic_store_n(f, (uint8_t)(c + 1), __ATOMIC_RELAXED);
    }
    spin_unlock(&live_lock);
    if (stale.p) site_release(&stale);
    return 1;
}

static int live_take(uintptr_t p, struct live *out) {
    int found = 0;
    spin_lock(&live_lock);
    for (uint32_t i = (uint32_t)(ptr_hash(p) >> 49);; i = (i + 1) & (LIVE_CAP - 1)) {
        uintptr_t q = live_tab[i].p;
        if (!q) break;
        if (q == p) {
            *out = live_tab[i];
            live_tab[i].p = 1;
            live_count--;
            live_dead++;
            uint8_t *f = &live_filter[filter_slot(p)];
            uint8_t c = __atomic_load_n(f, __ATOMIC_RELAXED);
            if (c != 255) __atomic_store_n(f, (uint8_t)(c - 1), __ATOMIC_RELAXED);
            found = 1;
            break;
        }
    }
    spin_unlock(&live_lock);
    return found;
}

static void site_release(const struct live *e) {
    struct site_rec *r = &sites->rec[e->site];
    __atomic_fetch_sub(&r->live_bytes, e->bytes, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&r->live_blocks_milli, e->milli, __ATOMIC_RELAXED);
    __atomic_fetch_add(&r->frees, 1, __ATOMIC_RELAXED);
}

/* 0: unwind with libgcc, 1: walk frame pointers. */
static int unwind_fp;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

__attribute__((noinline, cold)) static void site_sample(void *p, size_t n) {
    if (st.in_sampler) return;
    st.in_sampler = 1;
    if (!st.seeded) {
        /* A thread's first draw: this allocation is still in play. */
        sampler_seed();
        st.period = sites_period;
        st.until = sampler_draw(st.period) - (int64_t)n;
        if (st.until >= 0) { st.in_sampler = 0; return; }
    }
    /* This allocation was sampled under the countdown's period; the next countdown may
     * run under another (the rate cap above). */
    uint64_t period = st.period ? st.period : sites_period;
    int saved = errno;
    uint64_t started = now_ns();
    __atomic_fetch_add(&sites->samples, 1, __ATOMIC_RELAXED);
    uint64_t pc[MAX_FRAMES];
    uint32_t nf = unwind_fp ? capture_fp(pc) : capture_eh(pc);
    int site = site_find(pc, nf);
    if (site < 0) {
        __atomic_fetch_add(&sites->dropped, 1, __ATOMIC_RELAXED);
    } else {
        double q = one_minus_exp_neg((double)n / (double)period);
        struct live e = {(uintptr_t)p, (uint32_t)site, 0, (int64_t)((double)n / q + 0.5),
                         (int64_t)(1000.0 / q + 0.5)};
        if (live_put(&e)) {
            struct site_rec *r = &sites->rec[site];
            __atomic_fetch_add(&r->live_bytes, e.bytes, __ATOMIC_RELAXED);
            __atomic_fetch_add(&r->live_blocks_milli, e.milli, __ATOMIC_RELAXED);
            __atomic_fetch_add(&r->allocs, 1, __ATOMIC_RELAXED);
        } else {
            __atomic_fetch_or(&sites->flags, SITES_LIVE_FULL, __ATOMIC_RELAXED);
            __atomic_fetch_add(&sites->dropped, 1, __ATOMIC_RELAXED);
        }
    }
    /* The rate cap: the next countdown's period, from the time this burst of samples
     * took against the time the thread ran. */
    uint64_t ended = now_ns();
    st.spent_ns += ended - started;
    if (++st.burst_samples >= BURST) {
        uint64_t wall = ended - st.burst_ns;
        if (st.spent_ns * BUDGET > wall && st.shift < MAX_SHIFT) {
            st.shift++;
            __atomic_fetch_or(&sites->flags, SITES_THROTTLED, __ATOMIC_RELAXED);
        } else if (st.spent_ns * BUDGET * 4 < wall && st.shift > 0) {
            st.shift--;
        }
        st.burst_ns = ended;
        st.spent_ns = 0;
        st.burst_samples = 0;
    }
    st.period = sites_period << st.shift;
    st.until = sampler_draw(st.period);
    errno = saved;
    st.in_sampler = 0;
}

/* After a resize of a counted block: the old block's sample goes back to its site (or
 * is put back when the resize failed), and the new block is a new allocation. */
static inline void site_resized(int had, struct live *old, void *p, size_t n, int ok) {
    if (had) {
        if (ok) site_release(old); else live_put(old);
    }
    if (ok && p) site_alloc(p, n);
}

/* Writes DIR/PID.sites. */
static int sites_path(char *buf, size_t cap, const char *dir, pid_t pid) {
    if (segment_path(buf, cap - 7, dir, pid) < 0) return -1;
    memcpy(buf + strlen(buf), ".sites", 7);
    return 0;
}

/* DIR/PID.sites, mapped shared; a fork child's starts as a copy of `from`. */
static struct sites_file *sites_publish(const char *dir, const struct sites_file *from) {
    char path[4096];
    pid_t pid = getpid();
    if (sites_path(path, sizeof path, dir, pid) < 0) return NULL;
    int saved = errno;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) { errno = saved; return NULL; }
    if (ftruncate(fd, sizeof(struct sites_file)) < 0) { close(fd); errno = saved; return NULL; }
    void *m = mmap(NULL, sizeof(struct sites_file), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    errno = saved;
    if (m == MAP_FAILED) return NULL;
    struct sites_file *s = m;
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    if (from) {
        uint32_t used = from->used < SITES_CAP ? from->used : SITES_CAP;
        memcpy(s->rec, from->rec, used * sizeof *s->rec);
        s->used = used;
        s->samples = from->samples;
        s->dropped = from->dropped;
        s->flags = from->flags;
        /* The live figures are this process's: its own copy of the live table (taken
         * while no thread could change it) says exactly which samples it holds. */
        for (uint32_t i = 0; i < used; i++) s->rec[i].live_bytes = s->rec[i].live_blocks_milli = 0;
        for (uint32_t j = 0; j < LIVE_CAP; j++) {
            const struct live *e = &live_tab[j];
            if (e->p <= 1 || e->site >= used) continue;
            s->rec[e->site].live_bytes += e->bytes;
            s->rec[e->site].live_blocks_milli += e->milli;
        }
    } else {
        s->flags = unwind_fp ? SITES_FP : SITES_EH;
    }
    s->version = 1;
    s->pid = (uint32_t)pid;
    s->period = sites_period;
    s->capacity = SITES_CAP;
    s->max_frames = MAX_FRAMES;
    s->created_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
    __atomic_store_n(&s->magic, SITES_MAGIC, __ATOMIC_RELEASE);
    return s;
}

/* Turns sampling on when SOAK_SITES_PERIOD asks for it; whether it did. */
static int sites_start(const char *dir) {
    const char *env = getenv("SOAK_SITES_PERIOD");
    if (!counting || !env || !*env) return 0;
    uint64_t period = 0;
    for (const char *c = env; *c; c++) {
        if (*c < '0' || *c > '9' || period > (UINT64_MAX - 9) / 10) return 0;
        period = period * 10 + (uint64_t)(*c - '0');
    }
    if (!period) return 0;
    sites_period = period;
    dl_iterate_phdr(find_shim_text, (void *)(uintptr_t)&sites_start);
    const char *how = getenv("SOAK_SITES_UNWIND");
    unwind_fp = how && strcmp(how, "fp") == 0;
    if (!unwind_fp) {
        void *h = dlopen("libgcc_s.so.1", RTLD_NOW);
        if (h) {
            uw_backtrace = (__typeof__(uw_backtrace))dlsym(h, "_Unwind_Backtrace");
            uw_getip = (__typeof__(uw_getip))dlsym(h, "_Unwind_GetIP");
        }
        unwind_fp = !uw_backtrace || !uw_getip;
    }
    size_t tables = LIVE_CAP * sizeof(struct live) * 2 + FILTER_LEN + SITE_INDEX * sizeof(uint32_t);
    char *m = mmap(NULL, tables, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return 0;
    live_tab = (struct live *)m;
    live_scratch = live_tab + LIVE_CAP;
    live_filter = (uint8_t *)(live_scratch + LIVE_CAP);
    site_index = (uint32_t *)(live_filter + FILTER_LEN);
    sites = sites_publish(dir, NULL);
    if (!sites) { munmap(m, tables); return 0; }
    /* Warm the unwinder up here, outside any malloc call. */
    uint64_t pc[MAX_FRAMES];
    st.in_sampler = 1;
    if (unwind_fp) capture_fp(pc); else capture_eh(pc);
    st.in_sampler = 0;
    __atomic_store_n(&sites_on, 1, __ATOMIC_RELEASE);
    return 1;
}

/* Called once the segment is published. Without sampling, a sites file of this pid is
 * the image's before an exec (or an earlier process's): it goes, so that a file there
 * always belongs to the image that publishes the segment. */
static void sites_init(void) {
    const char *dir = getenv("SOAK_HEAP_DIR");
    if (!dir || !*dir || sites_start(dir)) return;
    char path[4096];
    int saved = errno;
    if (sites_path(path, sizeof path, dir, getpid()) == 0) unlink(path);
    errno = saved;
}

/* The parent's figures at the fork, taken before it: the parent's segment is shared
 * memory that the parent goes on changing while the child starts. */
static int64_t fork_bytes, fork_blocks;

static void before_fork(void) {
    totals(seg, &fork_bytes, &fork_blocks);
    /* Held across the fork, so the child's copies of the site index and the live table
     * are whole. */
    if (sites_on) {
        /* Handlers registered before the shim's run after this one (and their parent
         * and child handlers before ours): their allocations must not wait for the locks
         * this thread holds. */
        st.in_sampler = 1;
        spin_lock(&site_lock);
        spin_lock(&live_lock);
    }
}

static void after_fork_in_parent(void) {
    if (sites_on) {
        spin_unlock(&live_lock);
        spin_unlock(&site_lock);
        st.in_sampler = 0;
    }
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
    if (sites_on) {
        /* The child's own file, holding the parent's sites at the fork; its sampler
         * must not repeat the parent thread's draws. */
        struct sites_file *from = sites;
        const char *dir = getenv("SOAK_HEAP_DIR");
        struct sites_file *mine = dir && *dir ? sites_publish(dir, from) : NULL;
        if (mine) sites = mine; else sites_on = 0;
        munmap(from, sizeof(struct sites_file));
        st.seeded = 0;
        st.until = 0;
        site_lock = live_lock = 0;
        st.in_sampler = 0;
    }
}

__attribute__((constructor)) static void soak_heap_init(void) {
    ready();
    if (pthread_key_create(&key, thread_exit) == 0) key_ready = 1;
    int64_t bytes, blocks;
    totals(&local, &bytes, &blocks);
    publish(bytes, blocks);
    if (seg != &local) sites_init();
    pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
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
    struct live was;
    int had = c && site_take(old, &was);
    void *p = real.realloc(old, n);
    if (!c) return p;
    if (p) {
        size_t after = sized(real.usable, p);
        add((int64_t)after - (int64_t)before, old ? 0 : 1);
        site_resized(had, &was, p, after, 1);
    } else if (old && n == 0) {
        /* realloc(p, 0) freed p (glibc); others return a minimal block instead. */
        add(-(int64_t)before, -1);
        site_resized(had, &was, NULL, 0, 1);
    } else {
        site_resized(had, &was, NULL, 0, 0);
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
    struct live was;
    int had = c && site_take(old, &was);
    void *p = real.rallocx(old, n, flags);
    if (!c) return p;
    size_t after = p ? sized(jx_size, p) : 0;
    if (p) add((int64_t)after - (int64_t)before, 0);
    site_resized(had, &was, p, after, p != NULL);
    return p;
}

size_t xallocx(void *p, size_t n, size_t extra, int flags) {
    if (!jx() || !real.xallocx) return 0;
    int c = counts();
    size_t before = c ? sized(jx_size, p) : 0;
    struct live was;
    int had = c && site_take(p, &was);
    size_t after = real.xallocx(p, n, extra, flags);
    if (c) {
        add((int64_t)after - (int64_t)before, 0);
        site_resized(had, &was, p, after, 1);
    }
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
    struct live was;
    int had = c && site_take(old, &was);
    void *p = real.tc_realloc(old, n);
    if (!c) return p;
    size_t after = p ? sized(tc_size, p) : 0;
    if (p) add((int64_t)after - (int64_t)before, old ? 0 : 1);
    site_resized(had, &was, p, after, p != NULL);
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
    struct live was;
    int had = c && site_take(old, &was);
    void *p = real.mi_realloc(old, n);
    if (!c) return p;
    size_t after = p ? sized(mi_size, p) : 0;
    if (p) add((int64_t)after - (int64_t)before, old ? 0 : 1);
    site_resized(had, &was, p, after, p != NULL);
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
