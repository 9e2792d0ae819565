/* A light load generator for /stream: N clients on one epoll loop, counting whole frames.
 *
 *   cc -O2 -o loadgen bench/loadgen.c && ./loadgen PORT CLIENTS SECONDS [WARMUP [PATH]]
 *
 * A frame counts once the boundary after it arrives (as a browser shows it); frames are counted
 * only after the first WARMUP seconds (default 0), so rates show the steady state while the
 * first-frame times show the start. Prints one JSON
 * line: frames per client, seconds to each client's first whole frame, the HTTP status of
 * refused streams, connections closed early, and this process's CPU seconds. Python could not
 * read 2 GB/s of streams on one core without becoming the bottleneck; this can.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char BOUNDARY[] = "\r\n--frame\r\n";
#define OVERLAP (sizeof(BOUNDARY) - 2)

struct client {
    int fd;
    int sent;
    long frames;
    double opened;
    double first;
    int status;
    int closed;
    size_t tail_len;
    char tail[OVERLAP];
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long count(const char *data, size_t len) {
    long found = 0;
    const char *at = data, *end = data + len;
    while ((at = memmem(at, end - at, BOUNDARY, sizeof(BOUNDARY) - 1)) != NULL) {
        found++;
        at += sizeof(BOUNDARY) - 1;
    }
    return found;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s PORT CLIENTS SECONDS [WARMUP [PATH]]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]), n = atoi(argv[2]);
    double seconds = atof(argv[3]);
    double warmup = argc > 4 ? atof(argv[4]) : 0;
    const char *path = argc > 5 ? argv[5] : "/stream";
    char request[512];
    int request_len = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    struct client *clients = calloc(n, sizeof *clients);
    int epoll = epoll_create1(0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        clients[i].fd = fd;
        clients[i].opened = now();
        connect(fd, (struct sockaddr *)&address, sizeof address);
        struct epoll_event event = {.events = EPOLLOUT, .data.u32 = i};
        epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
    }
    size_t size = 4 << 20;
    char *buffer = malloc(size + OVERLAP);
    struct epoll_event events[256];
    double counting_from = now() + warmup;
    double deadline = now() + seconds;
    while (now() < deadline) {
        int ready = epoll_wait(epoll, events, 256, 100);
        for (int e = 0; e < ready; e++) {
            struct client *c = &clients[events[e].data.u32];
            if (!c->sent) {
                if (send(c->fd, request, request_len, MSG_NOSIGNAL) != request_len) {
                    c->closed = 1;
                    epoll_ctl(epoll, EPOLL_CTL_DEL, c->fd, NULL);
                    continue;
                }
                c->sent = 1;
                struct epoll_event event = {.events = EPOLLIN, .data.u32 = events[e].data.u32};
                epoll_ctl(epoll, EPOLL_CTL_MOD, c->fd, &event);
                continue;
            }
            memcpy(buffer, c->tail, c->tail_len);
            ssize_t got = recv(c->fd, buffer + c->tail_len, size, 0);
            if (got <= 0) {
                if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                c->closed = 1;
                epoll_ctl(epoll, EPOLL_CTL_DEL, c->fd, NULL);
                continue;
            }
            size_t len = c->tail_len + got;
            if (c->status == 0 && c->tail_len == 0 && len > 12 && memcmp(buffer, "HTTP/1.", 7) == 0)
                c->status = atoi(buffer + 9);
            long found = count(buffer, len);
            if (found && c->first == 0) c->first = now() - c->opened;
            if (now() >= counting_from) c->frames += found;
            c->tail_len = len < OVERLAP ? len : OVERLAP;
            memcpy(c->tail, buffer + len - c->tail_len, c->tail_len);
        }
    }
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("{\"frames\": [");
    for (int i = 0; i < n; i++) printf("%s%ld", i ? ", " : "", clients[i].frames);
    printf("], \"first_frame_s\": [");
    for (int i = 0; i < n; i++) printf("%s%.4f", i ? ", " : "", clients[i].first);
    printf("], \"status\": [");
    for (int i = 0; i < n; i++) printf("%s%d", i ? ", " : "", clients[i].status);
    int closed = 0;
    for (int i = 0; i < n; i++) closed += clients[i].closed;
    double cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
                 usage.ru_stime.tv_usec / 1e6;
    printf("], \"closed_early\": %d, \"cpu_s\": %.3f}\n", closed, cpu);
    for (int i = 0; i < n; i++) close(clients[i].fd);
    return 0;
}
