#!/usr/bin/env bash
# bench/domain.sh: `smtpdoctor domain --domains` throughput (domains per second) against a
# local authoritative NSD serving BENCH_DOMAINS zones of its own.
#
# Each zone dNNNN.bench is a complete sending domain: MX with an address in TEST-NET-1, SPF
# with an include, DMARC, a DKIM key, MTA-STS and TLS-RPT records (no policy server: the fetch
# fails fast on a closed port, as for a domain whose policy host is down), plus a blocklist zone
# bl.bench that follows RFC 5782. Every domain costs about 45 queries (27 of them guessed DKIM
# selectors) and one refused HTTPS connection.
#
# The NSD instance is this script's own (127.0.0.1:BENCH_PORT, state in a temporary directory),
# started and stopped here by pid: the test rig is not touched.
# Env: BENCH_DOMAINS (1000), BENCH_PORT (5399), BENCH_JOBS (64), BENCH_RUNS (3),
#      SMTPDOCTOR_BIN (skip the build), CARGO_TARGET_DIR (default target).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
n=${BENCH_DOMAINS:-1000}
port=${BENCH_PORT:-5399}
jobs=${BENCH_JOBS:-64}
runs=${BENCH_RUNS:-3}
command -v nsd >/dev/null || { echo "bench/domain.sh: nsd is missing (scripts/install-deps)" >&2; exit 1; }
if [[ -z ${SMTPDOCTOR_BIN:-} ]]; then
  cargo build --release -q -p smtpdoctor
  SMTPDOCTOR_BIN=${CARGO_TARGET_DIR:-target}/release/smtpdoctor
fi
work=$(mktemp -d)
nsd_pid=
cleanup() {
  if [[ -n $nsd_pid ]]; then
    kill "$nsd_pid" 2>/dev/null || true
    # NSD writes its state files on the way out: remove the directory after it is gone.
    for ((k = 0; k < 100; k++)); do kill -0 "$nsd_pid" 2>/dev/null || break; sleep 0.05; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

key=$(openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null |
  openssl pkey -pubout -outform DER 2>/dev/null | base64 -w0)
cat >"$work/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$port
  do-ip6: no
  username: ""
  chroot: ""
  database: ""
  zonesdir: "$work"
  pidfile: "$work/nsd.pid"
  logfile: "$work/nsd.log"
  xfrdfile: "$work/xfrd.state"
  xfrdir: "$work"
  zonelistfile: "$work/zone.list"
  server-count: 1
  verbosity: 0
remote-control:
  control-enable: no
zone:
  name: "bench"
  zonefile: "bench.zone"
CONF
printf '%s\n' '$TTL 300' '@ IN SOA bench. h.bench. 1 3600 600 86400 300' '@ IN NS bench.' \
  '2.0.0.127.bl IN A 127.0.0.2' 'test.dbl IN A 127.0.1.2' >"$work/bench.zone"
printf '%s\n' '$TTL 300' '@ IN SOA bench. h.bench. 1 3600 600 86400 300' '@ IN NS bench.' \
  '1 IN PTR mx.d0250.bench.' >"$work/rev.zone"
printf 'zone:\n  name: "2.0.192.in-addr.arpa"\n  zonefile: "rev.zone"\n' >>"$work/nsd.conf"
: >"$work/domains.txt"
for ((i = 1; i <= n; i++)); do
  d=$(printf 'd%04d.bench' "$i")
  echo "$d" >>"$work/domains.txt"
  printf 'zone:\n  name: "%s"\n  zonefile: "%s.zone"\n' "$d" "$d" >>"$work/nsd.conf"
  {
    printf '$ORIGIN %s.\n$TTL 300\n' "$d"
    printf '@ IN SOA %s. h.%s. 1 3600 600 86400 300\n@ IN NS %s.\n' "$d" "$d" "$d"
    printf '@ IN MX 10 mx\nmx IN A 192.0.2.%d\n' $((i % 250 + 1))
    printf '@ IN TXT "v=spf1 ip4:192.0.2.0/24 include:_spf.%s -all"\n_spf IN TXT "v=spf1 a:mx.%s -all"\n' "$d" "$d"
    printf '_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:d@%s"\n' "$d"
    printf 's1._domainkey IN TXT "v=DKIM1; k=rsa; p=%s" "%s"\n' "${key:0:200}" "${key:200}"
    printf '_mta-sts IN TXT "v=STSv1; id=1"\n_smtp._tls IN TXT "v=TLSRPTv1; rua=mailto:t@%s"\n' "$d"
    printf 'mta-sts IN A 127.0.0.1\n'
  } >"$work/$d.zone"
done
nsd -c "$work/nsd.conf"
for ((i = 0; i < 100; i++)); do
  [[ -s $work/nsd.pid ]] && nsd_pid=$(cat "$work/nsd.pid") && break
  sleep 0.05
done
[[ -n $nsd_pid ]] || { echo "bench/domain.sh: nsd did not start" >&2; cat "$work/nsd.log" >&2; exit 1; }
# Wait until it answers (1000 zones take a moment to load).
for ((i = 0; i < 200; i++)); do
  dig +short +time=1 +tries=1 @127.0.0.1 -p "$port" TXT "d$(printf %04d "$n").bench" 2>/dev/null | grep -q spf1 && break
  sleep 0.1
done

echo "smtpdoctor domain --domains: $n domains, -j $jobs, NSD on 127.0.0.1:$port, $runs runs"
echo "(--connect-to sends each MTA-STS fetch to a closed loopback port: no HTTPS server runs)"
for ((r = 1; r <= runs; r++)); do
  t0=$EPOCHREALTIME
  "$SMTPDOCTOR_BIN" domain --domains "$work/domains.txt" --dns "127.0.0.1:$port" -j "$jobs" \
    --dkim-selector s1 --dnsbl bl.bench --rhsbl dbl.bench --ip 192.0.2.1 --timeout 5 \
    --connect-to ::127.0.0.1:1 >"$work/out.jsonl" 2>"$work/err.txt" || true
  t1=$EPOCHREALTIME
  lines=$(wc -l <"$work/out.jsonl")
  python3 -c "import sys; n,t=int(sys.argv[1]),float(sys.argv[3])-float(sys.argv[2]); print(f'run {sys.argv[4]}: {n} JSON lines in {t:.2f} s = {n/t:.0f} domains/s')" \
    "$lines" "$t0" "$t1" "$r"
  tail -1 "$work/err.txt"
done
python3 - "$work/out.jsonl" <<'PY'
import json, sys, collections
c = collections.Counter()
for line in open(sys.argv[1]):
    j = json.loads(line)
    for name, check in j["checks"].items():
        c[(name, check["status"])] += 1
print("statuses of the last run:", ", ".join(f"{k[0]}={k[1]}:{v}" for k, v in sorted(c.items())))
PY
echo "checkdmarc: not run (not installable without the network here); see bench/README.md"
