# shellcheck shell=bash
# Sourced by packaging/static-build: fetches Debian SOURCE packages without
# touching the machine's apt configuration.  The machine's own entries are
# copied into a private apt directory with their type rewritten to deb-src
# (so no archive host name is ever written down: it comes from the entry this
# machine already trusts), and apt-get runs with Dir::Etc::sourcelist,
# Dir::Etc::sourceparts, Dir::State::Lists and Dir::Cache pointing there.
# Downloads are verified by apt against the signed Sources index.
#
# Functions (all take the cache directory from $STATIC_CACHE):
#   apt_src_init              build the private config and refresh its lists
#   apt_src_fetch PKG VER DIR unpack source package PKG=VER into DIR

apt_src_dir() { echo "$STATIC_CACHE/apt"; }

apt_src_opts() {
        local d
        d=$(apt_src_dir)
        echo "-o Dir::Etc::sourcelist=$d/sources.list" \
             "-o Dir::Etc::sourceparts=$d/sources.list.d" \
             "-o Dir::State::Lists=$d/lists" \
             "-o Dir::Cache=$d/cache" \
             "-o APT::Sandbox::User=root"
}

# Rewrites every enabled entry of the machine into deb-src form: deb822
# .sources files get "Types: deb-src", one-line .list files get "deb-src".
apt_src_write_config() {
        local d=$1 f
        rm -rf "$d/sources.list.d" && mkdir -p "$d/sources.list.d"
        : >"$d/sources.list"
        if [ -f /etc/apt/sources.list ]; then
                sed -nE 's/^[[:space:]]*deb[[:space:]]+/deb-src /p' /etc/apt/sources.list >>"$d/sources.list"
        fi
        for f in /etc/apt/sources.list.d/*.list; do
                [ -f "$f" ] || continue
                sed -nE 's/^[[:space:]]*deb[[:space:]]+/deb-src /p' "$f" >>"$d/sources.list"
        done
        for f in /etc/apt/sources.list.d/*.sources; do
                [ -f "$f" ] || continue
                sed -E 's/^Types:.*/Types: deb-src/' "$f" >"$d/sources.list.d/$(basename "$f")"
        done
}

apt_src_init() {
        local d stamp
        d=$(apt_src_dir)
        mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
        apt_src_write_config "$d"
        stamp="$d/lists/.updated"
        # Sources indexes change rarely; refresh at most daily so a second
        # run of the static build needs no network at all.
        if [ -z "$(find "$stamp" -mmin -1440 2>/dev/null)" ]; then
                # shellcheck disable=SC2046
                apt-get -q $(apt_src_opts) update >"$d/update.log" 2>&1 ||
                        { cat "$d/update.log" >&2; return 1; }
                touch "$stamp"
        fi
}

# Packages that may be built from the upstream tarball alone when the
# archive no longer serves their Debian diff (seen for
# xdotool_3.20160805.1-5.debian.tar.xz, a 404 on this machine's mirror;
# its patches touch nothing libxdo's calls here use).  Any other package
# fails instead: its Debian patches may be security fixes.
APT_SRC_UNPATCHED_OK=${APT_SRC_UNPATCHED_OK:-xdotool}

# apt_src_fetch PKG VERSION DIR: DIR receives the unpacked source tree of
# PKG=VERSION, Debian patches applied; without them (a package of
# APT_SRC_UNPATCHED_OK whose diff cannot be downloaded) with a warning.
apt_src_fetch() {
        local pkg=$1 ver=$2 dir=$3 dl nover orig
        [ -f "$dir/.unpacked" ] && return 0
        dl="$STATIC_CACHE/download/$pkg"
        mkdir -p "$dl"
        nover=${ver#*:}
        rm -rf "$dir" && mkdir -p "$(dirname "$dir")"
        # shellcheck disable=SC2046
        if (cd "$dl" && apt-get -q $(apt_src_opts) source --download-only "$pkg=$ver") \
                        >"$dl/fetch.log" 2>&1; then
                dpkg-source --no-check -x "$dl/${pkg}_${nover}.dsc" "$dir" >"$dl/unpack.log" 2>&1 ||
                        { cat "$dl/unpack.log" >&2; return 1; }
        else
                case " $APT_SRC_UNPATCHED_OK " in
                *" $pkg "*) ;;
                *) cat "$dl/fetch.log" >&2
                   echo "static-build: the Debian source of $pkg $ver cannot be downloaded whole" >&2
                   return 1 ;;
                esac
                # shellcheck disable=SC2046
                (cd "$dl" && apt-get -q $(apt_src_opts) source --download-only --tar-only "$pkg=$ver") \
                        >>"$dl/fetch.log" 2>&1 || { cat "$dl/fetch.log" >&2; return 1; }
                orig=$(ls "$dl/${pkg}_${nover%-*}".orig.tar.* 2>/dev/null | head -1)
                [ -n "$orig" ] || { echo "no upstream tarball for $pkg $ver" >&2; return 1; }
                echo "static-build: warning: Debian diff of $pkg $ver not downloadable; building the upstream tarball unpatched" >&2
                mkdir -p "$dir"
                tar -xf "$orig" -C "$dir" --strip-components=1
        fi
        touch "$dir/.unpacked"
}
