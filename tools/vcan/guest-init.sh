#!/bin/bash
# PID 1 inside the guest started by tools/vcan-run (uml: the first process; qemu: after qemu-init.sh has
# mounted the host's / and switched to it). The host filesystem is the root; $VCAN_RUN_DIR (from the kernel
# command line) holds what to run:
#   argv, env, cwd, buslogs  NUL-separated;  settings  KEY=VALUE lines (backend, module_base, stdout_device,
#   stderr_device, interfaces, stdout_is_tty, stderr_is_tty)
# and receives:  status (exit status of the command), setup-error (why the guest could not get ready),
#   timing (guest uptime when the command started).
# PID 1 must never exit (the kernel would panic): every path ends in power_off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
run_dir=$VCAN_RUN_DIR

power_off() {
    sync
    echo o >/proc/sysrq-trigger
    while :; do sleep 60; done
}

setup_error() {
    printf '%s\n' "$*" >"$run_dir/setup-error"
    power_off
}

# The host's /proc, /sys and /dev are visible through hostfs: cover them with the guest's own.
mount -t proc proc /proc || setup_error "cannot mount /proc"
mount -t sysfs sysfs /sys || setup_error "cannot mount /sys"
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev || setup_error "cannot mount /dev"
mkdir -p /dev/pts /dev/shm
# bash process substitution needs /dev/fd, which devtmpfs lacks.
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
mount -t devpts devpts /dev/pts
# multiprocessing semaphores live in /dev/shm; the guest's own keeps the host's untouched.
mount -t tmpfs -o mode=1777 tmpfs /dev/shm || setup_error "cannot mount /dev/shm"
[ -d "$run_dir" ] || setup_error "run directory $run_dir not visible in the guest"
read -r init_uptime _ </proc/uptime

backend=unknown
module_base=/lib/modules
stdout_device=/dev/ttyS0
stderr_device=/dev/ttyS1
interfaces=2
stdout_is_tty=0
stderr_is_tty=0
while IFS='=' read -r key value; do
    case "$key" in
        backend) backend=$value ;;
        module_base) module_base=$value ;;
        stdout_device) stdout_device=$value ;;
        stderr_device) stderr_device=$value ;;
        interfaces) interfaces=$value ;;
        stdout_is_tty) stdout_is_tty=$value ;;
        stderr_is_tty) stderr_is_tty=$value ;;
    esac
done <"$run_dir/settings"

# modprobe looks for <root>/lib/modules/<release>; UML's modules live elsewhere, so point a root at them.
release=$(uname -r)
modules=$module_base/$release
[ -d "$modules" ] || setup_error "no modules for kernel $release in $modules"
mkdir -p /dev/shm/.vcan-run/lib/modules
ln -s "$modules" "/dev/shm/.vcan-run/lib/modules/$release"
# One process each for modprobe and ip: every exec costs tens of milliseconds in the guest.
message=$(modprobe -a -d /dev/shm/.vcan-run ipv6 can can-raw can-bcm vcan veth 2>&1) ||
    setup_error "modprobe: $message"

ip_batch="link set lo up"$'\n'
for ((i = 0; i < interfaces; i++)); do
    ip_batch+="link add dev vcan$i type vcan"$'\n'"link set vcan$i up"$'\n'
done
message=$(ip -batch - <<<"$ip_batch" 2>&1) || setup_error "ip: $message"

# The command and the loggers get the host's environment (env -i), the script keeps its own PATH.
mapfile -d '' -t environment <"$run_dir/env"
environment+=("VCAN_RUN=$backend")
mapfile -d '' -t argv <"$run_dir/argv"
IFS= read -r -d '' cwd <"$run_dir/cwd"
cd "$cwd" 2>/dev/null || setup_error "cannot enter working directory $cwd"

# The two serial lines are the host's pipes to vcan-run. A tty goes to the command only if the caller's own
# stream is a terminal; otherwise a pipe, so the command buffers and formats its output as on the host.
relay_pids=()
open_stream() {
    local fd=$1 tty=$2 is_tty=$3
    stty -F "$tty" raw -echo || setup_error "cannot configure $tty"
    if [ "$is_tty" = 1 ]; then
        eval "exec $fd>\"\$tty\""
    else
        eval "exec $fd> >(exec cat >\"\$tty\")"
        relay_pids+=($!)
    fi
}
open_stream 3 "$stdout_device" "$stdout_is_tty"
open_stream 4 "$stderr_device" "$stderr_is_tty"

# Bus loggers record the traffic the command makes; each reports ready before the command starts.
logger_pids=()
if [ -s "$run_dir/buslogs" ]; then
    mapfile -d '' -t buslog <"$run_dir/buslogs"
    python=${buslog[0]}
    script=${buslog[1]}
    for ((i = 2; i + 1 < ${#buslog[@]}; i += 2)); do
        ready="/dev/shm/.vcan-run/logger-$i.ready"
        /usr/bin/env -i "${environment[@]}" "$python" "$script" --ready "$ready" "${buslog[i]}" "${buslog[i + 1]}" \
            </dev/null >&4 2>&4 &
        logger_pids+=($!)
        for ((wait_step = 0; wait_step < 200; wait_step++)); do
            [ -e "$ready" ] && break
            kill -0 "$!" 2>/dev/null || setup_error "bus logger for ${buslog[i]} exited before it was ready"
            sleep 0.05
        done
        [ -e "$ready" ] || setup_error "bus logger for ${buslog[i]} not ready after 10 s"
    done
fi

read -r uptime _ </proc/uptime
echo "$init_uptime $uptime" >"$run_dir/timing"
/usr/bin/env -i "${environment[@]}" "${argv[@]}" </dev/null >&3 2>&4 3>&- 4>&-
status=$?

# True once none of the given processes is left, polling for at most $1 tenths of a second.
wait_gone() {
    local tenths=$1 pid alive
    shift
    for ((wait_step = 0; wait_step < tenths; wait_step++)); do
        alive=0
        for pid in "$@"; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        [ "$alive" = 0 ] && return 0
        sleep 0.1
    done
    return 1
}

# Loggers stop on SIGINT, flushing and closing their files; one stuck for 5 s is killed.
if [ ${#logger_pids[@]} -gt 0 ]; then
    kill -INT "${logger_pids[@]}" 2>/dev/null
    wait_gone 50 "${logger_pids[@]}" || kill -KILL "${logger_pids[@]}" 2>/dev/null
fi
exec 3>&- 4>&-
# Relays end when every writer is gone; a background child of the command may keep one open: 2 s at most.
wait_gone 20 "${relay_pids[@]}"
echo "$status" >"$run_dir/status"
power_off
