# shellcheck shell=bash
# Sourced by packaging/static-build: one function per library Debian ships
# without a usable static archive.  Each builds ONLY the archive the agent
# links, with only the features the agent uses, and copies it to OUT:
#
#   recipe_<name> SRC BUILD OUT
#
# SRC is the unpacked Debian source tree, BUILD a scratch directory (removed
# before the call), OUT the cache directory that receives lib<name>.a.
# Bump RECIPE_REV when a recipe changes so cached archives are rebuilt;
# a change to packaging/static/patches/<name> rebuilds that archive by
# itself (its hash is part of the cache key).
# The headers the agent compiles against stay the installed -dev package's:
# static-build picks the source version equal to the installed one.

# shellcheck disable=SC2034  # read by packaging/static-build
RECIPE_REV=2
STATIC_CFLAGS="-O2 -g0 -fPIC -ffunction-sections -fdata-sections"
STATIC_JOBS=${STATIC_JOBS:-2}
STATIC_PATCHES=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/patches

# archive_privatize ARCHIVE PUBLIC_REGEX: a static archive exports every
# internal global a shared library would have hidden (libsystemd.a brings
# log_internal, loop_write, service_state_to_string ..., libxkbcommon.a
# brings parse, parse_string ...), which collide with ours at link time.
# Every global defined in ARCHIVE that is not public API is renamed to
# vmba_<lib>_<name>, in all members at once, so the archive's own
# references follow and nothing outside can bind to them.
archive_privatize() {
        local a=$1 public=$2 map=$1.redefine tag
        tag=$(basename "$a" .a)
        tag=${tag#lib}
        nm -g --defined-only "$a" | awk 'NF == 3 && $2 ~ /[A-TV-Z]/ { print $3 }' |
                { grep -Ev "$public" || true; } | sort -u |
                awk -v p="vmba_${tag}_" '{ print $1, p $1 }' >"$map"
        objcopy --redefine-syms="$map" "$a"
        rm -f "$map"
}

# libsystemd: sd_notify, journal and sd-event are all the agent uses.
# skip-deps turns every optional dependency off (no lz4/zstd/xz/gcrypt to
# link); the archive target alone, never the rest of systemd.  version.h is
# generated first: systemd 252's build misses that ordering edge for
# libsystemd.a alone.
recipe_systemd() {
        local src=$1 bld=$2 out=$3
        meson setup "$bld" "$src" \
                -Dskip-deps=true -Dstatic-libsystemd=pic -Dtests=false \
                -Dman=false -Dhtml=false -Dtranslations=false \
                -Dmode=release -Dbuildtype=release -Db_lto=false \
                -Dlink-udev-shared=false -Dstandalone-binaries=false
        ninja -C "$bld" -j"$STATIC_JOBS" version.h
        ninja -C "$bld" -j"$STATIC_JOBS" libsystemd.a
        cp "$bld/libsystemd.a" "$out/"
        archive_privatize "$out/libsystemd.a" '^sd_'
}

# libxkbcommon: libxdo calls xkb_keysym_to_utf32 only.  No X11/Wayland
# helpers, no registry (it would need libxml2), no tools, no docs.  The
# XKB data paths are the Debian ones so the image's xkb-data is found.
recipe_xkbcommon() {
        local src=$1 bld=$2 out=$3
        meson setup "$bld" "$src" \
                -Ddefault_library=static -Db_staticpic=true -Dbuildtype=release \
                -Denable-x11=false -Denable-wayland=false -Denable-docs=false \
                -Denable-tools=false -Denable-xkbregistry=false \
                -Dxkb-config-root=/usr/share/X11/xkb \
                -Dx-locale-root=/usr/share/X11/locale \
                -Dc_args="-ffunction-sections -fdata-sections"
        ninja -C "$bld" -j"$STATIC_JOBS" libxkbcommon.a
        cp "$bld/libxkbcommon.a" "$out/"
        archive_privatize "$out/libxkbcommon.a" '^xkb_'
}

# patched_copy NAME SRC DIR: DIR receives a copy of SRC with the patches in
# packaging/static/patches/NAME applied in name order; the cached source
# stays as Debian ships it.  static-build keys the archive by them.
patched_copy() {
        local name=$1 src=$2 dir=$3 p
        cp -a "$src" "$dir"
        for p in "$STATIC_PATCHES/$name"/*.patch; do
                # --fuzz=0: a patch whose context moved (a new Debian
                # revision) fails here rather than land elsewhere.
                patch -d "$dir" -p1 --forward --fuzz=0 --no-backup-if-mismatch <"$p"
        done
}

# libmicrohttpd: Debian's own libmicrohttpd.a is built with GnuTLS, which a
# static link would drag in with nettle, p11-kit, idn2, tasn1 ...  The agent
# serves plain HTTP on the VM's private link, so TLS is configured out.
# patches/microhttpd: header lines a proxy in front would read otherwise
# are refused, and the error answers it queues are sent (each patch says
# why).
recipe_microhttpd() {
        local src=$1 bld=$2 out=$3
        mkdir -p "$bld"
        patched_copy microhttpd "$src" "$bld/src"
        (cd "$bld" && CFLAGS="$STATIC_CFLAGS" "$bld/src/configure" \
                --disable-shared --enable-static --with-pic \
                --disable-https --without-gnutls --disable-doc \
                --disable-examples --disable-curl --disable-nls \
                --enable-asserts=no)
        make -C "$bld/src/microhttpd" -j"$STATIC_JOBS" libmicrohttpd.la
        cp "$bld/src/microhttpd/.libs/libmicrohttpd.a" "$out/"
        archive_privatize "$out/libmicrohttpd.a" '^MHD_'
}

# libxdo: its Makefile knows only the shared library and a static xdotool
# binary, so the two library objects are built by its own rules and
# archived here.  CFLAGS through the environment: the Makefile appends
# its include flags with +=, which a command-line CFLAGS would discard.
recipe_xdo() {
        local src=$1 bld=$2 out=$3
        cp -a "$src" "$bld"
        CFLAGS="$STATIC_CFLAGS" make -C "$bld" xdo.o xdo_search.o
        ar rcs "$out/libxdo.a" "$bld/xdo.o" "$bld/xdo_search.o"
        archive_privatize "$out/libxdo.a" '^xdo_'
}
