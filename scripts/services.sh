#!/usr/bin/env bash
# Real servers for the test suite: a Docker engine and the mirror registry it uses.
#
#   scripts/services.sh up           install what is missing, start/reuse mirror + engine,
#                                    write .services/env (KEY=value lines)
#   scripts/services.sh down         stop what `up` started
#   scripts/services.sh base-images  build (cached) and push the base images to the mirror
#   scripts/services.sh status       print .services/env and whether the servers answer
#   scripts/services.sh clean        down, then delete the engine's image store (cold cache)
#
# Overrides (for a second, independent stack or a cache reset): REPROBUILD_SERVICES_DIR,
# REPROBUILD_ENGINE_RUN (/run/reprobuild-test), REPROBUILD_ENGINE_DATA (/var/lib/reprobuild-test),
# REPROBUILD_STORAGE_DRIVERS ("overlay2 fuse-overlayfs vfs"), REPROBUILD_TEST_CACHE,
# REPROBUILD_DEBIAN_MIRROR. An engine named by DOCKER_HOST, or answering on the default socket,
# is used as is (REPROBUILD_TEST_MIRROR_CONFIGURED=0 unless it already uses the mirror).
#
# Idempotent and safe to rerun: leftovers of an earlier run (stale pid files, a dockerd
# started with another mirror port, old .services/ dirs) are detected, never trusted.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES_DIR="${REPROBUILD_SERVICES_DIR:-$REPO_ROOT/.services}"
ENV_FILE="$SERVICES_DIR/env"
MIRROR_DIR="$SERVICES_DIR/mirror"
# dockerd keeps its image store outside .services/ so the base-image cache survives `down`
# and a deleted checkout; exec-root stays short because containerd socket paths are limited.
ENGINE_RUN="${REPROBUILD_ENGINE_RUN:-/run/reprobuild-test}"
ENGINE_DATA="${REPROBUILD_ENGINE_DATA:-/var/lib/reprobuild-test}"
ENGINE_SOCK="$ENGINE_RUN/docker.sock"
ENGINE_PID="$ENGINE_RUN/dockerd.pid"
ENGINE_LOG="$SERVICES_DIR/dockerd.log"
DEFAULT_SOCK="/var/run/docker.sock"
WAIT_S="${REPROBUILD_SERVICES_WAIT_S:-90}"
DOCKER_CLI="$(command -v docker || echo /usr/bin/docker)"

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

pid_alive() {  # a running process (zombies left by a killed parent do not count)
    [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null || return 1
    local state
    state="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)"
    [[ "$state" != Z ]]
}

pid_is() {  # pid_is PID NAME: the process exists and its executable is NAME
    local exe
    exe="$(readlink "/proc/$1/exe" 2>/dev/null || true)"
    [[ "$(basename "${exe%% (deleted)}")" == "$2" ]]
}

stop_pid() {  # stop_pid PID: TERM, wait, then KILL
    local pid="$1" i
    pid_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        pid_alive "$pid" || return 0
        sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
}

free_port() {  # an unused loopback TCP port in the ephemeral range
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + RANDOM % 40000))
        if [[ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]]; then
            echo "$p"
            return 0
        fi
    done
    die "no free TCP port found on 127.0.0.1"
}

# ---------------------------------------------------------------- packages
ensure_packages() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    [[ -x /usr/bin/docker-registry ]] || missing+=(docker-registry)
    command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
    command -v skopeo >/dev/null || missing+=(skopeo)
    ((${#missing[@]} == 0)) && return 0
    [[ $EUID -eq 0 ]] || die "missing packages ${missing[*]} and not root: apt-get install them"
    log "installing ${missing[*]} (apt)"
    # Keep the packages' init scripts from starting a system dockerd/registry.
    local policy_created=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        policy_created=1
    fi
    local rc=0
    {
        DEBIAN_FRONTEND=noninteractive apt-get update -q &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    } >"$SERVICES_DIR/apt.log" 2>&1 || rc=$?
    ((policy_created)) && rm -f /usr/sbin/policy-rc.d
    ((rc == 0)) || die "apt-get install ${missing[*]} failed (see $SERVICES_DIR/apt.log)"
    DOCKER_CLI="$(command -v docker || echo /usr/bin/docker)"
}

# ---------------------------------------------------------------- mirror registry
mirror_answers() {  # mirror_answers PORT
    curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$1/v2/"
}

ensure_mirror() {
    mkdir -p "$MIRROR_DIR"
    local pid port
    pid="$(cat "$MIRROR_DIR/pid" 2>/dev/null || true)"
    port="$(cat "$MIRROR_DIR/port" 2>/dev/null || true)"
    if pid_alive "$pid" && pid_is "$pid" docker-registry && [[ -n "$port" ]] &&
        mirror_answers "$port"; then
        log "mirror registry already running on 127.0.0.1:$port (pid $pid)"
        MIRROR_PORT="$port"
        return 0
    fi
    if pid_alive "$pid" && pid_is "$pid" docker-registry; then
        log "stopping unhealthy mirror registry (pid $pid)"
        stop_pid "$pid"
    fi
    rm -rf "$MIRROR_DIR/storage" "$MIRROR_DIR/pid" "$MIRROR_DIR/port"
    mkdir -p "$MIRROR_DIR/storage"
    # Prefer the previous port: a running dockerd is wired to it and needs no restart.
    local previous="$port" attempt i
    for ((attempt = 0; attempt < 5; attempt++)); do
        if ((attempt == 0)) && [[ -n "$previous" && -z "$(ss -Hltn "sport = :$previous")" ]]; then
            port="$previous"
        else
            port="$(free_port)"
        fi
        cat >"$MIRROR_DIR/config.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $MIRROR_DIR/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: reprobuild-test-mirror-$port
  headers:
    X-Content-Type-Options: [nosniff]
EOF
        setsid /usr/bin/docker-registry serve "$MIRROR_DIR/config.yml" \
            >"$MIRROR_DIR/log" 2>&1 </dev/null 9>&- &
        pid=$!
        for ((i = 0; i < 100; i++)); do
            pid_alive "$pid" || break
            if mirror_answers "$port"; then
                echo "$pid" >"$MIRROR_DIR/pid"
                echo "$port" >"$MIRROR_DIR/port"
                MIRROR_PORT="$port"
                log "mirror registry started on 127.0.0.1:$port (pid $pid)"
                return 0
            fi
            sleep 0.1
        done
        stop_pid "$pid"
        log "mirror registry did not come up on port $port, retrying"
    done
    die "mirror registry failed to start: $(tail -5 "$MIRROR_DIR/log" 2>/dev/null)"
}

# ---------------------------------------------------------------- engine
engine_answers() {  # engine_answers DOCKER_HOST
    DOCKER_HOST="$1" timeout 10 "$DOCKER_CLI" version --format '{{.Server.Version}}' \
        >/dev/null 2>&1
}

engine_mirrors() {  # the registry mirrors an engine was started with, one per line
    DOCKER_HOST="$1" timeout 10 "$DOCKER_CLI" info \
        --format '{{range .RegistryConfig.Mirrors}}{{println .}}{{end}}' 2>/dev/null || true
}

engine_driver() {
    DOCKER_HOST="$1" timeout 10 "$DOCKER_CLI" info --format '{{.Driver}}' 2>/dev/null || true
}

stop_own_engine() {
    local pid
    pid="$(cat "$ENGINE_PID" 2>/dev/null || true)"
    if pid_alive "$pid" && pid_is "$pid" dockerd; then
        log "stopping dockerd (pid $pid)"
        stop_pid "$pid"
    fi
    # A dockerd killed hard leaves its containerd (or a zombie pid file) behind; the next
    # dockerd would wait for it and time out.
    local cpid
    cpid="$(cat "$ENGINE_RUN/exec/containerd/containerd.pid" 2>/dev/null || true)"
    if pid_alive "$cpid" && pid_is "$cpid" containerd; then
        log "stopping leftover containerd (pid $cpid)"
        stop_pid "$cpid"
    fi
    rm -f "$ENGINE_PID" "$ENGINE_SOCK" "$ENGINE_RUN/exec/containerd/containerd.pid"
}

start_own_engine() {  # start_own_engine DRIVER -> 0 when it answers
    local driver="$1" mirror_url="$2" pid i
    mkdir -p "$ENGINE_RUN/exec" "$ENGINE_DATA/$driver"
    log "starting dockerd (storage driver $driver, mirror $mirror_url)"
    [[ -f "$ENGINE_LOG" ]] && mv -f "$ENGINE_LOG" "$ENGINE_LOG.prev"
    setsid dockerd \
        --host "unix://$ENGINE_SOCK" \
        --data-root "$ENGINE_DATA/$driver" \
        --exec-root "$ENGINE_RUN/exec" \
        --pidfile "$ENGINE_PID" \
        --storage-driver "$driver" \
        --bridge=none --iptables=false --ip-masq=false \
        --registry-mirror "$mirror_url" \
        >"$ENGINE_LOG" 2>&1 </dev/null 9>&- &
    pid=$!
    for ((i = 0; i < WAIT_S * 5; i++)); do
        pid_alive "$pid" || return 1
        if engine_answers "unix://$ENGINE_SOCK"; then
            echo "$driver" >"$ENGINE_RUN/driver"
            return 0
        fi
        sleep 0.2
    done
    stop_pid "$pid"
    return 1
}

ensure_engine() {
    local own_host="unix://$ENGINE_SOCK" mirror_url="http://127.0.0.1:$MIRROR_PORT"
    ENGINE_OWNED=0
    # 1. An engine the caller points at (unless it is ours from an earlier run).
    if [[ -n "${DOCKER_HOST:-}" && "$DOCKER_HOST" != "$own_host" ]]; then
        engine_answers "$DOCKER_HOST" || die "DOCKER_HOST=$DOCKER_HOST does not answer"
        ENGINE_HOST="$DOCKER_HOST"
        log "using the engine at DOCKER_HOST=$ENGINE_HOST"
        return 0
    fi
    # 2. A system engine on the default socket.
    if [[ -S "$DEFAULT_SOCK" ]] && engine_answers "unix://$DEFAULT_SOCK"; then
        ENGINE_HOST="unix://$DEFAULT_SOCK"
        log "using the running engine at $ENGINE_HOST"
        return 0
    fi
    # 3. Our own dockerd: reuse only when healthy and wired to the current mirror.
    ENGINE_HOST="$own_host"
    ENGINE_OWNED=1
    mkdir -p "$ENGINE_RUN"
    local pid
    pid="$(cat "$ENGINE_PID" 2>/dev/null || true)"
    if pid_alive "$pid" && pid_is "$pid" dockerd && engine_answers "$own_host"; then
        if engine_mirrors "$own_host" | grep -qx "$mirror_url/\?"; then
            log "dockerd already running (pid $pid) with mirror $mirror_url"
            return 0
        fi
        log "dockerd (pid $pid) uses another mirror: restarting it"
    fi
    stop_own_engine
    [[ $EUID -eq 0 ]] || die "no Docker engine answers and not root: cannot start dockerd"
    local driver
    for driver in ${REPROBUILD_STORAGE_DRIVERS:-overlay2 fuse-overlayfs vfs}; do
        if [[ "$driver" == fuse-overlayfs ]] && ! command -v fuse-overlayfs >/dev/null; then
            continue
        fi
        if start_own_engine "$driver" "$mirror_url"; then
            log "dockerd answers at $own_host (storage driver $driver)"
            return 0
        fi
        log "dockerd failed with storage driver $driver: $(tail -3 "$ENGINE_LOG")"
        stop_own_engine
        # Fall back to the next driver only when this one is the problem.
        if ! grep -iE "level=(error|fatal)|failed to start daemon" "$ENGINE_LOG" |
            grep -qiE "graphdriver|storage.driver|driver not supported|overlay|fuse"; then
            start_own_engine "$driver" "$mirror_url" && return 0
            die "dockerd could not start (see $ENGINE_LOG)"
        fi
    done
    die "dockerd could not start (see $ENGINE_LOG)"
}

write_env() {
    local configured=0 driver
    if engine_mirrors "$ENGINE_HOST" | grep -qx "http://127.0.0.1:$MIRROR_PORT/\?"; then
        configured=1
    fi
    driver="$(engine_driver "$ENGINE_HOST")"
    local tmp="$ENV_FILE.tmp.$$"
    {
        echo "DOCKER_HOST=$ENGINE_HOST"
        echo "REPROBUILD_TEST_MIRROR=127.0.0.1:$MIRROR_PORT"
        echo "REPROBUILD_TEST_MIRROR_CONFIGURED=$configured"
        echo "REPROBUILD_TEST_ENGINE_OWNED=$ENGINE_OWNED"
        echo "REPROBUILD_TEST_STORAGE_DRIVER=$driver"
    } >"$tmp"
    mv "$tmp" "$ENV_FILE"
    if ((configured == 0)); then
        log "WARNING: the engine at $ENGINE_HOST does not use the mirror" \
            "127.0.0.1:$MIRROR_PORT; tests that need FROM-by-mirror will fail"
    fi
    log "wrote $ENV_FILE"
}

# ---------------------------------------------------------------- commands
with_lock() {  # serialise concurrent callers (parallel helpers, xdist workers)
    mkdir -p "$SERVICES_DIR"
    exec 9>"$SERVICES_DIR/lock"
    flock -w 600 9 || die "timed out waiting for $SERVICES_DIR/lock"
}

cmd_up() {
    with_lock
    local t0=$SECONDS
    ensure_packages
    ensure_mirror
    ensure_engine
    write_env
    log "up in $((SECONDS - t0)) s"
}

cmd_down() {
    with_lock
    stop_own_engine
    local pid
    pid="$(cat "$MIRROR_DIR/pid" 2>/dev/null || true)"
    if pid_alive "$pid" && pid_is "$pid" docker-registry; then
        log "stopping mirror registry (pid $pid)"
        stop_pid "$pid"
    fi
    rm -rf "$MIRROR_DIR" "$ENV_FILE"
    unmount_engine_leftovers
    log "down"
}

unmount_engine_leftovers() {  # dockerd leaves its data-root bind mount and netns mounts
    local mnt
    awk '{print $2}' /proc/mounts | { grep -E "^($ENGINE_DATA|$ENGINE_RUN)(/|$)" || true; } | sort -r |
        while read -r mnt; do
            umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
        done
}

cmd_clean() {  # down + drop the engine's image store (the base-image cache)
    cmd_down
    rm -rf "$ENGINE_DATA" "${REPROBUILD_TEST_CACHE:-/var/tmp/reprobuild-test}"
    log "removed $ENGINE_DATA"
}

cmd_base_images() {
    cmd_up
    exec 9>&-  # the Python builder takes the lock itself for the parts that need it
    local py="$REPO_ROOT/.venv/bin/python"
    [[ -x "$py" ]] || py="$(command -v python3)"
    cd "$REPO_ROOT"
    "$py" -m tests.harness.base_images --env-file "$ENV_FILE"
}

cmd_status() {
    [[ -f "$ENV_FILE" ]] || die "no $ENV_FILE: run scripts/services.sh up"
    cat "$ENV_FILE"
    # shellcheck disable=SC1090
    source "$ENV_FILE"
    if engine_answers "$DOCKER_HOST"; then log "engine answers"; else log "engine does NOT answer"; fi
    if mirror_answers "${REPROBUILD_TEST_MIRROR##*:}"; then
        log "mirror answers"
    else
        log "mirror does NOT answer"
    fi
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    base-images) cmd_base_images ;;
    status) cmd_status ;;
    clean) cmd_clean ;;
    *)
        echo "usage: $0 up|down|base-images|status|clean" >&2
        exit 2
        ;;
esac
