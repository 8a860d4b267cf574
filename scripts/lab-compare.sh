#!/usr/bin/env bash
# A comparison across hosts, on this machine: two hosts made from network namespaces
# (a bridge in a namespace of its own, veth pairs, 198.18.$SUBNET.0/24, the range RFC
# 2544 reserves for benchmarking), a real sshd in each with keys made for the run. The
# server runs on the first host, the load comes from the second, both reached through
# OpenSSH. It runs `compare` twice back to back and diffs the two reports both ways:
# how far a ranking across hosts can be trusted. Everything it made is torn down on exit.
# Needs root, iproute2 and openssh-server.
#
#   scripts/lab-compare.sh
#   MODELS=epoll,poll REPEAT=3 scripts/lab-compare.sh
set -euo pipefail

MODELS=${MODELS:-epoll,poll,threads,async,reuseport}
REPEAT=${REPEAT:-5}
SUBNET=${SUBNET:-231}
OUT=${OUT:-report/lab}

cd "$(dirname "$0")/.."
. scripts/measure-lib.sh
PORT=0
prepare
tag="imlab$$"
lan="$tag-lan"
sshds=()

teardown() {
    for pid in "${sshds[@]}"; do kill "$pid" 2>/dev/null || true; done
    for ns in "$tag-h0" "$tag-h1"; do
        # Everything left in a host was started by this script, in its own namespace.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    done
    for link in "${tag}0a" "${tag}1a" "${tag}2a"; do ip link del "$link" 2>/dev/null || true; done
    for ns in "$tag-h1" "$tag-h0" "$lan"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$DIR"
}
trap teardown EXIT

# Joins namespace $1 ("" for this one) to the segment as 198.18.$SUBNET.$2.
join() {
    local ns=$1 host=$2 here="${tag}${3}a" there="${tag}${3}b"
    ip link add "$here" type veth peer name "$there"
    ip link set "$there" netns "$lan"
    ip -n "$lan" link set "$there" master br0 up
    if [ -n "$ns" ]; then ip link set "$here" netns "$ns"; fi
    ip ${ns:+-n "$ns"} addr add "198.18.$SUBNET.$host/24" dev "$here"
    ip ${ns:+-n "$ns"} link set "$here" up
}

ip netns add "$lan"
ip -n "$lan" link add br0 type bridge
ip -n "$lan" link set br0 up
join "" 1 0
for i in 0 1; do
    ip netns add "$tag-h$i"
    ip -n "$tag-h$i" link set lo up
    join "$tag-h$i" $((i + 2)) $((i + 1))
done

ssh-keygen -q -t ed25519 -N "" -f "$DIR/host_key"
ssh-keygen -q -t ed25519 -N "" -f "$DIR/client_key"
cp "$DIR/client_key.pub" "$DIR/authorized_keys"
cat >"$DIR/ssh_config" <<CONF
Host *
  IdentityFile $DIR/client_key
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
CONF
mkdir -p /run/sshd
for i in 0 1; do
    addr="198.18.$SUBNET.$((i + 2))"
    cat >"$DIR/sshd_config-$i" <<CONF
Port 2222
ListenAddress $addr
HostKey $DIR/host_key
AuthorizedKeysFile $DIR/authorized_keys
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PidFile $DIR/sshd-$i.pid
Subsystem sftp internal-sftp
CONF
    ip netns exec "$tag-h$i" /usr/sbin/sshd -D -e -f "$DIR/sshd_config-$i" 2>/dev/null &
    sshds+=($!)
    for _ in $(seq 100); do
        timeout 0.2 bash -c "</dev/tcp/$addr/2222" 2>/dev/null && break
        sleep 0.1
    done
done

server="ssh://root@198.18.$SUBNET.2:2222"
client="ssh://root@198.18.$SUBNET.3:2222"
for run in first second; do
    "$IOMODELS" compare --server-host "$server" --client-host "$client" \
        --ssh-config "$DIR/ssh_config" --ship --models "$MODELS" --workload http \
        --repeat "$REPEAT" --out "$OUT/$run"
done
"$IOMODELS" diff "$OUT/first/report.json" "$OUT/second/report.json" | tail -n 2
"$IOMODELS" diff "$OUT/second/report.json" "$OUT/first/report.json" | tail -n 2
