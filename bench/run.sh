#!/usr/bin/env bash
# relay-audit's own benchmark: throughput and peak memory of `relay-audit scan` on a large
# generated organisation export, in both export forms. Not a test: it prints figures.
#
# usage: bench/run.sh [CONNECTORS]        (default 50000; 5 connectors per server)
#   env: TMPDIR     where the exports go ($TMPDIR/relay-audit-bench/{clixml,fl}; default /tmp)
#        RUNS       timed runs per form (default 3; the median is reported)
#        SKIP_SHARED=1   do not run the shared harness (../shared/bench/perf.py) at the end
#
# Exit status: 0 when every scan ran and found exactly the expected RC-ANON-RELAY-INTERNET
# findings and record counts, 1 otherwise.
set -euo pipefail

N="${1:-50000}"
RUNS="${RUNS:-3}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BASE="${TMPDIR:-/tmp}/relay-audit-bench"
EXE="$ROOT/target/release/relay-audit"

for tool in python3 /usr/bin/time cargo; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is needed" >&2; exit 1; }
done

echo "== cargo build --release"
cargo build --release

mkdir -p "$BASE"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/relay-audit-bench-run.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
status=0

for form in clixml fl; do
  dir="$BASE/$form"
  manifest="$BASE/$form.json"
  want=$(( N / 5 * 5 ))
  have=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["connectors"])' \
         "$manifest" 2>/dev/null || echo none)
  if [[ ! -d "$dir" || "$have" != "$want" ]]; then
    echo "== generating $form export of $want connectors into $dir"
    rm -rf "$dir" "$manifest"
    python3 bench/gen_exports.py "$dir" --connectors "$N" --form "$form" \
      --manifest "$manifest" --quiet
  else
    echo "== reusing $dir ($have connectors; delete it to regenerate)"
  fi

  echo "== $form: $RUNS runs of: relay-audit scan $dir --format json --fail-on never"
  for i in $(seq 1 "$RUNS"); do
    rc=0
    /usr/bin/time -f "%e %M" -o "$WORK/time.$form.$i" \
      "$EXE" scan "$dir" --format json --fail-on never \
      >"$WORK/out.$form.json" 2>"$WORK/err.$form" || rc=$?
    echo "$rc" >"$WORK/rc.$form.$i"
    printf '   run %d: %s s, %s KiB, exit %s\n' "$i" \
      "$(cut -d' ' -f1 "$WORK/time.$form.$i" | tail -1)" \
      "$(cut -d' ' -f2 "$WORK/time.$form.$i" | tail -1)" "$rc"
  done

  python3 - "$form" "$manifest" "$WORK" "$RUNS" <<'PY' || status=1
import json, statistics, sys
form, manifest, work, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
m = json.load(open(manifest))
walls, rss, codes = [], [], []
for i in range(1, runs + 1):
    last = open(f"{work}/time.{form}.{i}").read().split("\n")
    last = [l for l in last if l.strip()][-1].split()
    walls.append(float(last[0]))
    rss.append(int(last[1]))
    codes.append(int(open(f"{work}/rc.{form}.{i}").read()))
med = statistics.median(walls)
mb = m["bytes"] / 1e6
ok = True
try:
    doc = json.load(open(f"{work}/out.{form}.json"))
except ValueError as e:
    doc, ok = {}, False
    print(f"   JSON output unreadable: {e}")
rule = "RC-ANON-RELAY-INTERNET"
found = sum(1 for f in doc.get("findings", []) if f.get("rule") == rule)
expected = m["expected"][rule]
records = sum(i.get("records", 0) for i in doc.get("inputs", []))
errors = [i for i in doc.get("inputs", []) if i.get("status") != "ok"]
print(f"   input      {mb:,.0f} MB ({m['connectors']:,} connectors, {m['aces']:,} ACEs, "
      f"UTF-16LE {form})")
print(f"   wall       median {med:.2f} s of {runs} (min {min(walls):.2f}, max {max(walls):.2f})")
print(f"   throughput {mb / med:,.0f} MB/s  (input bytes / median wall time)")
print(f"   peak RSS   {max(rss) / 1024:,.1f} MiB (max of {runs} runs)")
print(f"   {rule}: {found} found, {expected} expected  "
      f"{'OK' if found == expected else 'MISMATCH'}")
print(f"   records    {records:,} read, {m['records']:,} expected  "
      f"{'OK' if records == m['records'] else 'MISMATCH'}")
if any(c != 0 for c in codes):
    print(f"   exit codes {codes} (expected 0 with --fail-on never)")
    ok = False
for e in errors:
    print(f"   input not ok: {e.get('path')}: {e.get('status')}")
    ok = False
for d in doc.get("diagnostics", [])[:5]:
    print(f"   diagnostic: {json.dumps(d)[:200]}")
ok = ok and found == expected and records == m["records"]
print(f"RESULT {form}: {mb / med:,.0f} MB/s, {max(rss) / 1024:,.1f} MiB peak, "
      f"{'counts OK' if ok else 'CHECK FAILED'}")
sys.exit(0 if ok else 1)
PY
  if [[ -s "$WORK/err.$form" ]]; then
    echo "   stderr of the last run (first lines):"
    head -5 "$WORK/err.$form" | sed 's/^/     /'
  fi
done

echo "== shared harness"
if [[ "${SKIP_SHARED:-0}" == 1 ]]; then
  echo "   skipped (SKIP_SHARED=1)"
elif [[ -f ../shared/bench/perf.py ]]; then
  python3 ../shared/bench/perf.py target/release/relay-audit || echo "   shared harness exited $?"
else
  echo "   skipped: ../shared/bench/perf.py is not here (the shared folder is absent)"
fi

exit "$status"
