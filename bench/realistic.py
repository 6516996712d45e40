#!/usr/bin/env python3
"""The realistic shape, side by side: permission-heavy exports (every receive connector with
its Get-ADPermission ACL, about a dozen entries each, plus servers; bench/gen_exports.py) at
2,000 / 5,000 / 20,000 connectors, scanned by relay-audit, by the shared Python peer and by
ripgrep in one run; then inventory and diff against scan; then 10,000 client folders
(bench/clients.py).

usage: realistic.py EXE [--sizes 2000,5000,20000] [--runs 1] [--no-clients]

Exports are generated once under $TMPDIR/relay-audit-realistic/c<N> (about 250 MB per 1,000
connectors: 20,000 need 5 GB of disk). Prints the table issue 15 states its goals in:
seconds, ratio to the peer (peer time / ours), ratio to ripgrep (rg time / ours), peak RSS;
then inventory and diff as multiples of scan. A benchmark, not a test: it exits 0 whatever
the figures, 1 only when a command fails.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "..", "..", "shared", "bench", "peer_scan.py")


def timed(cmd):
    p = subprocess.run(["/usr/bin/time", "-f", "%e %M"] + cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    line = p.stderr.decode().strip().splitlines()[-1].split()
    return float(line[0]), int(line[1]) / 1024, p.returncode


def export(n):
    d = os.path.join(tempfile.gettempdir(), "relay-audit-realistic", f"c{n}")
    if not os.path.exists(os.path.join(d, "permissions.xml")):
        subprocess.run([sys.executable, os.path.join(HERE, "gen_exports.py"), "-n", str(n),
                        "--form", "clixml", "--quiet", d], check=True)
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("exe")
    ap.add_argument("--sizes", default="2000,5000,20000")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--no-clients", action="store_true")
    a = ap.parse_args()
    if not os.path.exists(PEER):
        print(f"the shared Python peer is not at {PEER}")
        return 1
    rows = []
    for n in [int(x) for x in a.sizes.split(",")]:
        d = export(n)
        files = sorted(os.path.join(d, f) for f in os.listdir(d))
        ours = [a.exe, "scan", d, "--format", "json", "--fail-on", "never", "--quiet"]
        peer = ["sh", "-c", " && ".join(f"{sys.executable} {PEER} '{f}'" for f in files)]
        rg = ["rg", "-c", "0.0.0.0-255.255.255.255", d]
        inv = [a.exe, "inventory", d, "--format", "json"]
        diff = [a.exe, "diff", d, d, "--format", "json", "--fail-on", "never"]
        t = {k: [] for k in ("ours", "peer", "rg", "inv", "diff")}
        rss = {k: 0.0 for k in t}
        for _ in range(a.runs):
            for k, c in (("ours", ours), ("peer", peer), ("rg", rg), ("inv", inv), ("diff", diff)):
                w, m, code = timed(c)
                if k != "rg" and code not in (0, 1):
                    print(f"{' '.join(c)}: exit {code}")
                    return 1
                t[k].append(w)
                rss[k] = max(rss[k], m)
        med = {k: statistics.median(v) for k, v in t.items()}
        rows.append((n, med, rss))
    print("| connectors (with ACLs) | scan | vs peer | vs ripgrep | peak RSS | inventory | diff |")
    print("|---|---|---|---|---|---|---|")
    for n, med, rss in rows:
        print(f"| {n:,} | {med['ours']:.2f} s | {med['peer'] / med['ours']:.1f}x | "
              f"{100 * med['rg'] / med['ours']:.0f} % | {rss['ours']:.0f} MiB | "
              f"{med['inv']:.2f} s ({med['inv'] / med['ours']:.2f}x scan) | "
              f"{med['diff']:.2f} s ({med['diff'] / med['ours']:.2f}x scan) |")
    sys.stdout.flush()
    if not a.no_clients:
        return subprocess.run([sys.executable, os.path.join(HERE, "clients.py"), a.exe]).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
