#!/usr/bin/env bash
# bench/domain.sh: `smtpdoctor domain --domains` against checkdmarc over the same local zones,
# side by side in one run: domains per second, CPU and DNS queries per domain for each, and the
# ratio (goal of issue 6: >= 10x).
#
# Each zone dNNNN.bench is a complete sending domain: MX with an address in TEST-NET-1, SPF
# with an include, DMARC, a DKIM key, MTA-STS and TLS-RPT records (the policy host is
# 127.0.0.1, where no HTTPS server listens: both tools' fetches are refused at once, as for a
# domain whose policy host is down), plus a blocklist zone bl.bench that follows RFC 5782 and
# the reverse zone of TEST-NET-1.
#
# Everything runs inside a network namespace this script makes (`unshare --net --mount`, as
# root) where only loopback exists, so nothing either tool does can leave the machine:
# checkdmarc fetches the MTA-STS policy and BIMI itself and resolves those host names through
# the system resolver. In the namespace /etc/resolv.conf is bind-mounted to a file naming
# 127.0.0.1 (the mount is the namespace's own), NSD serves port 53 on 127.0.0.1 (checkdmarc's
# -n takes addresses without a port), checkdmarc gets `-n 127.0.0.1` and smtpdoctor
# `--dns 127.0.0.1:53`. The NSD instance and its state are this script's own; the test rig is
# not touched.
#
# checkdmarc (BENCH_CHECKDMARC_VERSION, 6.0.4) is installed on first use into a cache venv,
# ${XDG_CACHE_HOME:-~/.cache}/smtpdoctor-bench/checkdmarc-VERSION (BENCH_CHECKDMARC=PATH uses
# another; BENCH_CHECKDMARC=none skips it). Building and installing happen before the namespace
# is entered.
#
# Env: BENCH_DOMAINS (1000), BENCH_JOBS (32, the default -j), BENCH_RUNS (3; each run times
#      smtpdoctor with and without DKIM guesses, then checkdmarc, over the same list),
#      BENCH_RESULTS_DIR (bench/results), SMTPDOCTOR_BIN (skip the build),
#      CARGO_TARGET_DIR (default target).
set -euo pipefail
export LC_ALL=C
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
n=${BENCH_DOMAINS:-1000}
jobs=${BENCH_JOBS:-32}
runs=${BENCH_RUNS:-3}
for v in n jobs runs; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench/domain.sh: $v must be a positive number" >&2; exit 2; }
done

if [[ -z ${BENCH_IN_NETNS:-} ]]; then
  # ------------------------------------------------- outside: build, install, enter the namespace
  for tool in nsd nsd-control unshare ip dig openssl python3; do
    command -v "$tool" >/dev/null || { echo "bench/domain.sh: $tool is missing (scripts/install-deps)" >&2; exit 1; }
  done
  [[ -x /usr/bin/time ]] || { echo "bench/domain.sh: /usr/bin/time is missing (Debian: time)" >&2; exit 1; }
  [[ $EUID -eq 0 ]] || { echo "bench/domain.sh: needs root (unshare --net makes the loopback-only namespace)" >&2; exit 1; }
  if [[ -z ${SMTPDOCTOR_BIN:-} ]]; then
    cargo build --release -q -p smtpdoctor
    SMTPDOCTOR_BIN=${CARGO_TARGET_DIR:-target}/release/smtpdoctor
  fi
  SMTPDOCTOR_BIN=$(realpath "$SMTPDOCTOR_BIN")
  checkdmarc=${BENCH_CHECKDMARC:-}
  if [[ -z $checkdmarc ]]; then
    version=${BENCH_CHECKDMARC_VERSION:-6.0.4}
    venv=${XDG_CACHE_HOME:-$HOME/.cache}/smtpdoctor-bench/checkdmarc-$version
    if [[ ! -x $venv/bin/checkdmarc ]]; then
      echo "bench/domain.sh: installing checkdmarc $version into $venv" >&2
      python3 -m venv "$venv"
      "$venv/bin/pip" install -q "checkdmarc==$version"
    fi
    checkdmarc=$venv/bin/checkdmarc
  fi
  export SMTPDOCTOR_BIN BENCH_CHECKDMARC=$checkdmarc BENCH_IN_NETNS=1 BENCH_ROOT=$root
  exec unshare --net --mount --propagation private -- "$root/bench/domain.sh"
fi

# ------------------------------------------------------------------- inside the namespace
ip link set lo up
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
# Only loopback exists here; make sure of it before anything queries.
if ip -o addr show | grep -v ' lo ' | grep -q inet; then
  echo "bench/domain.sh: the namespace has a non-loopback address; refusing to run" >&2
  exit 1
fi
echo "nameserver 127.0.0.1" >"$work/resolv.conf"
mount --bind "$work/resolv.conf" /etc/resolv.conf

key=$(openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null |
  openssl pkey -pubout -outform DER 2>/dev/null | base64 -w0)
cat >"$work/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@53
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
  # No response rate limiting: every query here comes from 127.0.0.1 and many answers are
  # alike (the SOA and NXDOMAIN of bench. for every domain), so NSD's default 200 per second
  # would drop or truncate answers to whichever tool is faster and time its queries out.
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: yes
  control-interface: "$work/nsd.ctl"
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
last=$(printf 'd%04d.bench' "$n")
for ((i = 0; i < 300; i++)); do
  dig +short +time=1 +tries=1 @127.0.0.1 TXT "$last" 2>/dev/null | grep -q spf1 && break
  sleep 0.1
done

results_dir=${BENCH_RESULTS_DIR:-$BENCH_ROOT/bench/results}
mkdir -p "$results_dir"
result=$results_dir/domain-$(date -u +%Y%m%d-%H%M%S).txt
report=$work/report.txt
say() { echo "$*" | tee -a "$report"; }

say "bench/domain.sh $(date -u +%FT%TZ): $n zones, NSD $(nsd -v 2>&1 | head -1 | awk '{print $NF}') on 127.0.0.1:53 in a loopback-only network namespace, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "smtpdoctor: $("$SMTPDOCTOR_BIN" --version) ($SMTPDOCTOR_BIN)"
queries() { nsd-control -c "$work/nsd.conf" stats_noreset | sed -n 's/^num.queries=//p'; }
# timed OUT N CMD...: runs CMD, then prints "N domains in S s = R domains/s, C ms CPU and Q DNS
# queries per domain" (CPU: the tool's user + system time; the queries: NSD's count of what
# reached it, so answers a tool cached itself do not count).
timed() {
  local out=$1 n=$2 q0 q1
  shift 2
  q0=$(queries)
  /usr/bin/time -f '%e %U %S' -o "$work/time" "$@" >"$out" 2>"$work/err" || true
  q1=$(queries)
  # (a non-zero exit adds a line before the figures)
  read -r secs user sys < <(tail -1 "$work/time")
  python3 -c "import sys; n,t,c,q=int(sys.argv[1]),float(sys.argv[2]),float(sys.argv[3])+float(sys.argv[4]),int(sys.argv[5]); print(f'{n} domains in {t:.2f} s = {n/t:.1f} domains/s, {1000*c/n:.2f} ms CPU and {q/n:.1f} DNS queries per domain')" \
    "$n" "$secs" "$user" "$sys" "$((q1 - q0))"
}
# Each run checks the list with smtpdoctor as it is by default (27 DKIM selectors guessed, the
# work checkdmarc does not do), with --dkim-guess none (the given selector only: comparable
# work), then with checkdmarc, so that each run's ratios compare tools under the same load.
if [[ $BENCH_CHECKDMARC != none ]]; then
  say "checkdmarc: $("$BENCH_CHECKDMARC" --version 2>&1 | tail -1) (one domain after another; -n 127.0.0.1 -t 5 --skip-tls)"
fi
ours=("$SMTPDOCTOR_BIN" domain --domains "$work/domains.txt" --dns 127.0.0.1:53 -j "$jobs"
  --dkim-selector s1 --dnsbl bl.bench --rhsbl dbl.bench --ip 192.0.2.1 --timeout 5 --deadline 600)
for ((r = 1; r <= runs; r++)); do
  for guess in common none; do
    line=$(timed "$work/ours-$guess.jsonl" "$n" "${ours[@]}" --dkim-guess "$guess")
    lines=$(wc -l <"$work/ours-$guess.jsonl")
    [[ $lines == "$n" ]] || { echo "smtpdoctor wrote $lines lines for $n domains:" >&2; tail -5 "$work/err" >&2; exit 1; }
    say "smtpdoctor run $r (-j $jobs, --dkim-guess $guess): $line"
  done
  if [[ $BENCH_CHECKDMARC != none ]]; then
    # -o writes the JSON list to a file; a domain it cannot check is still an entry.
    line=$(timed /dev/null "$n" "$BENCH_CHECKDMARC" "$work/domains.txt" -n 127.0.0.1 -t 5 --skip-tls \
      -o "$work/theirs.json")
    count=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))))" "$work/theirs.json" 2>/dev/null || echo 0)
    [[ $count == "$n" ]] || { echo "checkdmarc checked $count of $n domains:" >&2; tail -20 "$work/err" >&2; exit 1; }
    say "checkdmarc run $r: $line"
  fi
done
for guess in common none; do
  python3 - "$work/ours-$guess.jsonl" "$guess" <<'PY' | tee -a "$report"
import json, sys, collections
c = collections.Counter()
for line in open(sys.argv[1]):
    j = json.loads(line)
    for name, check in j["checks"].items():
        c[(name, check["status"])] += 1
print(f"  statuses of the last run (--dkim-guess {sys.argv[2]}):", ", ".join(f"{k[0]}={k[1]}:{v}" for k, v in sorted(c.items())))
PY
done

if [[ $BENCH_CHECKDMARC != none ]]; then
  python3 - "$work/theirs.json" <<'PY' | tee -a "$report"
import json, sys, collections
c = collections.Counter()
for d in json.load(open(sys.argv[1])):
    for k in ("spf", "dmarc", "mta_sts", "smtp_tls_reporting"):
        c[(k, d.get(k, {}).get("valid"))] += 1
    c[("mx_hosts", len(d.get("mx", {}).get("hosts", [])))] += 1
print("  checkdmarc validity (last run):", ", ".join(f"{k[0]}={k[1]}:{v}" for k, v in sorted(c.items(), key=str)))
PY
  # The ratio of each run (both tools under the same load), then the median over the runs.
  python3 - "$report" <<'PY' | tee -a "$report"
import re, statistics, sys
text = open(sys.argv[1]).read()
row = re.compile(r"^(smtpdoctor|checkdmarc) run (\d+)(?: \(.*--dkim-guess (\w+)\))?: (\d+) domains in ([\d.]+) s = [\d.]+ domains/s, ([\d.]+) ms CPU and ([\d.]+) DNS", re.M)
runs = {}
for tool, r, guess, n, secs, cpu, q in row.findall(text):
    key = "checkdmarc" if tool == "checkdmarc" else f"smtpdoctor --dkim-guess {guess}"
    runs.setdefault(key, {})[int(r)] = (int(n) / float(secs), float(cpu), float(q))
theirs = runs["checkdmarc"]
t_rate = statistics.median(v[0] for v in theirs.values())
t_cpu = statistics.median(v[1] for v in theirs.values())
print(f"checkdmarc: {t_rate:.1f} domains/s, {t_cpu:.2f} ms CPU/domain (medians of {len(theirs)} runs)")
for key in ("smtpdoctor --dkim-guess common", "smtpdoctor --dkim-guess none"):
    ours = runs[key]
    rate = statistics.median(v[0] for v in ours.values())
    cpu = statistics.median(v[1] for v in ours.values())
    q = statistics.median(v[2] for v in ours.values())
    ratios = sorted(ours[r][0] / theirs[r][0] for r in ours if r in theirs)
    cpu_ratios = sorted(theirs[r][1] / ours[r][1] for r in ours if r in theirs)
    verdict = "meets" if statistics.median(ratios) >= 10 else "misses"
    print(f"{key}: {rate:.1f} domains/s, {cpu:.2f} ms CPU and {q:.1f} queries per domain (medians); "
          f"ratio {statistics.median(ratios):.1f}x (runs: {', '.join(f'{x:.1f}' for x in ratios)}), "
          f"CPU per domain {statistics.median(cpu_ratios):.1f}x less: {verdict} the 10x goal")
PY
fi
echo "load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$report"
cp "$report" "$result"
echo "results written to $result"
