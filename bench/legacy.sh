#!/usr/bin/env bash
# Throughput and peak memory of `relay-audit scan` on large legacy exports: a hosting server's
# MetaBase.xml and a configuration-partition LDIF (bench/gen_legacy.py). Not a test: it prints
# figures, and exits 1 if the findings are not the planted ones.
#
# usage: bench/legacy.sh [SITES]          (default 100000)
set -euo pipefail
N="${1:-100000}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DIR="${TMPDIR:-/tmp}/relay-audit-bench-legacy"
cargo build --release -q
rm -rf "$DIR" && python3 bench/gen_legacy.py "$DIR" --sites "$N"
status=0
for f in MAIL-MetaBase.xml config.ldf; do
  size=$(stat -c %s "$DIR/$f")
  /usr/bin/time -f "%e %M" -o "$DIR/time" target/release/relay-audit scan "$DIR/$f" \
    --format json --fail-on never >"$DIR/out.json"
  read -r secs kib <"$DIR/time"
  rules=$(python3 -c 'import json,sys; print(",".join(sorted(f["rule"] for f in json.load(open(sys.argv[1]))["findings"])))' "$DIR/out.json")
  python3 -c 'import sys; s,t,k=map(float,sys.argv[1:4]); print(f"{sys.argv[4]}: {s/1e6:.0f} MB in {t:.2f} s ({s/1e6/max(t,0.01):.0f} MB/s), peak {k/1024:.1f} MiB")' \
    "$size" "$secs" "$kib" "$f"
  echo "   findings: ${rules:-none}"
  case "$f" in
    MAIL-MetaBase.xml) [[ "$rules" == "SVS-RELAY-ALL-EXCEPT-EMPTY" ]] || status=1 ;;
    config.ldf) [[ -z "$rules" ]] || status=1 ;;
  esac
done
exit $status
