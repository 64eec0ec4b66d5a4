#!/usr/bin/env bash
# bench/logs.sh — `smtpdoctor logs` against pflogsumm on the same synthesised Postfix log, one
# after the other, each pinned to one core: MB/s, lines/s, the ratio (by wall time, and by CPU
# time when /usr/bin/time is there), and whether the grand totals (received, delivered,
# deferred, bounced, rejected) agree.
#   BENCH_MB   size of the log to synthesise (default 300)
#   BENCH_DIR  where to write it (default a temporary directory, removed at the end)
#   BENCH_RUNS runs of smtpdoctor, the median of their wall and CPU times counts (default 5)
# The log is written by bench/gen-postfix-log.py from its own line templates (no corpus lines).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MB=${BENCH_MB:-300}
DIR=${BENCH_DIR:-$(mktemp -d)}
[[ -n ${BENCH_DIR:-} ]] || trap 'rm -rf "$DIR"' EXIT
command -v pflogsumm >/dev/null || { echo "pflogsumm is not installed (scripts/install-deps)" >&2; exit 1; }
TARGET=${CARGO_TARGET_DIR:-target}
cargo build -q --release -p smtpdoctor
BIN=$TARGET/release/smtpdoctor
LOG=$DIR/postfix.log
python3 bench/gen-postfix-log.py "$MB" >"$LOG"
BYTES=$(stat -c %s "$LOG")
LINES=$(wc -l <"$LOG")
PIN=()
command -v taskset >/dev/null && PIN=(taskset -c 0)
sync                  # the synthesised log on disk: no write-back during the timings
cat "$LOG" >/dev/null # into the page cache for both
RUNS=${BENCH_RUNS:-5}  # runs of smtpdoctor (the median counts); pflogsumm runs once

# Wall time, and the CPU time (user + system) each spent: on a machine shared with other work
# the wall time counts waiting for the core too, the CPU time does not.
cpu() {
    if [[ -x /usr/bin/time ]]; then /usr/bin/time -f "%U %S" -o "$1" "${@:2}"; else echo "0 0" >"$1"; "${@:2}"; fi
}
walls=()
for ((r = 0; r < RUNS; r++)); do
    t0=$EPOCHREALTIME
    cpu "$DIR/ours.cpu.$r" "${PIN[@]}" "$BIN" logs --summary --format json --tz UTC --year 2025 "$LOG" >"$DIR/ours.json" || true
    t1=$EPOCHREALTIME
    walls+=("$t0:$t1")
done
t1=$EPOCHREALTIME
cpu "$DIR/pflogsumm.cpu" "${PIN[@]}" pflogsumm "$LOG" >"$DIR/pflogsumm.txt" 2>/dev/null
t2=$EPOCHREALTIME

python3 - "$BYTES" "$LINES" "${walls[*]}" "$t1" "$t2" "$DIR/ours.json" "$DIR/pflogsumm.txt" "$DIR/ours.cpu" "$DIR/pflogsumm.cpu" "$RUNS" <<'PY'
import json, re, statistics, sys
size, lines = int(sys.argv[1]), int(sys.argv[2])
ours_walls = [float(b) - float(a) for a, b in (w.split(":") for w in sys.argv[3].split())]
t1, t2 = float(sys.argv[4]), float(sys.argv[5])
ours = json.load(open(sys.argv[6]))["summary"]
text = open(sys.argv[7]).read()
runs = int(sys.argv[10])
def cpu(path):
    # the last line: `/usr/bin/time` puts the child's exit status before it when non-zero
    return sum(map(float, open(path).read().split("\n")[-2].split()))
ca = statistics.median(cpu(f"{sys.argv[8]}.{r}") for r in range(runs))
cb = cpu(sys.argv[9])
def pf(word):
    m = re.search(r"^\s*(\d+)([km]?)\s+" + word + r"\b", text, re.M)
    n = int(m.group(1))
    return n * {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(2)]
a, b = statistics.median(ours_walls), t2 - t1
print(f"smtpdoctor runs (wall, s): {' '.join(f'{w:.2f}' for w in ours_walls)}; the medians count")
mb = size / 1e6
print(f"log: {mb:.0f} MB, {lines} lines (synthesised)")
def cpu_text(c):
    return f"   CPU {c:7.2f} s  {mb / c:8.1f} MB/s" if ca and cb else ""
print(f"smtpdoctor logs: {a:8.2f} s  {mb / a:8.1f} MB/s  {lines / a:12.0f} lines/s{cpu_text(ca)}")
print(f"pflogsumm:       {b:8.2f} s  {mb / b:8.1f} MB/s  {lines / b:12.0f} lines/s{cpu_text(cb)}")
cpu_ratio = f", {cb / ca:.1f}x CPU" if ca and cb else ""
print(f"ratio (pflogsumm time / smtpdoctor time): {b / a:.1f}x wall{cpu_ratio}")
ok = True
for k in ["received", "delivered", "deferred", "bounced", "rejected"]:
    same = ours[k] == pf(k)
    ok &= same
    print(f"  {k:<10} smtpdoctor {ours[k]:>10}  pflogsumm {pf(k):>10}  {'same' if same else 'DIFFERENT'}")
print("totals agree" if ok else "totals DIFFER")
sys.exit(0 if ok else 1)
PY
