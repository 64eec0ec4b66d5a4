#!/usr/bin/env bash
# bench/ports.sh: the port matrix against a black-holed host costs about one timeout in all, not
# one per port (issue 3's goal: at most one timeout plus half a second).
# Makes a client and a server network namespace joined by a veth pair, drops every packet to the
# server inside the client's namespace, and times `smtpdoctor check 10.77.0.2` (ports 25, 465,
# 587, 2525 at once) for a few --timeout values. Needs root; removes the namespaces on exit.
# Env: SMTPDOCTOR_BIN (skip the build), CARGO_TARGET_DIR, BENCH_TIMEOUTS (default "2 4 8").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -z ${SMTPDOCTOR_BIN:-} ]]; then
  cargo build --release -q -p smtpdoctor
  SMTPDOCTOR_BIN=${CARGO_TARGET_DIR:-target}/release/smtpdoctor
fi
id=$$
cli=sdbc$id srv=sdbs$id
cleanup() { ip netns del "$cli" 2>/dev/null || true; ip netns del "$srv" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$cli"
ip netns add "$srv"
ip link add "bc$id" type veth peer name "bs$id"
ip link set "bc$id" netns "$cli"
ip link set "bs$id" netns "$srv"
ip -n "$cli" addr add 10.77.0.1/30 dev "bc$id"
ip -n "$srv" addr add 10.77.0.2/30 dev "bs$id"
ip -n "$cli" link set "bc$id" up
ip -n "$srv" link set "bs$id" up
ip netns exec "$cli" iptables -A OUTPUT -d 10.77.0.2 -j DROP

printf '%-8s %-10s %-10s %s\n' timeout wall excess verdict
for t in ${BENCH_TIMEOUTS:-2 4 8}; do
  start=$(date +%s%N)
  verdict=$(ip netns exec "$cli" "$SMTPDOCTOR_BIN" check 10.77.0.2 --timeout "$t" --format json |
    python3 -c 'import sys, json; v = json.load(sys.stdin)["verdict"]; print(v["category"])' || true)
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  printf '%-8s %-10s %-10s %s\n' "${t} s" "${ms} ms" "$(( ms - t * 1000 )) ms" "$verdict"
done
