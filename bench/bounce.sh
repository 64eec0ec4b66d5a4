#!/usr/bin/env bash
# bench/bounce.sh: `smtpdoctor bounce` against Sisimai on the same bounce corpus, side by side in
# one run.
#   1. The corpus directory, read in place by both: BENCH_RUNS runs per tool, interleaved
#      (smtpdoctor, smtpdoctor --jobs 1, Sisimai, smtpdoctor, ...), after one untimed warm-up
#      each. Wall time of the whole process (start-up included), messages/s, and the ratio of the
#      medians. smtpdoctor reads messages on one thread per CPU by default; `--jobs 1` shows one
#      core's rate (Sisimai uses one).
#   2. A large mbox: the corpus concatenated BENCH_COPIES times into a temporary directory.
#      smtpdoctor's throughput (MB/s, messages/s) and peak memory (max RSS), best of 3; Sisimai
#      once on the same file (BENCH_SISIMAI_MBOX=0 skips it).
# Both tools write every record as JSON to /dev/null: smtpdoctor `bounce --format jsonl`, Sisimai
# `Sisimai->dump(PATH, delivered => 1)` (JSON of every record, delivered ones included).
# Goals (issue 7): at least 5,000 messages/s, and at least 10 times Sisimai's rate.
# Env: BENCH_CORPUS (default ../shared/corpora/bounces/set-of-emails/maildir/bsd beside the
#      repository), BENCH_RUNS (10), BENCH_COPIES (100), BENCH_SISIMAI_MBOX (1),
#      SMTPDOCTOR_BIN (skip the build), CARGO_TARGET_DIR (default target).
# Needs python3 and, for the comparison, Sisimai (Debian: libsisimai-perl, installed by
# scripts/install-deps). Without the corpus it says so and exits 0.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
corpus=${BENCH_CORPUS:-../shared/corpora/bounces/set-of-emails/maildir/bsd}
if [[ ! -d $corpus ]]; then
  echo "bench/bounce.sh: no corpus at $corpus (it ships in ../shared; set BENCH_CORPUS): skipped"
  exit 0
fi
if [[ -z ${SMTPDOCTOR_BIN:-} ]]; then
  cargo build --release -q -p smtpdoctor
  SMTPDOCTOR_BIN=${CARGO_TARGET_DIR:-target}/release/smtpdoctor
fi
sisimai=1
if ! perl -MSisimai -e 1 2>/dev/null; then
  echo "bench/bounce.sh: Sisimai is not installed (scripts/install-deps installs libsisimai-perl): smtpdoctor alone"
  sisimai=0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$SMTPDOCTOR_BIN" "$corpus" "$work" "${BENCH_RUNS:-10}" "${BENCH_COPIES:-100}" \
  "$sisimai" "${BENCH_SISIMAI_MBOX:-1}" <<'PY'
import os, re, statistics, subprocess, sys, time

binary, corpus, work = sys.argv[1], sys.argv[2], sys.argv[3]
runs, copies = int(sys.argv[4]), int(sys.argv[5])
with_sisimai, sisimai_mbox = sys.argv[6] == "1", sys.argv[7] == "1"
SISIMAI = "print Sisimai->dump($ARGV[0], delivered => 1) // '[]'"


def run(argv):
    """Runs one process with stdout to /dev/null; returns (wall s, max RSS KiB, stderr)."""
    t = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    code = os.waitstatus_to_exitcode(status)
    # smtpdoctor's exit code is the verdict's class (13 for a corpus of bounces); a crash is not.
    if code < 0 or code in (2, 3):
        sys.exit(f"{argv[0]} failed (exit {code}): {err.decode(errors='replace')[-2000:]}")
    return wall, usage.ru_maxrss, err.decode(errors="replace")


def smtpdoctor(path, *extra):
    return run([binary, "bounce", path, "--format", "jsonl", *extra])


def sisimai(path):
    return run(["perl", "-MSisimai", "-e", SISIMAI, path])


def messages(stderr):
    m = re.search(r"smtpdoctor bounce: (\d+) messages?, (\d+) records?", stderr)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def sisimai_records(path):
    out = subprocess.run(["perl", "-MSisimai", "-e", "my $v = Sisimai->make($ARGV[0], delivered => 1) // []; print scalar @$v", path],
                         capture_output=True, text=True, check=True).stdout
    return int(out or 0)


def p90(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * 0.9))]


files = sum(len(f) for _, _, f in os.walk(corpus))
size = sum(os.path.getsize(os.path.join(d, n)) for d, _, fs in os.walk(corpus) for n in fs)
print(f"corpus: {corpus}: {files} files, {size / 1e6:.1f} MB; smtpdoctor {binary}")

# 1. The corpus, interleaved.
_, _, err = smtpdoctor(corpus)
count, records = messages(err)
if with_sisimai:
    sisimai(corpus)
smtpdoctor(corpus, "--jobs", "1")
times = {"smtpdoctor": [], "smtpdoctor -j1": [], "Sisimai": []}
for _ in range(runs):
    times["smtpdoctor"].append(smtpdoctor(corpus)[0])
    times["smtpdoctor -j1"].append(smtpdoctor(corpus, "--jobs", "1")[0])
    if with_sisimai:
        times["Sisimai"].append(sisimai(corpus)[0])
print(f"\n1. corpus, {runs} runs per tool, interleaved ({count} messages)")
print(f"{'tool':<14} {'median':>10} {'p90':>10} {'best':>10} {'messages/s (median)':>20} {'records':>8}")
rates = {}
for tool, ts in times.items():
    if not ts:
        continue
    median = statistics.median(ts)
    rates[tool] = count / median
    recs = sisimai_records(corpus) if tool == "Sisimai" else records
    print(f"{tool:<14} {median * 1000:>8.1f} ms {p90(ts) * 1000:>7.1f} ms {min(ts) * 1000:>7.1f} ms {rates[tool]:>20,.0f} {recs:>8}")
if "Sisimai" in rates:
    print(f"smtpdoctor / Sisimai: {rates['smtpdoctor'] / rates['Sisimai']:.1f}x (goal: 10x), "
          f"on one thread {rates['smtpdoctor -j1'] / rates['Sisimai']:.1f}x; "
          f"smtpdoctor {rates['smtpdoctor']:,.0f} messages/s (goal: 5,000)")

# 2. A large mbox: the corpus concatenated `copies` times.
mbox = os.path.join(work, "corpus.mbox")
escape = re.compile(rb"^(>*From )", re.M)
with open(mbox, "wb") as out:
    parts = []
    for d, _, fs in sorted(os.walk(corpus)):
        for n in sorted(fs):
            with open(os.path.join(d, n), "rb") as f:
                data = f.read()
            if data.startswith(b"From "):
                head, _, body = data.partition(b"\n")
                head += b"\n"
            else:
                head, body = b"From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n", data
            body = escape.sub(rb">\1", body)
            if not body.endswith(b"\n"):
                body += b"\n"
            parts.append(head + body + b"\n")
    one = b"".join(parts)
    for _ in range(copies):
        out.write(one)
mb = os.path.getsize(mbox) / 1e6
def best_of_3(*extra):
    best = None
    for _ in range(3):
        r = smtpdoctor(mbox, *extra)
        best = r if best is None or r[0] < best[0] else best
    return best


wall, rss, err = best_of_3()
n, recs = messages(err)
print(f"\n2. one mbox of the corpus x {copies}: {mb:.0f} MB, {n} messages, {recs} records")
print(f"smtpdoctor     {wall:.2f} s (best of 3): {mb / wall:,.0f} MB/s, {n / wall:,.0f} messages/s, max RSS {rss / 1024:.1f} MiB")
wall1, rss1, _ = best_of_3("--jobs", "1")
print(f"smtpdoctor -j1 {wall1:.2f} s (best of 3): {mb / wall1:,.0f} MB/s, {n / wall1:,.0f} messages/s, max RSS {rss1 / 1024:.1f} MiB")
if with_sisimai and sisimai_mbox:
    wall_s, rss_s, _ = sisimai(mbox)
    print(f"Sisimai        {wall_s:.2f} s (one run):   {mb / wall_s:,.1f} MB/s, {n / wall_s:,.0f} messages/s, max RSS {rss_s / 1024:.1f} MiB")
    print(f"smtpdoctor / Sisimai: {wall_s / wall:.1f}x, on one thread {wall_s / wall1:.1f}x")
PY
