# shellcheck shell=bash disable=SC2034  # TESSERA_* variables are read by the sourcing scripts
# Podman on a machine with no Docker engine and no reachable registry: a private configuration,
# a private store, and a local debian:bookworm-slim made with debootstrap from the machine's own
# apt mirror. Sourced (not run) by docker/test and by any other script that needs the image:
#
#   source docker/podman.sh
#   tessera_podman_init || { echo "SKIPPED: $TESSERA_PODMAN_SKIP"; exit 0; }
#   tessera_base_image                 # docker.io/library/debian:bookworm-slim, from a cached tar
#   tessera_build_image localhost/tessera:mytag
#   tpodman run -d -p 127.0.0.1::6379 -e TESSERA_PASSWORD=... localhost/tessera:mytag
#
# Why each piece (measured on the project's machines, see the container-ci reference):
#   - crun fails here ("cgroups in hybrid mode not supported"): the runtime is runc.
#   - root lacks CAP_SYS_RESOURCE, so podman's default ulimits fail in setrlimit: the containers get
#     the current hard limits instead (nproc at most 32768, podman's own cap).
#   - /etc is left alone: CONTAINERS_CONF points at a generated file, and every podman call goes
#     through tpodman with --root/--runroot under TESSERA_CONTAINER_CACHE.
#   - the base image comes from the machine's apt sources (never a hard-coded host); its tar is
#     cached, keyed by those sources, and rebuilt after TESSERA_BASE_MAX_AGE_DAYS.
#   - one lock serialises every user of the store (flock on $TESSERA_CONTAINER_CACHE/lock).
#
# Environment: TESSERA_CONTAINER_CACHE (default /var/cache/tessera), TESSERA_PODMAN_RUNROOT
# (default /run/tessera-podman), TESSERA_BASE_MAX_AGE_DAYS (default 14).

TESSERA_CONTAINER_CACHE=${TESSERA_CONTAINER_CACHE:-/var/cache/tessera}
TESSERA_PODMAN_RUNROOT=${TESSERA_PODMAN_RUNROOT:-/run/tessera-podman}
TESSERA_BASE_MAX_AGE_DAYS=${TESSERA_BASE_MAX_AGE_DAYS:-14}
TESSERA_BASE_IMAGE=docker.io/library/debian:bookworm-slim
TESSERA_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TESSERA_PODMAN_SKIP=

# Podman with the private store (CONTAINERS_CONF is exported by tessera_podman_init); as an array
# too, for `timeout 10 "${TESSERA_PODMAN[@]}" ...`. The lock's descriptor is not inherited, so a
# container's conmon never keeps the store locked.
TESSERA_PODMAN=(podman --root "$TESSERA_CONTAINER_CACHE/podman/root" --runroot "$TESSERA_PODMAN_RUNROOT")
TESSERA_LOCK_FD=
tpodman() {
  if [ -n "$TESSERA_LOCK_FD" ]; then
    "${TESSERA_PODMAN[@]}" "$@" {TESSERA_LOCK_FD}>&-
  else
    "${TESSERA_PODMAN[@]}" "$@"
  fi
}

# The machine's enabled Debian bookworm apt entries, one per line: "URI SUITE COMPONENT...".
# Reads deb822 (*.sources) and one-line (sources.list, *.list) files; ignores deb-src, disabled
# entries and every suite that is not bookworm or one of its -updates/-security/-backports.
tessera_apt_entries() {
  local files=() f
  [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  [ ${#files[@]} -gt 0 ] || return 0
  local list=() sources=()
  for f in "${files[@]}"; do
    case "$f" in *.sources) sources+=("$f") ;; *) list+=("$f") ;; esac
  done
  {
    if [ ${#list[@]} -gt 0 ]; then
      awk '/^[ \t]*deb[ \t]/ {
             sub(/#.*/, ""); i = 2
             if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
             line = $(i) " " $(i + 1)
             for (j = i + 2; j <= NF; j++) line = line " " $j
             print line
           }' "${list[@]}"
    fi
    if [ ${#sources[@]} -gt 0 ]; then
      for f in "${sources[@]}"; do
        awk 'function flush() {
               if (types ~ /(^| )deb( |$)/ && enabled !~ /^(no|false)$/ && uris != "") {
                 n = split(uris, u, " "); m = split(suites, s, " ")
                 for (a = 1; a <= n; a++) for (b = 1; b <= m; b++) print u[a] " " s[b] " " comps
               }
               types = uris = suites = comps = enabled = ""
             }
             /^[ \t]*#/ { next }
             /^[ \t]*$/ { flush(); next }
             {
               key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^[ \t]+/, "")
               if (key == "types") types = $0
               else if (key == "uris") uris = $0
               else if (key == "suites") suites = $0
               else if (key == "components") comps = $0
               else if (key == "enabled") enabled = tolower($0)
             }
             END { flush() }' "$f"
      done
    fi
  } | awk '$2 ~ /^bookworm(-updates|-security|-backports|\/updates)?$/ && NF >= 3' | sort -u
}

# Sets up the private configuration; returns 1 with TESSERA_PODMAN_SKIP set when this machine
# cannot build and run the image (not root, tools missing, no apt mirror configured).
tessera_podman_init() {
  if [ "$(id -u)" -ne 0 ]; then
    TESSERA_PODMAN_SKIP="not root (podman needs root here: runc, iptables for -p, debootstrap)"
    return 1
  fi
  local t missing=()
  for t in podman runc debootstrap tar flock; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    TESSERA_PODMAN_SKIP="missing ${missing[*]} (scripts/setup container installs them)"
    return 1
  fi
  if [ -z "$(tessera_apt_mirror)" ]; then
    TESSERA_PODMAN_SKIP="no Debian bookworm apt mirror configured in /etc/apt (needed for the base image)"
    return 1
  fi

  mkdir -p "$TESSERA_CONTAINER_CACHE/podman/root" "$TESSERA_CONTAINER_CACHE/base" \
           "$TESSERA_PODMAN_RUNROOT" "$TESSERA_CONTAINER_CACHE/podman/networks"
  local nofile nproc
  nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] && nofile=1048576
  [ "$nofile" -gt 1048576 ] && nofile=1048576
  nproc=$(ulimit -Hu); { [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
  local conf=$TESSERA_CONTAINER_CACHE/podman/containers.conf
  cat >"$conf.new" <<EOF
# Generated by docker/podman.sh; every value is explained there.
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$TESSERA_PODMAN_RUNROOT/libpod"

[network]
network_config_dir = "$TESSERA_CONTAINER_CACHE/podman/networks"
EOF
  mv "$conf.new" "$conf"
  # The store, whatever /etc/containers/storage.conf says (tpodman passes the same paths).
  local storage=$TESSERA_CONTAINER_CACHE/podman/storage.conf
  cat >"$storage.new" <<EOF
# Generated by docker/podman.sh.
[storage]
driver = "${TESSERA_STORAGE_DRIVER:-overlay}"
graphroot = "$TESSERA_CONTAINER_CACHE/podman/root"
runroot = "$TESSERA_PODMAN_RUNROOT"
EOF
  mv "$storage.new" "$storage"
  export CONTAINERS_CONF=$conf CONTAINERS_STORAGE_CONF=$storage
  return 0
}

# Takes the store's lock (waits up to 30 minutes); held until the calling shell exits.
tessera_podman_lock() {
  exec {TESSERA_LOCK_FD}>"$TESSERA_CONTAINER_CACHE/lock"
  if ! flock -w 1800 "$TESSERA_LOCK_FD"; then
    echo "podman.sh: could not lock $TESSERA_CONTAINER_CACHE/lock within 30 minutes" >&2
    return 1
  fi
}

# The mirror debootstrap uses: the URI of the machine's plain "bookworm" entry.
tessera_apt_mirror() {
  tessera_apt_entries | awk '$2 == "bookworm" { print $1; exit }'
}

# Makes docker.io/library/debian:bookworm-slim in the private store, from the cached tar when it
# is there and fresh, else with debootstrap (about 40 s). Prints what it did on stderr.
tessera_base_image() {
  local entries key tar
  entries=$(tessera_apt_entries)
  # The key changes when the sources or this recipe change (bump the trailing version then).
  key=$(printf '%s\nrecipe 1\n' "$entries" | sha256sum | cut -c1-16)
  tar=$TESSERA_CONTAINER_CACHE/base/debian-bookworm-slim-$key.tar
  if [ -f "$tar" ] && [ -n "$(find "$tar" -mtime -"$TESSERA_BASE_MAX_AGE_DAYS")" ]; then
    echo "base: cached $tar" >&2
  else
    tessera_make_base_tar "$entries" "$tar" || return 1
    find "$TESSERA_CONTAINER_CACHE/base" -name 'debian-bookworm-slim-*.tar' ! -path "$tar" -delete
  fi
  local have
  have=$(tpodman image inspect --format '{{index .Labels "tessera.base.key"}}' \
           "$TESSERA_BASE_IMAGE" 2>/dev/null || true)
  if [ "$have" != "$key" ]; then
    echo "base: importing $tar as $TESSERA_BASE_IMAGE" >&2
    tpodman import --quiet --change 'CMD ["bash"]' --change "LABEL tessera.base.key=$key" \
      "$tar" "$TESSERA_BASE_IMAGE" >/dev/null || return 1
  fi
}

# tessera_make_base_tar ENTRIES TAR: debootstrap --variant=minbase, trimmed the way the official
# -slim images are, with the machine's Debian apt sources (and its Acquire:: settings, e.g. a
# proxy or Check-Valid-Until for a snapshot mirror) so apt in the image reaches the same mirror.
tessera_make_base_tar() {
  local entries=$1 tar=$2 mirror work rootfs
  mirror=$(awk '$2 == "bookworm" { print $1; exit }' <<<"$entries")
  work=$(mktemp -d "$TESSERA_CONTAINER_CACHE/base/work.XXXXXX") || return 1
  rootfs=$work/rootfs
  echo "base: debootstrap --variant=minbase bookworm from $mirror" >&2
  local start=$SECONDS
  if ! debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
    echo "base: debootstrap failed; the end of its log:" >&2
    tail -n 30 "$work/debootstrap.log" >&2
    [ -f "$rootfs/debootstrap/debootstrap.log" ] && tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2
    rm -rf "$work"
    return 1
  fi

  # apt sources: the machine's Debian entries, with Debian's keyring (in the rootfs already).
  rm -f "$rootfs/etc/apt/sources.list"
  awk '{ printf "Types: deb\nURIs: %s\nSuites: %s\nComponents:", $1, $2
         for (i = 3; i <= NF; i++) printf " %s", $i
         printf "\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n" }' \
    <<<"$entries" >"$rootfs/etc/apt/sources.list.d/debian.sources"
  local f
  for f in /etc/apt/apt.conf.d/* /etc/apt/apt.conf; do
    [ -f "$f" ] || continue
    if grep -q '^[[:space:]]*Acquire' "$f"; then
      grep -E '^[[:space:]]*Acquire' "$f" >"$rootfs/etc/apt/apt.conf.d/50host-$(basename "$f")"
    fi
  done
  # What debuerreotype's -slim variant does: no docs, man pages or translations now or later,
  # no apt caches in layers.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$rootfs/etc/apt/apt.conf.d/docker-no-recommends"
  find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete 2>/dev/null
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null
  rm -rf "${rootfs:?}"/usr/share/{man,groff,info,lintian,linda}/* "${rootfs:?}"/var/lib/apt/lists/* \
         "${rootfs:?}"/var/cache/apt/*.bin "${rootfs:?}"/var/cache/apt/archives/*.deb \
         "${rootfs:?}"/var/cache/debconf/*-old "${rootfs:?}"/var/log/*.log "${rootfs:?}"/var/log/apt/* \
         "${rootfs:?}"/dev/* "${rootfs:?}"/proc/* "${rootfs:?}"/sys/* "${rootfs:?}"/tmp/* "${rootfs:?}"/run/*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  : >"$rootfs/etc/hostname"
  : >"$rootfs/etc/resolv.conf"

  if ! tar -C "$rootfs" --numeric-owner --xattrs -cf "$tar.part" .; then
    rm -rf "$work" "$tar.part"
    return 1
  fi
  mv "$tar.part" "$tar"
  rm -rf "$work"
  echo "base: made $tar ($(du -m "$tar" | cut -f1) MB) in $((SECONDS - start)) s" >&2
}

# tessera_build_image TAG [podman build options...]: builds docker/Dockerfile (or
# $TESSERA_DOCKERFILE) from the repository root, in Docker image format so that HEALTHCHECK is kept
# (OCI has no place for it).
tessera_build_image() {
  local tag=$1; shift
  tpodman build --format docker --pull=never --network host --layers -t "$tag" \
    -f "${TESSERA_DOCKERFILE:-$TESSERA_REPO_ROOT/docker/Dockerfile}" "$@" "$TESSERA_REPO_ROOT"
}
