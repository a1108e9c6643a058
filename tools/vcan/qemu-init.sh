#!/bin/busybox sh
# PID 1 of vcan-run's QEMU guest, first stage, inside the initramfs qemu_guest.py builds: load the virtio and
# 9p modules listed in /modules/order, mount the host's / (9p tag vcanroot) and hand over to guest-init.sh in
# $VCAN_RUN_DIR, which then runs on the host's own files. With VCAN_RUN_PROBE set it only proves that the
# guest gets this far (the KVM boot test) and powers off.
# Every failure prints one "vcan-run-guest:" line on the console (the host quotes it) and powers off.
b=/bin/busybox

fail() {
    echo "vcan-run-guest: $*"
    $b poweroff -f
    while :; do $b sleep 60; done
}

$b mount -t proc proc /proc || fail "cannot mount /proc"
while read -r module; do
    message=$($b insmod "/modules/$module" 2>&1) || fail "insmod $module: $message"
done </modules/order
# cache=loose: the guest keeps what it has read (Python imports stat and read thousands of files); the host
# does not change those files while the guest runs. Writes still go straight to the host.
$b mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose vcanroot /host ||
    fail "cannot mount the host's root over 9p"
if [ -n "$VCAN_RUN_PROBE" ]; then
    echo "vcan-run-guest-ready"
    $b poweroff -f
fi
[ -x "/host$VCAN_RUN_DIR/init" ] || fail "$VCAN_RUN_DIR/init not found on the host's root"
# For --verbose: how long the kernel took to get here.
echo "vcan-run-guest-timing: host root mounted at uptime $($b cut -d" " -f1 /proc/uptime) s"
$b umount /proc
exec $b switch_root /host "$VCAN_RUN_DIR/init"
