#!/usr/bin/env bash
# bench/explain.sh: how fast `smtpdoctor explain` answers.
#   1. one call, the whole process (start, knowledge index, answer, exit): median of N runs;
#   2. `explain --lines` throughput over a large file of typical error lines (lines/s).
# Goals (issue 4): one call under 5 ms wall; --lines at 200,000 lines/s or more.
# Env: BENCH_RUNS (default 200), BENCH_LINES (default 500000), SMTPDOCTOR_BIN (skip the build),
#      CARGO_TARGET_DIR (default target).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${BENCH_RUNS:-200}
lines=${BENCH_LINES:-500000}
if [[ -z ${SMTPDOCTOR_BIN:-} ]]; then
  cargo build --release -q -p smtpdoctor
  SMTPDOCTOR_BIN=${CARGO_TARGET_DIR:-target}/release/smtpdoctor
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$SMTPDOCTOR_BIN" "$runs" "$lines" "$work" <<'PY'
import subprocess, sys, time, statistics, os
binary, runs, lines, work = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
samples = [
    "535 5.7.8 Username and Password not accepted",
    "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
    "554 5.7.1 <x@example.net>: Relay access denied",
    "530 5.7.0 Must issue a STARTTLS command first",
    "421 4.7.0 Too many concurrent SMTP connections; please try again later",
    "450 4.2.0 <a@example.org>: Recipient address rejected: Greylisted",
    "552 5.3.4 Message size exceeds fixed limit",
    "550 5.7.1 Client host [192.0.2.1] blocked using zen.spamhaus.org",
    "connect to mx.example.org[192.0.2.7]:25: Connection timed out",
    "curl: (7) Failed to connect to smtp.example.org port 587: Connection refused",
    "451 4.3.0 Error: queue file write error",
    "250 2.0.0 Ok: queued as 4Xyz",
    "something nobody has ever written before",
]
# 1. one call
times = []
for i in range(runs):
    text = samples[i % len(samples)]
    t = time.perf_counter()
    subprocess.run([binary, "explain", text, "--format", "json"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times.append((time.perf_counter() - t) * 1000)
times.sort()
median = statistics.median(times)
p90 = times[int(len(times) * 0.9)]
# 2. --lines throughput
path = os.path.join(work, "errors.txt")
with open(path, "w") as f:
    for i in range(lines):
        f.write(samples[i % len(samples)] + "\n")
best = None
for _ in range(3):
    t = time.perf_counter()
    subprocess.run([binary, "explain", "--lines", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    elapsed = time.perf_counter() - t
    best = elapsed if best is None else min(best, elapsed)
rate = lines / best
print(f"explain, one call: median {median:.2f} ms, p90 {p90:.2f} ms over {runs} runs (goal: under 5 ms)")
print(f"explain --lines: {lines} lines in {best:.2f} s = {rate:,.0f} lines/s, best of 3 (goal: 200,000 lines/s)")
PY
