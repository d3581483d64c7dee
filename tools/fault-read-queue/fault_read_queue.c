// How long a fault's small read waits at the disk while a swap-in streams the same file.
//
// One thread reads FILE front to back in 2 MiB windows, as swap-in does; another makes random
// 32 KiB reads in the file's second half every 2 ms, as fault reads do, and times each. The
// stream reads through the file's page cache with the kernel's read-ahead ("buffered", dropping
// each window's cache after it, as the runtime did) or with O_DIRECT ("direct") in pieces of
// PIECE_KIB; with "give-way" it starts no piece while a fault read runs, as SwapInStream does.
// "idle" runs the fault reads alone. The file's page cache is dropped first.
//
//   cc -O2 -pthread tools/fault-read-queue/fault_read_queue.c -o fault_read_queue
//   dd if=/dev/urandom of=SWAPDIR/f bs=1M count=1024 && sync
//   ./fault_read_queue SWAPDIR/f idle|buffered|direct [PIECE_KIB] [give-way]
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define WINDOW (2L << 20)
#define FAULT_READ 32768L

static const char *path;
static long file_size, piece;
static int direct, give_way;
static volatile int stream_done, fault_read_running;
static double stream_mb_s;

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void *stream(void *unused)
{
    (void)unused;
    int fd = open(path, O_RDONLY | (direct ? O_DIRECT : 0));
    char *buffer = mmap(NULL, WINDOW, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (fd < 0 || buffer == MAP_FAILED) {
        perror("stream");
        exit(1);
    }
    double start = now_us();
    for (long offset = 0; offset < file_size; offset += WINDOW) {
        for (long p = 0; p < WINDOW; p += piece) {
            while (give_way && fault_read_running)
                usleep(20);
            if (pread(fd, buffer + p, piece, offset + p) != piece) {
                perror("pread (stream)");
                exit(1);
            }
        }
        if (!direct)
            posix_fadvise(fd, offset, WINDOW, POSIX_FADV_DONTNEED);
    }
    stream_mb_s = file_size / (now_us() - start);
    stream_done = 1;
    return NULL;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FILE idle|buffered|direct [PIECE_KIB] [give-way]\n", argv[0]);
        return 2;
    }
    path = argv[1];
    int idle = strcmp(argv[2], "idle") == 0;
    direct = strcmp(argv[2], "direct") == 0;
    piece = (argc > 3 ? atol(argv[3]) : 2048) << 10;
    give_way = argc > 4 && strcmp(argv[4], "give-way") == 0;
    if (piece <= 0 || WINDOW % piece != 0) {
        fprintf(stderr, "PIECE_KIB must divide 2048\n");
        return 2;
    }

    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    file_size = lseek(fd, 0, SEEK_END) / WINDOW * WINDOW;
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    char *buffer = mmap(NULL, FAULT_READ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    pthread_t streamer;
    if (!idle)
        pthread_create(&streamer, NULL, stream, NULL);
    usleep(20000);

    static double waits[2000];
    int n = 0;
    srand(1);
    long slots = file_size / 2 / FAULT_READ;
    while ((idle || !stream_done) && n < 2000) {
        long offset = file_size / 2 + (rand() % slots) * FAULT_READ;
        double start = now_us();
        fault_read_running = 1;
        if (pread(fd, buffer, FAULT_READ, offset) != FAULT_READ) {
            perror("pread (fault)");
            return 1;
        }
        fault_read_running = 0;
        waits[n++] = now_us() - start;
        usleep(2000);
    }
    if (!idle)
        pthread_join(streamer, NULL);

    qsort(waits, n, sizeof waits[0], by_value);
    printf("%s piece %ld KiB%s: stream %.0f MB/s; fault reads %d, p50 %.0f us, p90 %.0f us, p99 %.0f us, max %.0f us\n",
        argv[2], piece >> 10, give_way ? " give-way" : "", stream_mb_s, n, waits[n / 2], waits[n * 9 / 10], waits[n * 99 / 100], waits[n - 1]);
    return 0;
}
