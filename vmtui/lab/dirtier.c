/*
 * vmtui lab guest memory dirtier (built static into the guest's initramfs by `vmtui lab image`).
 *
 * Usage: dirtier [MIB [MIB_PER_S]]. Without arguments it reads `vmtui_dirty=MIB` and
 * `vmtui_rate=MIB_PER_S` from /proc/cmdline, so a guest's load is chosen in its domain XML.
 * It keeps rewriting MIB MiB: one 8-byte write per 4 KiB page per pass, with data that changes each
 * pass (so neither KSM nor zero-page detection can skip it), at most MIB_PER_S MiB/s (0 = flat out).
 * Every 10 s it prints the achieved rate on the console.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The number after `key` in /proc/cmdline, or `fallback`. */
static double cmdline_value(const char *key, double fallback) {
    char buf[4096];
    FILE *f = fopen("/proc/cmdline", "r");
    if (!f) return fallback;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    for (char *p = strstr(buf, key); p; p = strstr(p + 1, key)) {
        /* Match whole words only: `vmtui_dirty=` but not `xvmtui_dirty=`. */
        if (p == buf || p[-1] == ' ') return atof(p + strlen(key));
    }
    return fallback;
}

int main(int argc, char **argv) {
    double mib = argc > 1 ? atof(argv[1]) : cmdline_value("vmtui_dirty=", 0);
    double rate = argc > 2 ? atof(argv[2]) : cmdline_value("vmtui_rate=", 0);
    if (mib <= 0) {
        printf("dirtier: nothing to dirty (vmtui_dirty=0)\n");
        return 0;
    }
    size_t size = (size_t)(mib * 1048576.0);
    unsigned char *mem = malloc(size);
    if (!mem) {
        perror("dirtier: malloc");
        return 1;
    }
    printf("dirtier: %.0f MiB at %s%.0f MiB/s\n", mib, rate > 0 ? "" : "up to ", rate);
    fflush(stdout);
    double start = now(), last_report = start;
    unsigned long pass = 0, pages = 0;
    for (;;) {
        pass++;
        for (size_t off = 0; off + sizeof(unsigned long) <= size; off += PAGE) {
            *(unsigned long *)(mem + off) = pass * 2654435761UL + off + 1;
            pages++;
            /* Pace every 256 pages (1 MiB): sleep until the written amount matches the rate. */
            if (rate > 0 && (pages & 255) == 0) {
                double due = (double)pages * PAGE / 1048576.0 / rate;
                double elapsed = now() - start;
                if (due > elapsed) usleep((useconds_t)((due - elapsed) * 1e6));
            }
        }
        double t = now();
        if (t - last_report >= 10) {
            printf("dirtier: pass %lu, %.1f MiB/s\n", pass, (double)pages * PAGE / 1048576.0 / (t - start));
            fflush(stdout);
            last_report = t;
        }
    }
}
