#!/usr/bin/env bash
# bench/ladder.sh: smtpdoctor vs swaks on the same SMTP submission ladder, side by side.
#
# Both tools do: connect, greeting, EHLO, STARTTLS (certificate verified against
# the rig's self-signed certificate), EHLO, AUTH PLAIN, MAIL FROM, RCPT TO, QUIT.
# No message is sent. Wall time of the whole process is measured (start-up,
# certificate loading and exit included), runs interleaved one by one.
#
#   a. direct to the rig's submission port (127.0.0.1:2587), BENCH_RUNS runs each;
#   b. through bench/latency-proxy.py adding BENCH_DELAY_MS each way, BENCH_PROXY_RUNS
#      runs each; wall time is also given in round trips (median / RTT).
#
# Environment (all optional):
#   SMTPDOCTOR_RIG_ENV  rig env file (default /tmp/smtpdoctor-rig/env); when it is
#                       missing or the rig does not answer, the rig is started with
#                       scripts/rig start and stopped again at the end
#   CARGO_TARGET_DIR    where the release binary is built (default <repo>/target)
#   SMTPDOCTOR_BIN      use this binary and skip the build
#   BENCH_RUNS          direct runs per tool (default 30)
#   BENCH_PROXY_RUNS    runs per tool through the proxy (default 7)
#   BENCH_DELAY_MS      one-way delay of the proxy (default 50, so RTT = 100 ms)
#   BENCH_WARMUP        untimed runs per tool before each phase (default 1)
#   BENCH_SWAKS_PIPELINE=1  also time "swaks --pipeline" (MAIL, RCPT and QUIT sent
#                       together, like smtpdoctor does) as a third tool
#   BENCH_RESULTS_DIR   where the results file goes (default bench/results)
#
# Only loopback is ever contacted. Everything this script starts (the proxy,
# the rig if it started it, temporary files) is cleaned up on exit, also on
# Ctrl-C or SIGTERM.
set -euo pipefail
export LC_ALL=C

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd -- "$HERE/.." && pwd)

RUNS=${BENCH_RUNS:-30}
PROXY_RUNS=${BENCH_PROXY_RUNS:-7}
DELAY_MS=${BENCH_DELAY_MS:-50}
WARMUP=${BENCH_WARMUP:-1}
TOOLS=(smtpdoctor swaks)
if [[ ${BENCH_SWAKS_PIPELINE:-0} == 1 ]]; then TOOLS+=(swaks-pipeline); fi
RESULTS_DIR=${BENCH_RESULTS_DIR:-$HERE/results}
ENV_FILE=${SMTPDOCTOR_RIG_ENV:-/tmp/smtpdoctor-rig/env}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

for v in RUNS PROXY_RUNS WARMUP; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "ladder: $v must be a number" >&2; exit 2; }
done
((RUNS > 0 && PROXY_RUNS > 0)) || { echo "ladder: BENCH_RUNS and BENCH_PROXY_RUNS must be > 0" >&2; exit 2; }
if ! [[ $DELAY_MS =~ ^[0-9]+$ ]] || ((DELAY_MS == 0)); then
  echo "ladder: BENCH_DELAY_MS must be a positive integer" >&2
  exit 2
fi

log() { printf 'ladder: %s\n' "$*" >&2; }
die() { printf 'ladder: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- cleanup
WORK=$(mktemp -d "${TMPDIR:-/tmp}/smtpdoctor-ladder.XXXXXX")
PROXY_PID=
RIG_STARTED=

stop_proxy() {
  [[ -n $PROXY_PID ]] || return 0
  if kill -0 "$PROXY_PID" 2>/dev/null; then
    kill -TERM "$PROXY_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do
      kill -0 "$PROXY_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$PROXY_PID" 2>/dev/null; then kill -KILL "$PROXY_PID" 2>/dev/null || true; fi
  fi
  wait "$PROXY_PID" 2>/dev/null || true
  PROXY_PID=
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_proxy
  if [[ -n $RIG_STARTED ]]; then
    log "stopping the rig this script started"
    "$ROOT/scripts/rig" stop >/dev/null 2>&1 || log "warning: scripts/rig stop failed"
  fi
  rm -rf -- "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# ---------------------------------------------------------------- tools
command -v swaks >/dev/null || die "swaks is not installed"
command -v python3 >/dev/null || die "python3 is not installed"

# Wall clock in microseconds, without forking when bash has EPOCHREALTIME.
if [[ -n ${EPOCHREALTIME:-} ]]; then
  now_us() { local t=$EPOCHREALTIME; REPLY=${t/./}; }
else
  now_us() { local t; t=$(date +%s%N); REPLY=$((t / 1000)); }
fi

# ---------------------------------------------------------------- rig
rig_answers() { # HOST:PORT
  local hp=$1
  (exec 3<>"/dev/tcp/${hp%:*}/${hp##*:}") 2>/dev/null
}

load_env() {
  set -a
  # shellcheck disable=SC1090
  . "$1"
  set +a
}

if [[ -s $ENV_FILE ]]; then
  load_env "$ENV_FILE"
fi
if [[ ! -s $ENV_FILE || -z ${RM_SUBMISSION:-} ]] || ! rig_answers "$RM_SUBMISSION"; then
  log "no running rig behind $ENV_FILE; starting one with scripts/rig start"
  RIG_STARTED=1
  "$ROOT/scripts/rig" start >/dev/null
  ENV_FILE=$(realpath -m -- "${RM_DIR:-/tmp/smtpdoctor-rig}")/env
  [[ -s $ENV_FILE ]] || die "the rig started but wrote no env file at $ENV_FILE"
  load_env "$ENV_FILE"
fi
for v in RM_SUBMISSION RM_USER RM_PASS RM_SELFSIGNED; do
  [[ -n ${!v:-} ]] || die "$v missing from $ENV_FILE"
done
case $RM_SUBMISSION in
  127.*:*) ;;
  *) die "RM_SUBMISSION=$RM_SUBMISSION is not a loopback address; refusing" ;;
esac
rig_answers "$RM_SUBMISSION" || die "nothing answers on $RM_SUBMISSION"

# Postfix flow control: the rig keeps Postfix's default in_flow_delay (1s). Each
# transaction that reaches an accepted RCPT takes a token from a pool of 100 that
# the queue manager refills only when it scans the incoming queue, and a ladder
# that quits after RCPT never queues a message. After ~100 such transactions every
# further one waits 1 s at RCPT. So before each phase and every 20 iterations the
# script asks the queue manager for a scan (postqueue -f; the rig discards all
# outbound mail), outside the timed region. The report flags runs that still hit it.
FLOW_KICK=
RIG_ETC=${RM_DIR:+$RM_DIR/etc}
if [[ -n $RIG_ETC && -s $RIG_ETC/main.cf ]] && command -v postconf >/dev/null && command -v postqueue >/dev/null; then
  case $(postconf -c "$RIG_ETC" -h in_flow_delay 2>/dev/null) in
    0 | 0s | "") ;;
    *) FLOW_KICK=1 ;;
  esac
else
  log "warning: cannot reach the rig's Postfix configuration; runs may hit its 1 s in_flow_delay"
fi
flow_refill() {
  [[ -n $FLOW_KICK ]] || return 0
  if postqueue -c "$RIG_ETC" -f >/dev/null 2>&1; then
    sleep 0.2 # the queue manager refills asynchronously
  else
    log "warning: postqueue -f failed; runs may hit Postfix's in_flow_delay"
    FLOW_KICK=
  fi
}

# ---------------------------------------------------------------- build
BUILT=
if [[ -n ${SMTPDOCTOR_BIN:-} ]]; then
  BIN=$SMTPDOCTOR_BIN
  log "using $BIN (no build)"
else
  log "building smtpdoctor (release, CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  (cd "$ROOT" && cargo build --release -p smtpdoctor)
  BIN=$CARGO_TARGET_DIR/release/smtpdoctor
  BUILT=1
fi
[[ -x $BIN ]] || die "no executable at $BIN"

# ---------------------------------------------------------------- runs
# Secrets travel in the environment, never on a command line.
export SMTPDOCTOR_PW=$RM_PASS
export SWAKS_OPT_auth_password=$RM_PASS

run_smtpdoctor() { # HOST:PORT OUT
  "$BIN" check "$1" --tls starttls --user "$RM_USER" --password-env SMTPDOCTOR_PW \
    --to "$RM_USER" --ca-file "$RM_SELFSIGNED" --format json >"$2" 2>"$2.err"
}

# swaks 20201014: --tls-verify checks the chain against --tls-ca-path; it does not
# check the host name (that option came later), so the certificate check is a
# little lighter than smtpdoctor's.
run_swaks() { # HOST:PORT OUT
  swaks --server "$1" --tls --tls-verify --tls-ca-path "$RM_SELFSIGNED" \
    --auth PLAIN --auth-user "$RM_USER" --from "$RM_USER" --to "$RM_USER" \
    --quit-after RCPT "${@:3}" >"$2" 2>"$2.err" </dev/null
}
run_swaks_pipeline() { run_swaks "$1" "$2" --pipeline; }

# A smtpdoctor run succeeded when it exited 0 and its verdict is "ok".
check_smtpdoctor() { # OUT
  python3 - "$1" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    sys.exit(f"unreadable JSON: {e}")
st = r.get("verdict", {}).get("status")
sys.exit(0 if st == "ok" else f"verdict.status is {st!r}: {r.get('verdict', {}).get('summary')}")
EOF
}

TIMES=$WORK/times.tsv # phase tool run wall_us
: >"$TIMES"

one_run() { # PHASE TOOL RUN ADDR TIMED(0|1)
  local phase=$1 tool=$2 run=$3 addr=$4 timed=$5 out t0 t1 rc=0 why
  out=$WORK/$phase-$tool-$run.out
  now_us; t0=$REPLY
  "run_${tool//-/_}" "$addr" "$out" || rc=$?
  now_us; t1=$REPLY
  if ((rc != 0)); then
    why=$(tail -n 3 "$out.err" "$out" 2>/dev/null | tr '\n' ' ' | cut -c1-400)
    die "$tool run $run ($phase) exited $rc: $why"
  fi
  if [[ $tool == smtpdoctor ]]; then
    why=$(check_smtpdoctor "$out" 2>&1) || die "smtpdoctor run $run ($phase): $why"
  fi
  if ((timed)); then
    printf '%s\t%s\t%s\t%s\n' "$phase" "$tool" "$run" "$((t1 - t0))" >>"$TIMES"
  fi
}

phase() { # NAME ADDR RUNS
  local name=$1 addr=$2 n=$3 i tool
  flow_refill
  for ((i = 1; i <= WARMUP; i++)); do
    for tool in "${TOOLS[@]}"; do one_run "$name" "$tool" "w$i" "$addr" 0; done
  done
  for ((i = 1; i <= n; i++)); do
    if ((i % 20 == 0)); then flow_refill; fi
    for tool in "${TOOLS[@]}"; do one_run "$name" "$tool" "$i" "$addr" 1; done
    if [[ -t 2 ]]; then printf '\rladder: %s: %d/%d' "$name" "$i" "$n" >&2; fi
  done
  if [[ -t 2 ]]; then printf '\n' >&2; fi
}

log "phase a: direct to $RM_SUBMISSION, $RUNS runs per tool (+$WARMUP warm-up)"
phase direct "$RM_SUBMISSION" "$RUNS"

log "phase b: through latency-proxy.py, ${DELAY_MS} ms each way, $PROXY_RUNS runs per tool (+$WARMUP warm-up)"
READY=$WORK/proxy.addr
python3 "$HERE/latency-proxy.py" --listen 127.0.0.1:0 --target "$RM_SUBMISSION" \
  --delay-ms "$DELAY_MS" --ready-file "$READY" --trace "$WORK/proxy.trace" 2>"$WORK/proxy.log" &
PROXY_PID=$!
for ((i = 0; i < 100; i++)); do
  [[ -s $READY ]] && break
  kill -0 "$PROXY_PID" 2>/dev/null || die "latency-proxy.py exited: $(cat "$WORK/proxy.log")"
  sleep 0.05
done
[[ -s $READY ]] || die "latency-proxy.py did not start listening"
PROXY_ADDR=$(<"$READY")
phase proxy "$PROXY_ADDR" "$PROXY_RUNS"
stop_proxy
flow_refill # leave the token pool full for whoever uses the rig next

# ---------------------------------------------------------------- report
mkdir -p "$RESULTS_DIR"
STAMP=$(date +%Y%m%d-%H%M%S)
RESULT=$RESULTS_DIR/ladder-$STAMP.txt
GIT_REV=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
GIT_DIRTY=$(cd "$ROOT" && git status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null | head -c1)
SWAKS_VERSION=$(swaks --version 2>/dev/null | sed -n 's/^swaks version \(.*\)$/\1/p' | head -1)
SD_VERSION=$("$BIN" --version 2>/dev/null | head -1)

export L_DATE L_HOST L_SD L_SWAKS L_TARGET L_FLOW
L_FLOW=$([[ -n $FLOW_KICK ]] && echo "token pool refilled (postqueue -f) before each phase and every 20 iterations" || echo "no refill")
L_DATE=$(date -Is)
L_HOST="$(uname -sr), $(nproc) CPU(s)"
if [[ -n $BUILT ]]; then
  L_SD="${SD_VERSION:-?}, built from git $GIT_REV${GIT_DIRTY:+ plus uncommitted changes}, $BIN"
else
  L_SD="${SD_VERSION:-?}, prebuilt $BIN (tree at git $GIT_REV${GIT_DIRTY:+ plus uncommitted changes})"
fi
L_SWAKS="${SWAKS_VERSION:-?} (--tls-verify: chain only, no host name check)"
L_TARGET=$RM_SUBMISSION
python3 - "$WORK" "$DELAY_MS" "$RUNS" "$PROXY_RUNS" "$WARMUP" <<'EOF' >"$WORK/report.txt"
import glob, json, math, os, statistics, sys

work, delay_ms = sys.argv[1], float(sys.argv[2])
runs, proxy_runs, warmup = map(int, sys.argv[3:6])
rtt = 2 * delay_ms
env = os.environ

times = {}
for line in open(os.path.join(work, "times.tsv")):
    phase, tool, run, us = line.rstrip("\n").split("\t")
    times.setdefault((phase, tool), []).append(int(us) / 1000.0)


def p90(xs):  # nearest rank
    s = sorted(xs)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def sd_reports(phase):
    out = []
    for f in sorted(glob.glob(os.path.join(work, f"{phase}-smtpdoctor-*.out"))):
        run = os.path.basename(f)[len(f"{phase}-smtpdoctor-"):-len(".out")]
        if run.isdigit():  # warm-up runs are w1, w2, ...
            out.append(json.load(open(f)))
    return out


med = {k: statistics.median(v) for k, v in times.items()}
print("smtpdoctor vs swaks: submission ladder (EHLO, STARTTLS, EHLO, AUTH PLAIN, MAIL, RCPT, QUIT)")
print("date:       " + env["L_DATE"])
print("host:       " + env["L_HOST"])
print("smtpdoctor: " + env["L_SD"])
print("swaks:      " + env["L_SWAKS"])
print("target:     %s direct; through latency-proxy.py +%g ms each way (RTT %g ms)" % (env["L_TARGET"], delay_ms, rtt))
print("postfix:    in_flow_delay: " + env["L_FLOW"])
print("runs:       %d direct + %d proxied per tool, interleaved, after %d warm-up run(s) per tool and phase;"
      % (runs, proxy_runs, warmup))
print("            wall time of the whole process; p90 = nearest rank")
print()
hdr = "%-7s %-14s %4s %9s %9s %9s %9s %6s %9s" % ("phase", "tool", "runs", "median", "p90", "min", "max", "RTTs", "in-tool")
print(hdr)
print("-" * len(hdr))
internal, rts = {}, {}
for phase in ("direct", "proxy"):
    reps = sd_reports(phase)
    internal[phase] = statistics.median(r["duration_ms"] for r in reps)
    rts[phase] = sorted({r["round_trips"] for r in reps})
    for tool in [t for t in ("smtpdoctor", "swaks", "swaks-pipeline") if (phase, t) in times]:
        xs = times[(phase, tool)]
        rt = "%6.1f" % (med[(phase, tool)] / rtt) if phase == "proxy" else "%6s" % "-"
        it = "%6g ms" % internal[phase] if tool == "smtpdoctor" else "%9s" % "-"
        print("%-7s %-14s %4d %6.1f ms %6.1f ms %6.1f ms %6.1f ms %s %s" % (
            phase, tool, len(xs), med[(phase, tool)], p90(xs), min(xs), max(xs), rt, it))
print()
r_direct = med[("direct", "swaks")] / med[("direct", "smtpdoctor")]
r_proxy = med[("proxy", "swaks")] / med[("proxy", "smtpdoctor")]
print("ratio swaks/smtpdoctor (medians): direct %.2fx, proxied %.2fx" % (r_direct, r_proxy))
if ("direct", "swaks-pipeline") in times:
    print("ratio swaks --pipeline/smtpdoctor (medians): direct %.2fx, proxied %.2fx" % (
        med[("direct", "swaks-pipeline")] / med[("direct", "smtpdoctor")],
        med[("proxy", "swaks-pipeline")] / med[("proxy", "smtpdoctor")]))
print("RTTs = median wall time / %g ms; in-tool = smtpdoctor's own duration_ms (median), the rest of" % rtt)
print("its wall time is process start-up (incl. loading CA certificates) and exit")
print("smtpdoctor's round_trips field (command/reply waits; TCP and TLS handshakes not counted): direct %s, proxied %s"
      % ("/".join(map(str, rts["direct"])), "/".join(map(str, rts["proxy"]))))
print()

# Per-step times from smtpdoctor's JSON (steps[].ms). A "stall" is a run where a step took
# >= 30 ms more than its fastest run: on loopback nothing but a timer (e.g. Nagle waiting
# for a delayed ACK, 40 ms on Linux) explains that.
print("smtpdoctor per step, ms: median [max]; stalls = runs where the step took >= 30 ms over its fastest run")
for phase in ("direct", "proxy"):
    reps = sd_reports(phase)
    names = [s["name"] for s in reps[0]["steps"]]
    cells = []
    for name in names:
        ms = [next((s["ms"] for s in r["steps"] if s["name"] == name), 0) for r in reps]
        cell = "%s %g [%g]" % (name, statistics.median(ms), max(ms))
        stalls = sum(1 for m in ms if m - min(ms) >= 30)
        if stalls:
            cell += " (stalls %d/%d)" % (stalls, len(ms))
        cells.append(cell)
    print("  %s:" % phase)
    for i in range(0, len(cells), 4):
        print("    " + ", ".join(cells[i:i + 4]))
print()

# Runs >= 900 ms slower than the fastest run of the same tool and phase: on this rig that is
# Postfix's in_flow_delay (1 s at RCPT), not the client. They distort medians when many.
flagged = []
for (phase, tool), xs in sorted(times.items()):
    k = sum(1 for x in xs if x - min(xs) >= 900)
    if k:
        flagged.append("%s %s %d/%d" % (phase, tool, k, len(xs)))
if flagged:
    print("WARNING: runs >= 900 ms over the fastest (Postfix in_flow_delay?): " + ", ".join(flagged))
    print()
if r_direct >= 1 and r_proxy >= 1:
    print("smtpdoctor is %.1fx faster than swaks direct, %.1fx through %g ms latency (%.1f vs %.1f RTT)" % (
        r_direct, r_proxy, delay_ms, med[("proxy", "smtpdoctor")] / rtt, med[("proxy", "swaks")] / rtt))
else:
    print("swaks/smtpdoctor time ratio: %.2fx direct, %.2fx through %g ms latency (%.1f vs %.1f RTT)" % (
        r_direct, r_proxy, delay_ms, med[("proxy", "smtpdoctor")] / rtt, med[("proxy", "swaks")] / rtt))
EOF

cp "$WORK/report.txt" "$RESULT"
echo
cat "$RESULT"
echo
log "results written to $RESULT"
