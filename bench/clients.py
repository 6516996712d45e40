#!/usr/bin/env python3
"""A consultant's folder of client folders, scanned at once: time, peak memory, CPU use, and
whether each client's findings equal those of scanning its folder alone.

usage: clients.py EXE [N]        (default 10,000 clients, about 550 MB of Format-List text)

Generates the batch with gen_clients.py (once, under $TMPDIR), runs
`EXE scan DIR --format json --fail-on never` under /usr/bin/time, then checks every client:
its findings (rule, object) must be exactly those of its fixture scanned alone. Prints one
line of figures; exit 1 on a mismatch. Targets (issue 15): < 20 s, <= 128 MiB, both cores.
"""
import collections
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def timed(cmd):
    p = subprocess.run(["/usr/bin/time", "-f", "%e %M %P"] + cmd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    wall, kb, cpu = p.stderr.decode().strip().splitlines()[-1].split()
    return float(wall), int(kb) / 1024, cpu, p.returncode, p.stdout


def findings(doc, audit=None):
    return sorted((f["rule"], f["object"]["id"]) for f in doc["findings"]
                  if audit is None or f.get("audit") == audit)


def main():
    exe = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    base = os.path.join(tempfile.gettempdir(), f"relay-audit-clients-{n}")
    manifest = base + ".json"
    if not os.path.exists(manifest):
        subprocess.run([sys.executable, os.path.join(HERE, "gen_clients.py"), base, "-n", str(n),
                        "--manifest", manifest], check=True)
    clients = json.load(open(manifest))["clients"]
    wall, mib, cpu, code, out = timed([exe, "scan", base, "--format", "json", "--fail-on", "never"])
    if code not in (0, 1):
        print(f"scan failed: exit {code}")
        return 1
    doc = json.loads(out)
    # Each kind of client scanned alone, once.
    alone = {}
    for name, kind in clients.items():
        if kind not in alone:
            p = subprocess.run([exe, "scan", os.path.join(base, name), "--format", "json",
                                "--fail-on", "never"], capture_output=True, check=False)
            alone[kind] = findings(json.loads(p.stdout))
    by_audit = collections.defaultdict(list)
    for f in doc["findings"]:
        by_audit[f.get("audit")].append((f["rule"], f["object"]["id"]))
    bad = [name for name, kind in clients.items() if sorted(by_audit.get(name, [])) != alone[kind]]
    audits = len(doc.get("audits", []))
    print(f"{n} client folders: {wall:.2f} s, peak {mib:.0f} MiB, CPU {cpu}, "
          f"{audits} audits, {len(doc['findings'])} findings, "
          f"{n - len(bad)}/{n} clients equal to their folder scanned alone")
    if bad:
        print("mismatch:", bad[:5])
        return 1
    ok = audits == n and wall < 20 and mib <= 128
    print("targets (< 20 s, <= 128 MiB, one audit per client):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
