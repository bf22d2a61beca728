#!/usr/bin/env bash
# Image smoke: builds the container image from the Dockerfile with podman and runs README's Docker
# commands against it, line by line, checking what a user would see.
#
# No Docker engine runs on these machines, and podman cannot start containers either (crun refuses
# the host's hybrid cgroup layout), but podman can build an image and mount its file system. So:
#
# - The base image, `debian:bookworm-slim`, is made locally with `debootstrap --variant=minbase
#   bookworm` and `podman import` (the registries that serve images are out of reach). podman's
#   image store keeps it, so later runs on the same machine skip this step (about a minute).
# - `docker build` is `podman build --format docker` (HEALTHCHECK is a Docker-format field) with
#   chroot isolation, never pulling.
# - `docker run` and `docker start` run the image's file system as the image says, with nothing
#   repeated here: its User, Env, WorkingDir, Entrypoint and Cmd, read from `podman image
#   inspect`. The container is a root change (`unshare --root --wd --setuid --setgid`: chroot
#   with a user spec that also honours WorkingDir, which `chroot` cannot) into an overlay of the
#   mounted image, with the named volume bound at its path (copied up from the image when new, as
#   Docker does), /proc, a minimal /dev, and its own mount, PID and network namespaces: the
#   entrypoint is PID 1 there, as in Docker. `-p` publishes nothing: the checks reach the port
#   from inside the container's network namespace.
# - `docker exec` and the health check enter the container's namespaces the same way;
#   `docker stop` sends SIGTERM to PID 1 and waits for the container's stop timeout.
#
# The build stage: the Dockerfile's runtime stage takes the binary from a stage named by the
# POOLSLEUTH_BINARY build argument. Users get `build` (compiled in rust:1.95-bookworm); this
# script builds with POOLSLEUTH_BINARY=prebuilt, the release binary CI has just built, so the
# runtime stage it tests is the same Dockerfile text users build, with no second copy of it.
# Compiling the build stage here instead would add a second release build (plus cargo-chef and
# its dependency build) to every CI run, about 10 minutes on two cores, and test a Rust image
# made from this host's toolchain rather than the rust:1.95-bookworm users pull, since no
# toolchain can be downloaded here. hadolint lints the build stage in CI.
#
# Checks, beyond each command succeeding: the server comes up (GET /healthz) as PID 1 of its
# namespace under the image's uid, which is not root; the health check says healthy; the list
# imported into the volume is served; `docker stop` ends the server cleanly (exit 0) within the
# stop timeout; after `docker start` on the same volume the list is still there.
#
# Needs root, podman, debootstrap, curl and util-linux's unshare/nsenter (.ci/run installs them).
set -eEuo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
# A command that fails (rather than a check, which calls die) says which, and on which README line.
readme_line=""
trap 'echo "image-smoke: FAILED: $BASH_COMMAND exited with $?${readme_line:+, running README line: $readme_line}" >&2' ERR

say() { echo "image-smoke: $*"; }
die() {
  echo "image-smoke: FAILED: $*" >&2
  exit 1
}

base_image=localhost/debian:bookworm-slim
readme_marker='<!-- docker-commands -->'
fixture_list=tests/fixtures/image_smoke/pooltag.txt
fixture_tag='Psmk'

# --- What the machine needs. Under CI a missing piece fails loudly; nothing is skipped.
[ "$(id -u)" = 0 ] || die "must run as root (mounts, namespaces and podman's root store)"
for tool in podman debootstrap curl jq unshare nsenter ip pgrep; do
  command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install podman debootstrap curl jq iproute2)"
done
if ! podman_info=$(podman info 2>&1); then
  die "podman cannot run here: $podman_info"
fi

work=$(mktemp -d /var/tmp/poolsleuth-image-smoke.XXXXXX)
image_root=""
image_mounted=""
server_pid=""
unshare_pid=""
# Ends a running container: SIGKILL to its PID 1 ends its PID namespace. (Killing unshare would
# not do: the parent-death signal of --kill-child is cleared when the child changes its uid.)
kill_container() {
  if [ -n "$server_pid" ]; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  if [ -n "$unshare_pid" ]; then wait "$unshare_pid" 2>/dev/null || true; fi
  server_pid=""
  unshare_pid=""
}
cleanup() {
  kill_container
  if [ -n "$image_mounted" ]; then podman image unmount "$image_mounted" >/dev/null || true; fi
  # Earlier builds' images, left untagged by this one's; the tagged images stay as the cache.
  podman image prune --force >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' INT TERM # so that cleanup runs then too

# --- The base image, made once per machine.
if podman image exists "$base_image"; then
  say "base image $base_image: cached ($(podman image inspect --format '{{.Created}}' "$base_image"))"
else
  say "base image $base_image: debootstrap --variant=minbase bookworm"
  started=$SECONDS
  rootfs="$work/debootstrap"
  debootstrap --variant=minbase bookworm "$rootfs" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*
  # The official image's config: PATH and a shell as the default command.
  tar -C "$rootfs" -c . | podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --message "debootstrap --variant=minbase bookworm, made by scripts/image-smoke.sh" \
    - "$base_image" >/dev/null
  rm -rf "$rootfs"
  say "base image made in $((SECONDS - started)) s"
fi

# The binary the `prebuilt` stage takes (CI has built it; cargo only checks it is current).
cargo build --release --locked --bin poolsleuth --quiet

# --- The container: one at a time, as README's commands use one.
name=""
image=""
stop_timeout=10
declare -a volume_names=() volume_paths=() env_file_args=() env_args=() cmd_override=()
declare -a container_env=() entrypoint=() cmd=() healthcheck=()
user=""
workdir=""
layer="$work/container"
container_port=""
imported_lists=()
entries_before_stop=""

inspect_image() {
  podman image inspect --format "$1" "$image"
}

# One list field of the image's configuration, an element a line (podman adds a blank last line).
inspect_image_list() {
  inspect_image "{{range $1}}{{println .}}{{end}}" | sed '/^$/d'
}

# The image's configuration, as `docker run` reads it.
read_image_config() {
  mapfile -t container_env < <(inspect_image_list .Config.Env)
  mapfile -t entrypoint < <(inspect_image_list .Config.Entrypoint)
  mapfile -t cmd < <(inspect_image_list .Config.Cmd)
  mapfile -t healthcheck < <(inspect_image '{{if .Config.Healthcheck}}{{range .Config.Healthcheck.Test}}{{println .}}{{end}}{{end}}' | sed '/^$/d')
  user=$(inspect_image '{{.Config.User}}')
  workdir=$(inspect_image '{{.Config.WorkingDir}}')
  [ -n "$workdir" ] || workdir=/
  [ ${#entrypoint[@]} -gt 0 ] || [ ${#cmd[@]} -gt 0 ] || die "$image has neither Entrypoint nor Cmd"
}

# Docker's env-file format: KEY=VALUE lines, taken literally; blank lines and # comments skipped.
read_env_file() {
  local file=$1 line
  [ -f "$file" ] || die "--env-file $file: no such file"
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      '' | '#'*) ;;
      *=*) container_env+=("$line") ;;
      *) die "--env-file $file: '$line' takes its value from the host, which this script does not emulate" ;;
    esac
  done <"$file"
}

numeric_id() { # NAME-OR-ID DATABASE: resolves a user or group inside the image.
  local id=$1 db=$2
  if [[ "$id" =~ ^[0-9]+$ ]]; then
    echo "$id"
  else
    awk -F: -v n="$id" '$1 == n {print $3; found=1} END {exit !found}' "$image_root/etc/$db" \
      || die "image user spec names $id, which is not in /etc/$db"
  fi
}

# The command line the container's processes run with: its environment only, as the image's user
# in its root and working directory.
container_exec_prefix() {
  image_uid=$(numeric_id "${user%%:*}" passwd)
  if [[ "$user" == *:* ]]; then
    image_gid=$(numeric_id "${user#*:}" group)
  else
    # As Docker: the user's group from the image's passwd, else root's.
    image_gid=$(awk -F: -v u="$image_uid" '$3 == u {print $4}' "$image_root/etc/passwd")
    image_gid=${image_gid:-0}
  fi
  exec_prefix=(env -i "${container_env[@]}" "$(command -v unshare)" --root="$layer/root"
    --wd="$workdir" --setuid="$image_uid" --setgid="$image_gid" --)
}

start_container() {
  [ -z "$server_pid" ] || die "container $name is already running"
  mkdir -p "$layer/upper" "$layer/overlay-work" "$layer/root"
  local mounts="" i
  for i in "${!volume_names[@]}"; do
    mounts+="mount --bind '$work/volumes/${volume_names[$i]}' '$layer/root${volume_paths[$i]}'; "
  done
  container_exec_prefix
  local argv=("${entrypoint[@]}")
  if [ ${#cmd_override[@]} -gt 0 ]; then argv+=("${cmd_override[@]}"); else argv+=("${cmd[@]}"); fi
  say "container $name: ${argv[*]} as $user in $workdir"
  # The mounts are made inside the container's own mount namespace, so they vanish with it.
  unshare --mount --net --pid --fork --kill-child -- /bin/sh -c "
    set -e
    ip link set lo up
    mount -t overlay overlay -o 'lowerdir=$image_root,upperdir=$layer/upper,workdir=$layer/overlay-work' '$layer/root'
    $mounts
    mount -t proc proc '$layer/root/proc'
    mount -t tmpfs -o nosuid,mode=755 tmpfs '$layer/root/dev'
    for node in null zero full random urandom tty; do
      touch '$layer/root/dev/'\$node
      mount --bind /dev/\$node '$layer/root/dev/'\$node
    done
    exec \"\$@\"" sh "${exec_prefix[@]}" "${argv[@]}" >>"$layer/log" 2>&1 &
  unshare_pid=$!
  until server_pid=$(pgrep -P "$unshare_pid"); do
    kill -0 "$unshare_pid" 2>/dev/null || { cat "$layer/log" >&2; die "container $name did not start"; }
    sleep 0.1
  done
  check_server_up
}

in_container() { # runs a host command in the container's network namespace
  nsenter --target "$server_pid" --net -- "$@"
}

check_server_up() {
  local deadline=$((SECONDS + 60))
  until in_container curl -fsS -o /dev/null "http://127.0.0.1:$container_port/healthz" 2>/dev/null; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      tail -n 30 "$layer/log" >&2
      die "the server exited before answering /healthz"
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "no answer from /healthz on port $container_port in 60 s"
    sleep 0.2
  done
  # What runs is the entrypoint itself (no shell left in between), as PID 1 of its namespace,
  # under the image's user and never root.
  local status uid gid nspid
  status=$(cat "/proc/$server_pid/status")
  uid=$(awk '/^Uid:/ {print $3}' <<<"$status")
  gid=$(awk '/^Gid:/ {print $3}' <<<"$status")
  nspid=$(awk '/^NSpid:/ {print $NF}' <<<"$status")
  [ "$nspid" = 1 ] || die "the server is PID $nspid in its namespace, not PID 1"
  [ "$uid" != 0 ] || die "the server runs as root"
  [ "$uid:$gid" = "$image_uid:$image_gid" ] || die "the server runs as $uid:$gid, the image says $user"
  [ "$(readlink "/proc/$server_pid/exe")" = "$layer/root${entrypoint[0]}" ] \
    || die "PID 1 is $(readlink "/proc/$server_pid/exe"), not the entrypoint ${entrypoint[0]}"
  say "/healthz answers; PID 1 of its namespace, uid $uid gid $gid (image: User $user)"
}

# `docker exec` and the health check: the container's namespaces, root, user and environment.
exec_in_container() {
  container_exec_prefix
  nsenter --target "$server_pid" --mount --net --pid -- "${exec_prefix[@]}" "$@"
}

api_get() {
  in_container curl -fsS "http://127.0.0.1:$container_port$1"
}

list_entries() { # prints the entry count of one source from /api/v1/lists
  api_get /api/v1/lists | jq -e --arg n "$1" '[.. | objects | select(.name? == $n)][0].entries'
}

# --- docker subcommands, as README's lines use them.
docker_build() {
  say "podman build (README: docker build $*)"
  local started=$SECONDS
  podman build --format docker --isolation=chroot --cgroup-manager=cgroupfs --pull=never \
    --build-arg POOLSLEUTH_BINARY=prebuilt "$@" >"$work/build.log" 2>&1 \
    || { tail -n 40 "$work/build.log" >&2; die "podman build failed"; }
  say "image built in $((SECONDS - started)) s"
}

docker_run() {
  local detached=""
  while [ $# -gt 0 ]; do
    case "$1" in
      -d | --detach) detached=1 ;;
      --name) name=$2; shift ;;
      -p | --publish) container_port=${2##*:}; shift ;;
      -v | --volume)
        local volume=${2%%:*} path=${2#*:}
        [[ "$volume" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || die "-v $2: only named volumes are emulated"
        volume_names+=("$volume")
        volume_paths+=("$path")
        shift
        ;;
      --env-file) env_file_args+=("$2"); shift ;;
      -e | --env) env_args+=("$2"); shift ;;
      --stop-timeout) stop_timeout=$2; shift ;;
      -*) die "docker run $1: an option this script does not emulate" ;;
      *) image=$1; shift; cmd_override=("$@"); break ;;
    esac
    shift
  done
  [ -n "$detached" ] || die "docker run without -d: the script runs detached containers only"
  if [ -z "$name" ] || [ -z "$image" ]; then die "docker run needs --name and an image"; fi
  [ -n "$container_port" ] || die "docker run without -p: nothing to check the server on"
  podman image exists "$image" || die "no image $image (README's docker build should have made it)"
  image_mounted=$image
  image_root=$(podman image mount "$image")
  read_image_config
  cmp -s "$image_root${entrypoint[0]}" "$repo/target/release/poolsleuth" \
    || die "the image's ${entrypoint[0]} is not target/release/poolsleuth"
  local file assignment
  for file in "${env_file_args[@]}"; do read_env_file "$file"; done
  for assignment in "${env_args[@]}"; do
    [[ "$assignment" == *=* ]] || die "-e $assignment: values from the host are not emulated"
    container_env+=("$assignment")
  done
  local i
  for i in "${!volume_names[@]}"; do
    local dir="$work/volumes/${volume_names[$i]}" from="$image_root${volume_paths[$i]}"
    if [ ! -d "$dir" ]; then
      # A new named volume starts as a copy of what the image has at its path, owner and mode too.
      mkdir -p "$dir"
      if [ -d "$from" ]; then
        cp -a "$from/." "$dir/"
        chown --reference="$from" "$dir"
        chmod --reference="$from" "$dir"
      fi
    fi
  done
  start_container
}

docker_inspect() {
  if [ "$*" != "--format {{.State.Health.Status}} $name" ]; then
    die "docker inspect $*: only --format '{{.State.Health.Status}}' of the container is emulated"
  fi
  [ ${#healthcheck[@]} -gt 1 ] || die "the image has no HEALTHCHECK"
  local test=("${healthcheck[@]:1}")
  case "${healthcheck[0]}" in
    CMD) ;;
    CMD-SHELL) test=(/bin/sh -c "${test[*]}") ;;
    *) die "HEALTHCHECK ${healthcheck[0]}: not a command" ;;
  esac
  # Docker keeps the check's output in the health log; here it goes to the container's log.
  if exec_in_container "${test[@]}" >>"$layer/log" 2>&1; then
    echo healthy
  else
    die "the health check (${test[*]}) failed: unhealthy"
  fi
}

docker_cp() {
  local source=$1 target=$2
  [[ "$target" == "$name:"* ]] || die "docker cp $*: only copies into the container are emulated"
  nsenter --target "$server_pid" --mount -- cp -- "$PWD/$source" "$layer/root${target#"$name":}"
}

docker_exec() {
  [ "$1" = "$name" ] || die "docker exec $1: no such container (the container is $name)"
  shift
  # Remembers what the lines import, to look for it after the restart.
  local i
  for ((i = 1; i <= $#; i++)); do
    if [ "${!i}" = import ]; then
      local next=$((i + 1)) arg
      while [ "$next" -le $# ]; do
        arg=${!next}
        if [ "$arg" = --name ]; then next=$((next + 1)); imported_lists+=("${!next}"); fi
        next=$((next + 1))
      done
    fi
  done
  exec_in_container "$@"
}

docker_stop() {
  local timeout=$stop_timeout
  while [ $# -gt 1 ]; do
    case "$1" in
      -t | --time) timeout=$2; shift 2 ;;
      *) die "docker stop $1: an option this script does not emulate" ;;
    esac
  done
  [ "$1" = "$name" ] || die "docker stop $1: no such container"
  [ -n "$server_pid" ] || die "docker stop: $name is not running"
  # What the imported lists hold, to compare after the next start.
  local list
  entries_before_stop=""
  for list in "${imported_lists[@]}"; do
    entries_before_stop+="$list=$(list_entries "$list") "
  done
  local started=$SECONDS
  kill -TERM "$server_pid"
  local deadline=$((SECONDS + timeout))
  while kill -0 "$server_pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill_container
      die "the server did not stop within the stop timeout ($timeout s) after SIGTERM"
    fi
    sleep 0.1
  done
  local status=0
  wait "$unshare_pid" || status=$?
  server_pid=""
  unshare_pid=""
  [ "$status" = 0 ] || { tail -n 20 "$layer/log" >&2; die "the server exited with status $status after SIGTERM"; }
  say "stopped by SIGTERM in $((SECONDS - started)) s (stop timeout $timeout s), exit status 0"
}

docker_start() {
  [ "$1" = "$name" ] || die "docker start $1: no such container"
  start_container
}

# --- README's Docker commands, in order: the block after the marker comment.
mapfile -t readme_lines < <(awk -v marker="$readme_marker" '
  index($0, marker) == 1 {found = 1; next}
  found && /^```/ {if (fence) exit; fence = 1; next}
  found && fence {
    if (sub(/\\$/, "")) {joined = joined $0; next}
    print joined $0; joined = ""
  }' README.md)
[ ${#readme_lines[@]} -gt 0 ] || die "README.md has no command block after $readme_marker"

cd "$work"
# README's pooltag.txt is the WDK's; a small list of the project's stands in for it.
cp "$repo/$fixture_list" pooltag.txt
ran=()
run_readme_line() {
  local line=$1
  case "$line" in
    '' | '#'*) return ;;
    'docker '*) ;;
    *)
      echo "+ $line"
      bash -euo pipefail -c "$line" || die "README line failed: $line"
      return
      ;;
  esac
  # The shell splits the line as a user's would (quotes, trailing comments).
  eval "set -- $line"
  local subcommand=$2
  shift 2
  echo "+ docker $subcommand $*"
  case "$subcommand" in
    build) (cd "$repo" && docker_build "$@") || exit 1 ;;
    run) docker_run "$@" ;;
    inspect) docker_inspect "$@" ;;
    cp) docker_cp "$@" ;;
    exec) docker_exec "$@" ;;
    stop) docker_stop "$@" ;;
    start) docker_start "$@" ;;
    *) die "docker $subcommand: a command this script does not emulate" ;;
  esac
  ran+=("$subcommand")
}

for readme_line in "${readme_lines[@]}"; do
  run_readme_line "$readme_line"
done
readme_line=""

# --- What the block as a whole must have shown.
for needed in build run inspect exec stop start; do
  [[ " ${ran[*]} " == *" $needed "* ]] || die "README's Docker commands no longer include docker $needed"
done
[ ${#imported_lists[@]} -gt 0 ] || die "README's Docker commands import no list"
[ -n "$entries_before_stop" ] || die "README's Docker commands do not stop the container after the import"
[ -n "$server_pid" ] || die "README's Docker commands leave the container stopped"
for list in "${imported_lists[@]}"; do
  entries=$(list_entries "$list") || die "list $list is gone after the restart"
  [[ "$entries_before_stop" == *"$list=$entries "* ]] \
    || die "list $list has $entries entries after the restart; before the stop: $entries_before_stop"
  say "list $list: $entries entries, the same after the restart"
done
api_get "/api/v1/tags/$fixture_tag" | grep -q "$fixture_tag" \
  || die "tag $fixture_tag of the imported list is not served after the restart"
[ -f "$work/volumes/${volume_names[0]}/index/meta.json" ] \
  || die "the index is not in the volume ${volume_names[0]}"
docker_stop "$name"
say "ok in $SECONDS s"
