/* Corpus replayer: runs LLVMFuzzerTestOneInput over every file in the
 * files and directories given, so each fuzzer's corpus is a plain unit test
 * (and runs under ASan/UBSan in that tier) without libFuzzer.  Fails when
 * nothing was replayed, so an empty or misplaced corpus cannot pass. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "macro.h"
#include "fuzz.h"

#define INPUT_MAX (1024 * 1024)

static int replay_file(const char *path) {
        _cleanup_(freep) char *buf = NULL;
        size_t n;
        int r;

        r = read_full_file(path, INPUT_MAX, &buf, &n);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(-r));
                return r;
        }
        LLVMFuzzerTestOneInput((const uint8_t *)buf, n);
        return 0;
}

static DIR *opendir_cloexec(const char *path) {
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return NULL;
        DIR *d = fdopendir(fd);
        if (!d)
                close(fd);
        return d;
}

static int replay_dir(const char *dir, size_t *count) {
        DIR *d = opendir_cloexec(dir);
        struct dirent *de;
        int r = 0;

        if (!d) {
                fprintf(stderr, "%s: %m\n", dir);
                return -errno;
        }
        while ((de = readdir(d))) {
                char path[4096];

                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
                r = replay_file(path);
                if (r < 0)
                        break;
                (*count)++;
        }
        closedir(d);
        return r;
}

int main(int argc, char **argv) {
        size_t count = 0;

        for (int i = 1; i < argc; i++) {
                struct stat st;
                int r;

                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %m\n", argv[i]);
                        return EXIT_FAILURE;
                }
                if (S_ISDIR(st.st_mode))
                        r = replay_dir(argv[i], &count);
                else {
                        r = replay_file(argv[i]);
                        count += r >= 0;
                }
                if (r < 0)
                        return EXIT_FAILURE;
        }
        printf("replayed %zu inputs\n", count);
        return count > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
