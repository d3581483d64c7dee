// A VMM device process for vmm-swap's control socket (docs/PROTOCOL.md, "Device processes").
// It maps the guest's memfds at addresses of its own choosing, creates its own userfaultfd,
// hands it to the runtime with attach_process (SCM_RIGHTS), and then touches guest pages on
// command, so its faults are served by the runtime, into its own mapping, while the guest is
// swapped out.
//
//   device_process SOCKET [--guest ID] [--freeze] MEMFD:OFFSET:SIZE...
//
// MEMFD is a path to open (e.g. /proc/PID/fd/N of the VMM, as root or the VMM's user) or fd:N
// for a descriptor it inherited. Regions are given in the guest's order. Once attached it prints
// "attached ADDRESS..." (where it mapped each region), then reads commands on stdin, one a line,
// and answers each with one line:
//   read PAGE        the FNV-1a 64-bit hash of guest page PAGE, in hex (pages count across regions)
//   write PAGE BYTE  fills the page with BYTE; "ok"
//   conts            how many SIGCONTs it has received (the runtime resumes it so after a freeze)
//   detach           sends detach_process; the reply
//   close            closes its connection, staying alive (the runtime detaches it); "closed"
//   exit             closes the socket and exits (the runtime detaches it: its connection closed)
//
// Built by the tests with cc: cc -O2 -pthread -o device_process device_process.c
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_REGIONS 16
#define LINE 65536

struct region {
    char *base;
    size_t size;
};

static struct region regions[MAX_REGIONS];
static int region_count;
static long page_size;
static volatile sig_atomic_t conts;

static void die(const char *what) {
    fprintf(stderr, "device_process: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void on_cont(int sig) {
    (void)sig;
    conts++;
}

// Maps MEMFD:OFFSET:SIZE shared, wherever the kernel likes: not the VMM's addresses.
static void map_region(const char *spec) {
    char path[4096];
    long long offset, size;
    if (region_count == MAX_REGIONS || sscanf(spec, "%4095[^:]:%lld:%lld", path, &offset, &size) != 3) {
        fprintf(stderr, "device_process: bad region '%s' (MEMFD:OFFSET:SIZE, at most %d)\n", spec, MAX_REGIONS);
        exit(2);
    }
    int fd = strncmp(path, "fd:", 3) == 0 ? atoi(path + 3) : open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        die(path);
    void *base = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
    if (base == MAP_FAILED)
        die("mmap");
    close(fd);
    regions[region_count].base = base;
    regions[region_count].size = (size_t)size;
    region_count++;
}

static int make_uffd(void) {
    int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (uffd < 0)
        die("userfaultfd");
    struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_MISSING_SHMEM};
    if (ioctl(uffd, UFFDIO_API, &api) < 0)
        die("UFFDIO_API");
    return uffd;
}

static int connect_to(const char *path) {
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (s < 0)
        die("socket");
    if (strlen(path) >= sizeof addr.sun_path) {
        fprintf(stderr, "device_process: socket path too long\n");
        exit(2);
    }
    strcpy(addr.sun_path, path);
    if (connect(s, (struct sockaddr *)&addr, sizeof addr) < 0)
        die(path);
    return s;
}

// One whole request and its descriptor (if any) in one sendmsg: the protocol ties descriptors to
// the message whose bytes they came with.
static void send_line(int s, const char *line, int fd) {
    struct iovec iov = {.iov_base = (void *)line, .iov_len = strlen(line)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(&control, 0, sizeof control);
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof control.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    ssize_t sent = sendmsg(s, &msg, MSG_NOSIGNAL);
    if (sent < 0)
        die("sendmsg");
    if ((size_t)sent < iov.iov_len) {
        // The descriptor went with the first bytes; the rest follows plainly.
        const char *rest = line + sent;
        while (*rest) {
            ssize_t n = write(s, rest, strlen(rest));
            if (n < 0)
                die("write");
            rest += n;
        }
    }
}

static void read_line(int s, char *line) {
    size_t n = 0;
    while (n < LINE - 1) {
        ssize_t got = read(s, line + n, 1);
        if (got <= 0) {
            fprintf(stderr, "device_process: the runtime closed the connection\n");
            exit(4);
        }
        if (line[n] == '\n')
            break;
        n++;
    }
    line[n] = 0;
}

static int ok(const char *reply) { return strstr(reply, "\"ok\":true") != NULL; }

static char *page_address(long page) {
    for (int i = 0; i < region_count; i++) {
        long pages = (long)(regions[i].size / page_size);
        if (page < pages)
            return regions[i].base + page * page_size;
        page -= pages;
    }
    return NULL;
}

static uint64_t fnv1a(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

int main(int argc, char **argv) {
    const char *socket_path = NULL, *guest = "default";
    int freeze = 0;
    page_size = sysconf(_SC_PAGESIZE);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--guest") == 0 && i + 1 < argc)
            guest = argv[++i];
        else if (strcmp(argv[i], "--freeze") == 0)
            freeze = 1;
        else if (!socket_path)
            socket_path = argv[i];
        else
            map_region(argv[i]);
    }
    if (!socket_path || region_count == 0) {
        fprintf(stderr, "usage: device_process SOCKET [--guest ID] [--freeze] MEMFD:OFFSET:SIZE...\n");
        return 2;
    }
    signal(SIGCONT, on_cont);
    setvbuf(stdout, NULL, _IOLBF, 0);

    static char line[LINE], request[LINE];
    int uffd = make_uffd();
    int s = connect_to(socket_path);
    send_line(s, "{\"hello\":\"vmm-swap\",\"version\":1}\n", -1);
    read_line(s, line);
    if (!strstr(line, "\"version\":1")) {
        fprintf(stderr, "device_process: hello refused: %s\n", line);
        return 3;
    }

    int n = snprintf(request, sizeof request, "{\"id\":1,\"command\":\"attach_process\",\"guest\":\"%s\",\"pid\":%d,\"freeze\":%s,\"regions\":[",
                     guest, (int)getpid(), freeze ? "true" : "false");
    for (int i = 0; i < region_count; i++)
        n += snprintf(request + n, sizeof request - n, "%s%llu", i ? "," : "", (unsigned long long)(uintptr_t)regions[i].base);
    snprintf(request + n, sizeof request - n, "]}\n");
    send_line(s, request, uffd);
    read_line(s, line);
    if (!ok(line)) {
        fprintf(stderr, "device_process: attach refused: %s\n", line);
        return 3;
    }
    // The runtime holds its own copy; this process only touches memory from now on.
    close(uffd);

    printf("attached");
    for (int i = 0; i < region_count; i++)
        printf(" %llu", (unsigned long long)(uintptr_t)regions[i].base);
    printf("\n");

    char command[256];
    while (fgets(command, sizeof command, stdin)) {
        long page;
        int value;
        if (sscanf(command, "read %ld", &page) == 1 && page_address(page)) {
            printf("%016llx\n", (unsigned long long)fnv1a((unsigned char *)page_address(page), (size_t)page_size));
        } else if (sscanf(command, "write %ld %d", &page, &value) == 2 && page_address(page)) {
            memset(page_address(page), value, (size_t)page_size);
            printf("ok\n");
        } else if (strncmp(command, "conts", 5) == 0) {
            printf("%d\n", (int)conts);
        } else if (strncmp(command, "detach", 6) == 0) {
            send_line(s, "{\"id\":2,\"command\":\"detach_process\"}\n", -1);
            read_line(s, line);
            printf("%s\n", line);
        } else if (strncmp(command, "close", 5) == 0) {
            close(s);
            s = -1;
            printf("closed\n");
        } else if (strncmp(command, "exit", 4) == 0) {
            break;
        } else {
            printf("error: unknown command\n");
        }
    }
    if (s >= 0)
        close(s);
    return 0;
}
