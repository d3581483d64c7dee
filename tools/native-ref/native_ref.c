// Native reference for `vmm-swap bench`: the same work as the runtime with nothing in between,
// so the bench can report our figures as ratios against the best this machine does.
//
//   native_ref fault   <pages> <source: staging|file|zero> <order: seq|random> <swap-dir>
//   native_ref enable  <pages>
//   native_ref swapout <pages> <swap-dir>
//   native_ref swapout-flush <pages> <swap-dir>
//   native_ref swapin  <pages> <swap-dir>
//   native_ref limit-enable  <pages>
//   native_ref limit-swapout <pages> <swap-dir> <chunk-bytes> <sync-every-bytes>
//   native_ref limit-swapin  <pages> <swap-dir> <chunk-bytes>
//   native_ref fault-threads <pages> <threads> <order: seq|random> <swap-dir> <uffds: one|per-thread>
//   native_ref kvm-fault <pages> <source> <order> <vcpus> <swap-dir> <guest-program-file>
//
// Prints one JSON object on stdout. Built by the bench with the machine's cc.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#define HUGE_BYTES (2UL << 20)

static long page;

static void die(const char *what) {
    fprintf(stderr, "native_ref: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int make_memfd(const char *name, size_t size) {
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, size) < 0) die("memfd");
    return fd;
}

static void *map_shared(int fd, size_t size, int prot) {
    void *p = mmap(NULL, size, prot, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) die("mmap");
    return p;
}

static void fill(unsigned char *p, size_t size) {
    for (size_t i = 0; i < size; i += 64) p[i] = (unsigned char)(i / page * 31 + 7);
}

static int make_uffd(void) {
    int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (uffd < 0) die("userfaultfd");
    struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_MISSING_SHMEM};
    if (ioctl(uffd, UFFDIO_API, &api) < 0) die("UFFDIO_API");
    return uffd;
}

static void uffd_register(int uffd, void *addr, size_t size) {
    struct uffdio_register reg = {.range = {(unsigned long)addr, size}, .mode = UFFDIO_REGISTER_MODE_MISSING};
    if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) die("UFFDIO_REGISTER");
}

static void uffd_copy(int uffd, unsigned long dst, const void *src, size_t len, int wake) {
    struct uffdio_copy c = {.dst = dst, .src = (unsigned long)src, .len = len, .mode = wake ? 0 : UFFDIO_COPY_MODE_DONTWAKE};
    while (ioctl(uffd, UFFDIO_COPY, &c) < 0) {
        if (errno != EAGAIN || c.copy <= 0) die("UFFDIO_COPY");
        c.dst += c.copy; c.src += c.copy; c.len -= c.copy; c.copy = 0;
    }
}

struct server {
    int uffd;
    unsigned char *guest;
    const unsigned char *source; // NULL: zero pages
    volatile int stop;
};

static void *serve(void *arg) {
    struct server *s = arg;
    struct pollfd pfd = {.fd = s->uffd, .events = POLLIN};
    struct uffd_msg msg;
    while (!s->stop) {
        if (poll(&pfd, 1, 100) <= 0) continue;
        while (read(s->uffd, &msg, sizeof msg) == sizeof msg) {
            if (msg.event != UFFD_EVENT_PAGEFAULT) continue;
            unsigned long addr = msg.arg.pagefault.address & ~(page - 1);
            if (s->source) {
                uffd_copy(s->uffd, addr, s->source + (addr - (unsigned long)s->guest), page, 1);
            } else {
                struct uffdio_zeropage z = {.range = {addr, page}};
                if (ioctl(s->uffd, UFFDIO_ZEROPAGE, &z) < 0 && errno != EEXIST) die("UFFDIO_ZEROPAGE");
            }
        }
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int tmpfile_in(const char *dir) {
    int fd = open(dir, O_TMPFILE | O_EXCL | O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) die("open(O_TMPFILE)");
    return fd;
}

// pwrite until all of it is written: one call writes at most 0x7ffff000 bytes, less than a
// 4 GiB guest.
static void pwrite_all(int fd, const unsigned char *buf, size_t size, off_t off) {
    for (size_t done = 0; done < size;) {
        ssize_t n = pwrite(fd, buf + done, size - done, off + (off_t)done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("pwrite");
        done += (size_t)n;
    }
}

// A swap file holding size bytes of guest content, on disk and out of the page cache, as the
// runtime's swap-out leaves it (it syncs and drops the file before it reports Active).
static int swapped_out_file(const char *dir, size_t size) {
    int ffd = tmpfile_in(dir);
    unsigned char *buf = malloc(size);
    fill(buf, size);
    pwrite_all(ffd, buf, size, 0);
    free(buf);
    if (fdatasync(ffd) < 0) die("fdatasync");
    if ((errno = posix_fadvise(ffd, 0, 0, POSIX_FADV_DONTNEED)) != 0) die("posix_fadvise");
    return ffd;
}

// Fault latency: a guest thread touches every page once; each touch is one fault served by a handler thread.
static void bench_fault(long pages, const char *source, const char *order, const char *dir) {
    size_t size = pages * page;
    int gfd = make_memfd("guest", size);
    unsigned char *guest = map_shared(gfd, size, PROT_READ | PROT_WRITE);
    const unsigned char *src = NULL;
    if (strcmp(source, "staging") == 0) {
        int sfd = make_memfd("staging", size);
        unsigned char *staging = map_shared(sfd, size, PROT_READ | PROT_WRITE);
        fill(staging, size);
        src = staging;
    } else if (strcmp(source, "file") == 0) {
        // Like the runtime after swap-out: content in a swap file, on disk and out of the page
        // cache (the runtime syncs and drops it before it reports Active), read through a mapping.
        src = map_shared(swapped_out_file(dir, size), size, PROT_READ);
    }
    int uffd = make_uffd();
    uffd_register(uffd, guest, size);
    struct server s = {.uffd = uffd, .guest = guest, .source = src};
    pthread_t t;
    pthread_create(&t, NULL, serve, &s);

    long *idx = malloc(pages * sizeof *idx);
    for (long i = 0; i < pages; i++) idx[i] = i;
    if (strcmp(order, "random") == 0) {
        srand(1);
        for (long i = pages - 1; i > 0; i--) { long j = rand() % (i + 1); long x = idx[i]; idx[i] = idx[j]; idx[j] = x; }
    }
    double *lat = malloc(pages * sizeof *lat);
    volatile unsigned char sink = 0;
    for (long i = 0; i < pages; i++) {
        double t0 = now_s();
        sink += guest[idx[i] * page];
        lat[i] = (now_s() - t0) * 1e6;
    }
    s.stop = 1;
    pthread_join(t, NULL);
    qsort(lat, pages, sizeof *lat, cmp_double);
    printf("{\"p50_us\":%.3f,\"p99_us\":%.3f,\"max_us\":%.3f,\"faults\":%ld}\n",
           lat[pages / 2], lat[(long)(pages * 0.99)], lat[pages - 1], pages);
}

// Several vCPUs faulting on swapped-out pages at once. The guest is written, swapped out as the
// runtime leaves it (pwrite, fdatasync, dropped from the page cache) and freed; then <threads>
// guest threads, released together, each touch their own share of the pages and time each touch.
//
// "One handler thread per uffd" has two honest readings for a VMM with several vCPUs, and both run:
// - one: one uffd over the guest mapping and one handler thread, as QEMU's postcopy and crosvm do.
//   vCPUs do not own guest ranges, so this is what a VMM with one guest mapping has; a file fault
//   blocks the handler on the disk and the other vCPUs' faults queue behind it.
// - per-thread: the guest split into one uffd per guest thread's share, each with its handler
//   thread. A VMM could register guest memory in slices like this; the bench gives each thread its
//   own slice, the best case for it (no two threads' faults ever meet on one handler).
struct vcpu {
    unsigned char *guest;
    const long *idx;
    long count;
    double *lat;
    pthread_barrier_t *start;
};

static void *vcpu_run(void *arg) {
    struct vcpu *v = arg;
    volatile unsigned char sink = 0;
    pthread_barrier_wait(v->start);
    for (long i = 0; i < v->count; i++) {
        double t0 = now_s();
        sink += v->guest[v->idx[i] * page];
        v->lat[i] = (now_s() - t0) * 1e6;
    }
    return NULL;
}

static void bench_fault_threads(long pages, int threads, const char *order, const char *dir, int per_thread) {
    if (threads < 1 || pages < threads) { errno = EINVAL; die("fault-threads: need 1 <= threads <= pages"); }
    long share = pages / threads;
    pages = share * threads;
    size_t size = pages * page;
    const unsigned char *src = map_shared(swapped_out_file(dir, size), size, PROT_READ);
    int gfd = make_memfd("guest", size);
    unsigned char *guest = map_shared(gfd, size, PROT_READ | PROT_WRITE);

    int handlers = per_thread ? threads : 1;
    struct server *servers = calloc(handlers, sizeof *servers);
    pthread_t *ht = calloc(handlers, sizeof *ht);
    for (int h = 0; h < handlers; h++) {
        size_t off = per_thread ? (size_t)(h * share * page) : 0, len = per_thread ? (size_t)(share * page) : size;
        servers[h] = (struct server){.uffd = make_uffd(), .guest = guest, .source = src};
        uffd_register(servers[h].uffd, guest + off, len);
        pthread_create(&ht[h], NULL, serve, &servers[h]);
    }

    // Thread t's share is pages [t*share, (t+1)*share), shuffled with its own seed.
    long *idx = malloc(pages * sizeof *idx);
    double *lat = malloc(pages * sizeof *lat);
    srand(1);
    for (int t = 0; t < threads; t++) {
        long *mine = idx + t * share;
        for (long i = 0; i < share; i++) mine[i] = t * share + i;
        if (strcmp(order, "random") == 0)
            for (long i = share - 1; i > 0; i--) { long j = rand() % (i + 1); long x = mine[i]; mine[i] = mine[j]; mine[j] = x; }
    }
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, threads + 1);
    struct vcpu *v = calloc(threads, sizeof *v);
    pthread_t *vt = calloc(threads, sizeof *vt);
    for (int t = 0; t < threads; t++) {
        v[t] = (struct vcpu){.guest = guest, .idx = idx + t * share, .count = share, .lat = lat + t * share, .start = &start};
        pthread_create(&vt[t], NULL, vcpu_run, &v[t]);
    }
    pthread_barrier_wait(&start);
    double t0 = now_s();
    for (int t = 0; t < threads; t++) pthread_join(vt[t], NULL);
    double wall = now_s() - t0;
    for (int h = 0; h < handlers; h++) servers[h].stop = 1;
    for (int h = 0; h < handlers; h++) pthread_join(ht[h], NULL);
    qsort(lat, pages, sizeof *lat, cmp_double);
    printf("{\"p50_us\":%.3f,\"p99_us\":%.3f,\"max_us\":%.3f,\"faults\":%ld,\"threads\":%d,\"uffds\":%d,\"seconds\":%.6f,\"pages_per_s\":%.1f}\n",
           lat[pages / 2], lat[(long)(pages * 0.99)], lat[pages - 1], pages, threads, handlers, wall, pages / wall);
}

// Enable: copy resident guest pages to staging and free the guest in 2 MiB batches.
static void bench_enable(long pages) {
    size_t size = pages * page;
    int gfd = make_memfd("guest", size), sfd = make_memfd("staging", size);
    unsigned char *guest = map_shared(gfd, size, PROT_READ | PROT_WRITE);
    unsigned char *staging = map_shared(sfd, size, PROT_READ | PROT_WRITE);
    fill(guest, size);
    double t0 = now_s();
    for (size_t off = 0; off < size; off += HUGE_BYTES) {
        size_t len = size - off < HUGE_BYTES ? size - off : HUGE_BYTES;
        memcpy(staging + off, guest + off, len);
        if (fallocate(gfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) < 0) die("fallocate");
    }
    double s = now_s() - t0;
    printf("{\"seconds\":%.6f,\"gib_per_s\":%.3f}\n", s, size / s / (1UL << 30));
}

// Swap-out: sequential pwrite of staging to an O_TMPFILE file in the swap directory. With flush,
// the same durability work as the runtime: writeback started after each chunk, then fdatasync and
// the file dropped from the page cache, all timed.
static void bench_swapout(long pages, const char *dir, int flush) {
    size_t size = pages * page;
    int sfd = make_memfd("staging", size);
    unsigned char *staging = map_shared(sfd, size, PROT_READ | PROT_WRITE);
    fill(staging, size);
    int ffd = tmpfile_in(dir);
    double t0 = now_s();
    for (size_t off = 0; off < size; off += HUGE_BYTES) {
        size_t len = size - off < HUGE_BYTES ? size - off : HUGE_BYTES;
        if (pwrite(ffd, staging + off, len, off) != (ssize_t)len) die("pwrite");
        if (flush && sync_file_range(ffd, off, len, SYNC_FILE_RANGE_WRITE) < 0) die("sync_file_range");
    }
    if (flush) {
        if (fdatasync(ffd) < 0) die("fdatasync");
        if ((errno = posix_fadvise(ffd, 0, 0, POSIX_FADV_DONTNEED)) != 0) die("posix_fadvise");
    }
    double s = now_s() - t0;
    printf("{\"seconds\":%.6f,\"gib_per_s\":%.3f}\n", s, size / s / (1UL << 30));
}

// Swap-in: pread chunks of the swap file (flushed and dropped from the page cache first) and
// UFFDIO_COPY them into the registered guest.
static void bench_swapin(long pages, const char *dir) {
    size_t size = pages * page;
    int ffd = tmpfile_in(dir);
    unsigned char *buf = malloc(HUGE_BYTES);
    fill(buf, HUGE_BYTES);
    for (size_t off = 0; off < size; off += HUGE_BYTES) {
        size_t len = size - off < HUGE_BYTES ? size - off : HUGE_BYTES;
        if (pwrite(ffd, buf, len, off) != (ssize_t)len) die("pwrite");
    }
    // As after the runtime's swap-out, the file is on disk and out of the page cache.
    if (fdatasync(ffd) < 0) die("fdatasync");
    if ((errno = posix_fadvise(ffd, 0, 0, POSIX_FADV_DONTNEED)) != 0) die("posix_fadvise");
    int gfd = make_memfd("guest", size);
    unsigned char *guest = map_shared(gfd, size, PROT_READ | PROT_WRITE);
    int uffd = make_uffd();
    uffd_register(uffd, guest, size);
    double t0 = now_s();
    for (size_t off = 0; off < size; off += HUGE_BYTES) {
        size_t len = size - off < HUGE_BYTES ? size - off : HUGE_BYTES;
        if (pread(ffd, buf, len, off) != (ssize_t)len) die("pread");
        uffd_copy(uffd, (unsigned long)guest + off, buf, len, 0);
    }
    double s = now_s() - t0;
    printf("{\"seconds\":%.6f,\"gib_per_s\":%.3f}\n", s, size / s / (1UL << 30));
}

// The limit references: not the runtime's work done natively, but the fastest this machine could
// do the same move, so the bench can say how far from the hardware each job is.

// Enable's limit: the guest copied into staging that is already allocated and mapped (no page
// allocation in the timed part) by one thread per core, each its own contiguous share, and the
// guest freed behind it with huge-page hole punches. The guest is paused for all of Enable.
struct enable_share {
    int gfd;
    unsigned char *guest, *staging;
    size_t from, to;
    pthread_barrier_t *start;
};

static void *enable_run(void *arg) {
    struct enable_share *e = arg;
    pthread_barrier_wait(e->start);
    for (size_t off = e->from; off < e->to; off += HUGE_BYTES) {
        size_t len = e->to - off < HUGE_BYTES ? e->to - off : HUGE_BYTES;
        memcpy(e->staging + off, e->guest + off, len);
        if (fallocate(e->gfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) < 0) die("fallocate");
    }
    return NULL;
}

static void bench_limit_enable(long pages) {
    size_t size = pages * page;
    int gfd = make_memfd("guest", size), sfd = make_memfd("staging", size);
    unsigned char *guest = map_shared(gfd, size, PROT_READ | PROT_WRITE);
    unsigned char *staging = map_shared(sfd, size, PROT_READ | PROT_WRITE);
    fill(guest, size);
    memset(staging, 0, size);
    int threads = get_nprocs();
    size_t blocks = (size + HUGE_BYTES - 1) / HUGE_BYTES;
    if ((size_t)threads > blocks) threads = (int)blocks;
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, threads + 1);
    struct enable_share *e = calloc(threads, sizeof *e);
    pthread_t *t = calloc(threads, sizeof *t);
    for (int i = 0; i < threads; i++) {
        // Shares in whole huge pages, so no two threads punch the same 2 MiB.
        size_t from = blocks * i / threads * HUGE_BYTES, to = blocks * (i + 1) / threads * HUGE_BYTES;
        e[i] = (struct enable_share){.gfd = gfd, .guest = guest, .staging = staging, .from = from, .to = to < size ? to : size, .start = &start};
        pthread_create(&t[i], NULL, enable_run, &e[i]);
    }
    pthread_barrier_wait(&start);
    double t0 = now_s();
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    double s = now_s() - t0;
    printf("{\"seconds\":%.6f,\"gib_per_s\":%.3f,\"threads\":%d}\n", s, size / s / (1UL << 30), threads);
}

// Swap-out's limit: exactly the runtime's I/O pattern and nothing else. Each chunk is written and
// its writeback started; before a chunk, once sync_every bytes are written but not synced, an
// fdatasync (the runtime frees staging only behind a sync); at the end fdatasync and the file
// dropped from the page cache.
static void bench_limit_swapout(long pages, const char *dir, size_t chunk, size_t sync_every) {
    if (chunk == 0 || sync_every == 0) { errno = EINVAL; die("limit-swapout: chunk and sync sizes must be positive"); }
    size_t size = pages * page;
    int sfd = make_memfd("staging", size);
    unsigned char *staging = map_shared(sfd, size, PROT_READ | PROT_WRITE);
    fill(staging, size);
    int ffd = tmpfile_in(dir);
    long syncs = 0;
    size_t unsynced = 0;
    double t0 = now_s();
    for (size_t off = 0; off < size; off += chunk) {
        size_t len = size - off < chunk ? size - off : chunk;
        if (unsynced >= sync_every) {
            if (fdatasync(ffd) < 0) die("fdatasync");
            syncs++;
            unsynced = 0;
        }
        if (pwrite(ffd, staging + off, len, off) != (ssize_t)len) die("pwrite");
        if (sync_file_range(ffd, off, len, SYNC_FILE_RANGE_WRITE) < 0) die("sync_file_range");
        unsynced += len;
    }
    if (fdatasync(ffd) < 0) die("fdatasync");
    syncs++;
    if ((errno = posix_fadvise(ffd, 0, 0, POSIX_FADV_DONTNEED)) != 0) die("posix_fadvise");
    double s = now_s() - t0;
    printf("{\"seconds\":%.6f,\"gib_per_s\":%.3f,\"fdatasyncs\":%ld}\n", s, size / s / (1UL << 30), syncs);
}

// Swap-in's limit: the swap file as the runtime's swap-out leaves it (on disk, out of the page
// cache) read sequentially in chunks into one buffer, each chunk UFFDIO_COPYed into a registered
// guest. Before it, the same reads alone, the cache dropped again after: the disk's rate, which
// no swap-in from this file can beat.
static double read_file_s(int ffd, unsigned char *buf, size_t size, size_t chunk, int uffd, unsigned char *guest) {
    double t0 = now_s();
    for (size_t off = 0; off < size; off += chunk) {
        size_t len = size - off < chunk ? size - off : chunk;
        if (pread(ffd, buf, len, off) != (ssize_t)len) die("pread");
        if (guest) uffd_copy(uffd, (unsigned long)guest + off, buf, len, 0);
    }
    return now_s() - t0;
}

static void bench_limit_swapin(long pages, const char *dir, size_t chunk) {
    if (chunk == 0 || chunk % page) { errno = EINVAL; die("limit-swapin: chunk must be a positive multiple of the page"); }
    size_t size = pages * page;
    int ffd = swapped_out_file(dir, size);
    unsigned char *buf = malloc(chunk);
    double read_s = read_file_s(ffd, buf, size, chunk, -1, NULL);
    if ((errno = posix_fadvise(ffd, 0, 0, POSIX_FADV_DONTNEED)) != 0) die("posix_fadvise");
    int gfd = make_memfd("guest", size);
    unsigned char *guest = map_shared(gfd, size, PROT_READ | PROT_WRITE);
    int uffd = make_uffd();
    uffd_register(uffd, guest, size);
    double s = read_file_s(ffd, buf, size, chunk, uffd, guest);
    printf("{\"seconds\":%.6f,\"gib_per_s\":%.3f,\"pread_seconds\":%.6f,\"pread_gib_per_s\":%.3f}\n",
           s, size / s / (1UL << 30), read_s, size / read_s / (1UL << 30));
}


// KVM demand paging: the bench's own guest program (assembled by VmmSwap.Guest and passed as a
// file) on vCPUs of a VM laid out as VmmSwap.Guest lays it out (docs/ARCHITECTURE.md, "The KVM
// guest host"): control slot at 0, the guest at 1 GiB; each vCPU touches its share of the pages
// once, timing each first touch with rdtsc, served by the handler thread above.
#define GIB (1UL << 30)
#define CTL_TABLES 0x200000UL
#define CTL_CODE 0x100000UL
#define CTL_BLOCKS 0x110000UL
#define MMIO_BASE (GIB - HUGE_BYTES)

struct vcpu_run {
    int fd;
    struct kvm_run *run;
    long mismatches;
};

static uint64_t rdtsc(void) {
    unsigned lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static uint64_t fnv_page(const unsigned char *p) {
    uint64_t h = 0xCBF29CE484222325ULL;
    for (long i = 0; i < page; i += 8) { uint64_t w; memcpy(&w, p + i, 8); h = (h ^ w) * 0x100000001B3ULL; }
    return h;
}

static void *run_vcpu(void *arg) {
    struct vcpu_run *v = arg;
    for (;;) {
        if (ioctl(v->fd, KVM_RUN, 0) < 0) { if (errno == EINTR) continue; die("KVM_RUN"); }
        if (v->run->exit_reason != KVM_EXIT_MMIO) { fprintf(stderr, "native_ref: exit %u\n", v->run->exit_reason); exit(1); }
        uint64_t port = v->run->mmio.phys_addr - MMIO_BASE;
        if (port == 8) v->mismatches++;
        else if (port == 16) return NULL;
    }
}

static void bench_kvm_fault(long pages, const char *source, const char *order, int vcpus, const char *dir, const char *program) {
    size_t size = pages * page;
    int gfd = make_memfd("guest", size);
    unsigned char *guest = map_shared(gfd, size, PROT_READ | PROT_WRITE);
    unsigned char *src = NULL;
    if (strcmp(source, "staging") == 0) {
        int sfd = make_memfd("staging", size);
        src = map_shared(sfd, size, PROT_READ | PROT_WRITE);
        fill(src, size);
    } else if (strcmp(source, "file") == 0) {
        int ffd = tmpfile_in(dir);
        unsigned char *buf = malloc(size);
        fill(buf, size);
        pwrite_all(ffd, buf, size, 0);
        // As the runtime's swap-out leaves it: on disk, out of the page cache.
        if (fdatasync(ffd) < 0) die("fdatasync");
        if ((errno = posix_fadvise(ffd, 0, 0, POSIX_FADV_DONTNEED)) != 0) die("posix_fadvise");
        free(buf);
        src = map_shared(ffd, size, PROT_READ);
    }

    size_t ctl_size = (CTL_TABLES + pages * 24 + HUGE_BYTES - 1) & ~(HUGE_BYTES - 1);
    int cfd = make_memfd("control", ctl_size);
    unsigned char *ctl = map_shared(cfd, ctl_size, PROT_READ | PROT_WRITE);
    uint64_t end = (GIB + ((size + HUGE_BYTES - 1) & ~(HUGE_BYTES - 1)) + GIB - 1) & ~(GIB - 1);
    uint64_t *pml4 = (uint64_t *)(ctl + 0x1000), *pdpt = (uint64_t *)(ctl + 0x2000);
    pml4[0] = 0x2000 | 7;
    for (uint64_t g = 0; g < end / GIB; g++) {
        pdpt[g] = (0x3000 + g * 0x1000) | 7;
        uint64_t *pd = (uint64_t *)(ctl + 0x3000 + g * 0x1000);
        for (int e = 0; e < 512; e++) pd[e] = (g * GIB + e * HUGE_BYTES) | 7 | 0x80;
    }
    int pfd = open(program, O_RDONLY | O_CLOEXEC);
    if (pfd < 0) die("open(program)");
    if (read(pfd, ctl + CTL_CODE, CTL_BLOCKS - CTL_CODE) <= 0) die("read(program)");
    close(pfd);

    static unsigned char zero_page[65536];
    uint64_t *table = (uint64_t *)(ctl + CTL_TABLES);
    srand(1);
    for (int v = 0; v < vcpus; v++) {
        long from = pages * v / vcpus, n = pages * (v + 1) / vcpus - from;
        uint64_t *addrs = table, *sums = table + n; // then the log, zeroed
        for (long i = 0; i < n; i++) addrs[i] = GIB + (from + i) * page;
        if (strcmp(order, "random") == 0)
            for (long i = n - 1; i > 0; i--) { long j = rand() % (i + 1); uint64_t x = addrs[i]; addrs[i] = addrs[j]; addrs[j] = x; }
        for (long i = 0; i < n; i++) sums[i] = fnv_page(src ? src + (addrs[i] - GIB) : zero_page);
        uint64_t *block = (uint64_t *)(ctl + CTL_BLOCKS + v * 0x1000);
        block[0] = CTL_TABLES + (uint64_t)((unsigned char *)addrs - (ctl + CTL_TABLES));
        block[1] = block[0] + n * 8;
        block[2] = block[0] + 2 * n * 8;
        block[3] = n;     // limit
        block[4] = 1;     // sweeps
        block[5] = 0x9E3779B97F4A7C15ULL + v; // xorshift state
        table += 3 * n;
    }

    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) die("open(/dev/kvm)");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) die("KVM_CREATE_VM");
    struct kvm_userspace_memory_region r0 = {.slot = 0, .guest_phys_addr = 0, .memory_size = ctl_size, .userspace_addr = (uint64_t)ctl};
    struct kvm_userspace_memory_region r1 = {.slot = 1, .guest_phys_addr = GIB, .memory_size = size, .userspace_addr = (uint64_t)guest};
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r0) < 0 || ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r1) < 0) die("KVM_SET_USER_MEMORY_REGION");
    int mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct vcpu_run *runs = calloc(vcpus, sizeof *runs);
    for (int v = 0; v < vcpus; v++) {
        runs[v].fd = ioctl(vm, KVM_CREATE_VCPU, v);
        if (runs[v].fd < 0) die("KVM_CREATE_VCPU");
        runs[v].run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, runs[v].fd, 0);
        if (runs[v].run == MAP_FAILED) die("mmap(kvm_run)");
        struct kvm_sregs s;
        if (ioctl(runs[v].fd, KVM_GET_SREGS, &s) < 0) die("KVM_GET_SREGS");
        s.cr3 = 0x1000; s.cr0 = 0x80050033; s.cr4 = 0x20; s.efer = 0x500;
        struct kvm_segment cs = {.base = 0, .limit = 0xffffffff, .selector = 0x33, .type = 11, .present = 1, .dpl = 3, .s = 1, .l = 1, .g = 1};
        struct kvm_segment ds = {.base = 0, .limit = 0xffffffff, .selector = 0x2b, .type = 3, .present = 1, .dpl = 3, .s = 1, .db = 1, .g = 1};
        s.cs = cs; s.ss = ds; s.ds = ds; s.es = ds; s.fs = ds; s.gs = ds;
        if (ioctl(runs[v].fd, KVM_SET_SREGS, &s) < 0) die("KVM_SET_SREGS");
        struct kvm_regs regs = {.rip = CTL_CODE, .rdi = CTL_BLOCKS + v * 0x1000, .rsp = CTL_BLOCKS + (v + 1) * 0x1000, .rflags = 2};
        if (ioctl(runs[v].fd, KVM_SET_REGS, &regs) < 0) die("KVM_SET_REGS");
    }

    int uffd = make_uffd();
    uffd_register(uffd, guest, size);
    struct server srv = {.uffd = uffd, .guest = guest, .source = src};
    pthread_t server;
    pthread_create(&server, NULL, serve, &srv);

    // The guest's TSC runs at the host's rate: calibrate it against the monotonic clock.
    double c0 = now_s(); uint64_t t0 = rdtsc();
    usleep(100000);
    double tsc_hz = (rdtsc() - t0) / (now_s() - c0);

    pthread_t *threads = malloc(vcpus * sizeof *threads);
    double w0 = now_s();
    for (int v = 0; v < vcpus; v++) pthread_create(&threads[v], NULL, run_vcpu, &runs[v]);
    long mismatches = 0;
    for (int v = 0; v < vcpus; v++) { pthread_join(threads[v], NULL); mismatches += runs[v].mismatches; }
    double wall = now_s() - w0;
    srv.stop = 1;
    pthread_join(server, NULL);

    double *lat = malloc(pages * sizeof *lat);
    long count = 0;
    table = (uint64_t *)(ctl + CTL_TABLES);
    for (int v = 0; v < vcpus; v++) {
        long n = pages * (v + 1) / vcpus - pages * v / vcpus;
        for (long i = 0; i < n; i++) if (table[2 * n + i]) lat[count++] = table[2 * n + i] * 1e6 / tsc_hz;
        table += 3 * n;
    }
    qsort(lat, count, sizeof *lat, cmp_double);
    printf("{\"p50_us\":%.3f,\"p99_us\":%.3f,\"max_us\":%.3f,\"faults\":%ld,\"pages_per_s\":%.1f,\"mismatches\":%ld}\n",
           lat[count / 2], lat[(long)(count * 0.99)], lat[count - 1], count, pages / wall, mismatches);
}

int main(int argc, char **argv) {
    page = sysconf(_SC_PAGESIZE);
    if (argc >= 6 && strcmp(argv[1], "fault") == 0) bench_fault(atol(argv[2]), argv[3], argv[4], argv[5]);
    else if (argc >= 7 && strcmp(argv[1], "fault-threads") == 0 && (strcmp(argv[6], "one") == 0 || strcmp(argv[6], "per-thread") == 0))
        bench_fault_threads(atol(argv[2]), atoi(argv[3]), argv[4], argv[5], strcmp(argv[6], "per-thread") == 0);
    else if (argc >= 3 && strcmp(argv[1], "enable") == 0) bench_enable(atol(argv[2]));
    else if (argc >= 4 && strcmp(argv[1], "swapout") == 0) bench_swapout(atol(argv[2]), argv[3], 0);
    else if (argc >= 4 && strcmp(argv[1], "swapout-flush") == 0) bench_swapout(atol(argv[2]), argv[3], 1);
    else if (argc >= 4 && strcmp(argv[1], "swapin") == 0) bench_swapin(atol(argv[2]), argv[3]);
    else if (argc >= 3 && strcmp(argv[1], "limit-enable") == 0) bench_limit_enable(atol(argv[2]));
    else if (argc >= 6 && strcmp(argv[1], "limit-swapout") == 0) bench_limit_swapout(atol(argv[2]), argv[3], strtoul(argv[4], NULL, 10), strtoul(argv[5], NULL, 10));
    else if (argc >= 5 && strcmp(argv[1], "limit-swapin") == 0) bench_limit_swapin(atol(argv[2]), argv[3], strtoul(argv[4], NULL, 10));
    else if (argc >= 8 && strcmp(argv[1], "kvm-fault") == 0) bench_kvm_fault(atol(argv[2]), argv[3], argv[4], atoi(argv[5]), argv[6], argv[7]);
    else {
        fprintf(stderr, "usage: native_ref fault <pages> <staging|file|zero> <seq|random> <swap-dir>\n"
                        "       native_ref fault-threads <pages> <threads> <seq|random> <swap-dir> <one|per-thread>\n"
                        "       native_ref enable <pages> | swapout[-flush] <pages> <swap-dir> | swapin <pages> <swap-dir>\n"
                        "       native_ref limit-enable <pages> | limit-swapout <pages> <swap-dir> <chunk-bytes> <sync-every-bytes>\n"
                        "       native_ref limit-swapin <pages> <swap-dir> <chunk-bytes>\n"
                        "       native_ref kvm-fault <pages> <staging|file|zero> <seq|random> <vcpus> <swap-dir> <guest-program-file>\n");
        return 2;
    }
    return 0;
}
