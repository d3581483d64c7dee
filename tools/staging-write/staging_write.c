// How fast a swap-out's writes go, by how they read staging.
//
// Staging is a memfd filled with pwrite (as Enable fills it), so its mapping holds no page table
// entry. Its MIB are then written in 2 MiB chunks to an O_TMPFILE in SWAPDIR, writeback started
// after each chunk and fdatasync at the end, as the runtime's swap-out does, reading staging:
//   mapping   pwrite from the memfd's mapping (a page fault per source page)
//   populate  MADV_POPULATE_READ on the chunk's mapping first, then pwrite from it
//   bounce    pread from the memfd into a 2 MiB buffer, then pwrite from that
//   sendfile  sendfile from the memfd (the kernel copies; nothing is mapped)
// This machine's disk is shared: run the modes interleaved, several times each.
//
//   cc -O2 tools/staging-write/staging_write.c -o staging_write
//   for i in 1 2 3; do for m in mapping sendfile; do ./staging_write 512 $m SWAPDIR; done; done
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

#define CHUNK (2UL << 20)

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: staging_write MIB mapping|populate|bounce|sendfile SWAPDIR\n");
        return 2;
    }
    size_t size = strtoul(argv[1], NULL, 10) << 20;
    const char *mode = argv[2];
    int staging = memfd_create("staging", 0);
    if (staging < 0 || ftruncate(staging, size) < 0) die("memfd");
    char *buffer = aligned_alloc(4096, CHUNK);
    memset(buffer, 7, CHUNK);
    for (size_t off = 0; off < size; off += CHUNK)
        if (pwrite(staging, buffer, CHUNK, off) != (ssize_t)CHUNK) die("pwrite staging");
    char *map = mmap(NULL, size, PROT_READ, MAP_SHARED, staging, 0);
    if (map == MAP_FAILED) die("mmap");
    int file = open(argv[3], O_TMPFILE | O_RDWR, 0600);
    if (file < 0) die("open O_TMPFILE");

    double t0 = now_s();
    for (size_t off = 0; off < size; off += CHUNK) {
        if (strcmp(mode, "mapping") == 0) {
            if (pwrite(file, map + off, CHUNK, off) != (ssize_t)CHUNK) die("pwrite");
        } else if (strcmp(mode, "populate") == 0) {
            if (madvise(map + off, CHUNK, MADV_POPULATE_READ) < 0) die("madvise");
            if (pwrite(file, map + off, CHUNK, off) != (ssize_t)CHUNK) die("pwrite");
        } else if (strcmp(mode, "bounce") == 0) {
            if (pread(staging, buffer, CHUNK, off) != (ssize_t)CHUNK) die("pread");
            if (pwrite(file, buffer, CHUNK, off) != (ssize_t)CHUNK) die("pwrite");
        } else if (strcmp(mode, "sendfile") == 0) {
            off_t in = off;
            if (lseek(file, off, SEEK_SET) < 0) die("lseek");
            for (size_t done = 0; done < CHUNK;) {
                ssize_t n = sendfile(file, staging, &in, CHUNK - done);
                if (n <= 0) die("sendfile");
                done += n;
            }
        } else {
            fprintf(stderr, "unknown mode %s\n", mode);
            return 2;
        }
        if (sync_file_range(file, off, CHUNK, SYNC_FILE_RANGE_WRITE) < 0) die("sync_file_range");
    }
    if (fdatasync(file) < 0) die("fdatasync");
    double s = now_s() - t0;
    printf("%-8s %zu MiB in %.3f s: %.2f GiB/s\n", mode, size >> 20, s, size / s / (1UL << 30));
    return 0;
}
