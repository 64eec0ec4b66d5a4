#!/usr/bin/env bash
# bench/logs.sh — `smtpdoctor logs` against pflogsumm on the same synthesised Postfix log, one
# after the other, each pinned to one core: MB/s, lines/s, the ratio (by wall time, and by CPU
# time when /usr/bin/time is there), and whether the grand totals (received, delivered,
# deferred, bounced, rejected) agree.
#   BENCH_MB   size of the log to synthesise (default 300)
#   BENCH_DIR  where to write it (default a temporary directory, removed at the end)
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
cat "$LOG" >/dev/null # into the page cache for both

# Wall time, and the CPU time (user + system) each spent: on a machine shared with other work
# the wall time counts waiting for the core too, the CPU time does not.
cpu() {
    if [[ -x /usr/bin/time ]]; then /usr/bin/time -f "%U %S" -o "$1" "${@:2}"; else echo "0 0" >"$1"; "${@:2}"; fi
}
t0=$EPOCHREALTIME
cpu "$DIR/ours.cpu" "${PIN[@]}" "$BIN" logs --summary --format json --tz UTC --year 2025 "$LOG" >"$DIR/ours.json" || true
t1=$EPOCHREALTIME
cpu "$DIR/pflogsumm.cpu" "${PIN[@]}" pflogsumm "$LOG" >"$DIR/pflogsumm.txt" 2>/dev/null
t2=$EPOCHREALTIME

python3 - "$BYTES" "$LINES" "$t0" "$t1" "$t2" "$DIR/ours.json" "$DIR/pflogsumm.txt" "$DIR/ours.cpu" "$DIR/pflogsumm.cpu" <<'PY'
import json, re, sys
size, lines = int(sys.argv[1]), int(sys.argv[2])
t0, t1, t2 = map(float, sys.argv[3:6])
ours = json.load(open(sys.argv[6]))["summary"]
text = open(sys.argv[7]).read()
def cpu(path):
    # the last line: `/usr/bin/time` puts the child's exit status before it when non-zero
    return sum(map(float, open(path).read().split("\n")[-2].split()))
ca, cb = cpu(sys.argv[8]), cpu(sys.argv[9])
def pf(word):
    m = re.search(r"^\s*(\d+)([km]?)\s+" + word + r"\b", text, re.M)
    n = int(m.group(1))
    return n * {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(2)]
a, b = t1 - t0, t2 - t1
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
