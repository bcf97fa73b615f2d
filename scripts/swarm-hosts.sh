#!/usr/bin/env bash
# Three real Docker Swarm hosts on this one machine, for the `deploy.target: swarm` tests.
# Usage (as root): bash scripts/swarm-hosts.sh up|down|status
#
# Each host is a network namespace mlops-hN (10.77.0.1N on the bridge mlopsbr0, 10.77.0.1 on this
# machine) running its own dockerd; h1 is the manager, h2 and h3 join it as workers. `up` writes
# /run/mlops-swarm/hosts.json, which the tests read through MLOPS_TEST_SWARM (test/helpers/swarm.ts).
# A test kills a worker host by cutting its veth on this side (`ip link set veth-hN down`).
set -euo pipefail

run=/run/mlops-swarm      # each host's /run (socket, pid file, exec root), its log, and hosts.json
lib=/var/lib/mlops-swarm  # the daemons' data roots
bridge=mlopsbr0
gateway=10.77.0.1
registry=$gateway:5000 # .ci/run's registry, listening on all addresses
hosts=(1 2 3)

die() {
  echo "swarm-hosts: $*" >&2
  exit 1
}

preflight() {
  [ "$(id -u)" = 0 ] || die "must run as root (it creates a bridge, network namespaces and docker daemons)"
  local tool
  for tool in ip nsenter unshare setsid dockerd docker iptables findmnt umount ps; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install iproute2 util-linux docker.io iptables procps)"
  done
}

socket() { echo "unix://$run/h$1/run/docker.sock"; }
dock() {
  local n=$1
  shift
  docker -H "$(socket "$n")" "$@"
}

# The FORWARD rule: with bridge-nf-call-iptables on, traffic between bridge ports passes the
# iptables FORWARD chain, whose policy docker may have set to DROP.
forward_rule=(FORWARD -i "$bridge" -o "$bridge" -j ACCEPT)

# A process that exited counts as gone even before init reaps it (kill -0 succeeds on a zombie).
alive() {
  case "$(ps -o stat= -p "$1" 2>/dev/null)" in
    '' | Z*) return 1 ;;
  esac
}
any_alive() {
  local pid
  for pid; do alive "$pid" && return 0; done
  return 1
}

down() {
  local n pid pids target
  # Stop the daemons together (each stops its containerd and tasks), at most 5 s: a task whose
  # process ignores SIGTERM would hold its dockerd for the task's whole stop timeout.
  # Only a pid that is in the host's namespace: a stale pid file may name some other process.
  pids=()
  for n in "${hosts[@]}"; do
    pid=$(cat "$run/h$n/run/docker.pid" 2>/dev/null || true)
    [ -n "$pid" ] && ip netns pids "mlops-h$n" 2>/dev/null | grep -qx "$pid" && pids+=("$pid")
  done
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do any_alive "${pids[@]}" || break; sleep 0.1; done
  for n in "${hosts[@]}"; do
    # Then whatever is still in the host's namespace (dockerd, containerd, shims, tasks).
    if [ -e "/run/netns/mlops-h$n" ]; then
      pids=$(ip netns pids "mlops-h$n" 2>/dev/null || true)
      if [ -n "$pids" ]; then
        # shellcheck disable=SC2086 # one pid a word
        kill -KILL $pids 2>/dev/null || true
        for _ in $(seq 50); do [ -z "$(ip netns pids "mlops-h$n" 2>/dev/null)" ] && break; sleep 0.1; done
      fi
    fi
    # Each daemon's mounts live in its own mount namespace and go with it; any left in this one
    # (from an older layout, or a lazy unmount) go deepest first, so that rm -rf never crosses one.
    { findmnt -rn -o TARGET | grep -E "^($run|$lib)/h$n(/|\$)" || true; } | sort -r | while read -r target; do
      umount "$target" 2>/dev/null || umount -l "$target"
    done
    rm -rf "${run:?}/h$n" "${lib:?}/h$n"
    ip netns del "mlops-h$n" 2>/dev/null || true
    ip link del "veth-h$n" 2>/dev/null || true
  done
  ip link del "$bridge" 2>/dev/null || true
  while iptables -C "${forward_rule[@]}" 2>/dev/null; do iptables -D "${forward_rule[@]}"; done
  rm -f "$run/hosts.json"
  rmdir "$run" "$lib" 2>/dev/null || true
}

start_daemon() {
  local n=$1 dir=$run/h$1
  mkdir -p "$dir/run" "$lib/h$n"
  # nsenter, not `ip netns exec`: that one remounts /sys, and dockerd then finds no devices cgroup.
  # unshare --uts: a hostname of its own, which names the swarm node. unshare --mount, with the
  # host's own folder bound over /run: there the daemon has its /run/docker.sock (which a proxy
  # container on the manager mounts, as on a real host), exec root and containerd, and its mounts
  # go when it does.
  setsid nsenter --net="/run/netns/mlops-h$n" unshare --uts --mount --propagation private \
    sh -c 'hostname "$0" && mount --bind "$1" /run && shift && exec "$@"' "mlops-h$n" "$dir/run" \
    dockerd --data-root "$lib/h$n" -H unix:///run/docker.sock --pidfile /run/docker.pid \
    --bridge=none --iptables=false --ip6tables=false --insecure-registry "$registry" \
    </dev/null >"$dir/dockerd.log" 2>&1 &
}

# wait_for TRIES CMD...: retry CMD every 0.1 s.
wait_for() {
  local tries=$1
  shift
  for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

ready_nodes() { [ "$(dock 1 node ls --format '{{.Status}}' 2>/dev/null | grep -c '^Ready$')" = "${#hosts[@]}" ]; }

fail_up() {
  local n
  for n in "${hosts[@]}"; do [ -f "$run/h$n/dockerd.log" ] && { echo "--- $run/h$n/dockerd.log" >&2; tail -n 15 "$run/h$n/dockerd.log" >&2; }; done
  die "$1 (left in place for inspection; \`bash scripts/swarm-hosts.sh down\` removes it)"
}

up() {
  local n token role
  # Start from nothing, whatever a previous (half-failed) up left.
  down
  mkdir -p "$run" "$lib"

  echo "swarm-hosts: bridge $bridge ($gateway/24) and namespaces mlops-h1..${#hosts[@]}"
  ip link add "$bridge" type bridge
  ip addr add "$gateway/24" dev "$bridge"
  ip link set "$bridge" up
  iptables -I "${forward_rule[@]}"
  for n in "${hosts[@]}"; do
    ip netns add "mlops-h$n"
    ip link add "veth-h$n" type veth peer name "mlops-h$n-eth0"
    ip link set "mlops-h$n-eth0" netns "mlops-h$n"
    ip -n "mlops-h$n" link set "mlops-h$n-eth0" name eth0
    ip -n "mlops-h$n" addr add "10.77.0.1$n/24" dev eth0
    ip -n "mlops-h$n" link set lo up
    ip -n "mlops-h$n" link set eth0 up
    ip -n "mlops-h$n" route add default via "$gateway"
    ip link set "veth-h$n" master "$bridge" up
  done

  echo "swarm-hosts: dockerd on each host"
  for n in "${hosts[@]}"; do start_daemon "$n"; done
  for n in "${hosts[@]}"; do wait_for 100 dock "$n" info || fail_up "dockerd h$n did not answer at $(socket "$n")"; done

  echo "swarm-hosts: swarm init on mlops-h1, join mlops-h2..${#hosts[@]}"
  dock 1 swarm init --advertise-addr 10.77.0.11 >/dev/null || fail_up "swarm init failed"
  token=$(dock 1 swarm join-token -q worker)
  for n in "${hosts[@]:1}"; do
    dock "$n" swarm join --token "$token" --advertise-addr "10.77.0.1$n" 10.77.0.11:2377 >/dev/null || fail_up "mlops-h$n did not join"
  done
  wait_for 100 ready_nodes || fail_up "the nodes are not all Ready: $(dock 1 node ls 2>&1)"

  {
    printf '{"manager":"%s","registry":"%s","nodes":[' "$(socket 1)" "$registry"
    for n in "${hosts[@]}"; do
      [ "$n" = 1 ] && role=manager || role=worker
      [ "$n" = "${hosts[0]}" ] || printf ','
      printf '{"name":"mlops-h%s","address":"10.77.0.1%s","socket":"%s","link":"veth-h%s","role":"%s"}' "$n" "$n" "$(socket "$n")" "$n" "$role"
    done
    printf ']}\n'
  } >"$run/hosts.json"
  echo "swarm-hosts: ${#hosts[@]} nodes Ready; $run/hosts.json"
}

status() {
  local n pid
  ip link show "$bridge" >/dev/null 2>&1 && echo "bridge $bridge: up" || echo "bridge $bridge: absent"
  for n in "${hosts[@]}"; do
    pid=$(cat "$run/h$n/run/docker.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && alive "$pid"; then echo "mlops-h$n: dockerd $pid"; else echo "mlops-h$n: no dockerd"; fi
  done
  dock 1 node ls 2>/dev/null || true
  [ -f "$run/hosts.json" ] && echo "$run/hosts.json" || true
}

case "${1:-}" in
  # Not `preflight && up`: set -e does not apply inside a function called from an && list.
  up) preflight; up ;;
  down) preflight; down; echo "swarm-hosts: down" ;;
  status) preflight; status ;;
  *) die "usage: $0 up|down|status" ;;
esac
