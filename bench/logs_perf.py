#!/usr/bin/env python3
"""Side-by-side timing of relay-audit reading SMTP logs, against ripgrep and a Python csv peer.

usage: logs_perf.py EXE [SIZE]   (default 2G of Exchange 2019 FrontEnd/Hub RECV + MSGTRK logs)

Generates the log set once with ``fixtures/make_logs.py --bench`` into
``$TMPDIR/relay-audit-logs-<SIZE>`` (4 servers; the open-relay-anonymous content, so EX01's
logs hold Internet-to-Internet relay from three addresses), then runs 3 alternating rounds of:

- ours: ``EXE scan fixtures/open-relay-anonymous/clixml DIR --format json --fail-on never``
- rg:   ``rg -c 'RCPT TO' DIR`` (a literal count over the same files: the I/O-bound floor)
- peer: ``bench/peer_logs.py`` (stdlib csv: sessions grouped, replies paired FIFO, relayed RCPTs
  counted per connector and client)

Prints medians, MB/s, ours against ripgrep (throughput) and against the peer (speed-up), and
ours' peak RSS (``/usr/bin/time -f %M``). The timed scan must have done the work: its JSON must
name each relaying Internet address the generator planted, and the peer must count exactly the
relayed RCPTs the generator wrote (``DIR.counts.json``). Exit 0 when ours reaches >= 50 % of
ripgrep's throughput and peaks at <= 128 MiB. A benchmark, not a test.
"""
import json
import os
import statistics
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CONFIG = os.path.join(ROOT, "fixtures", "open-relay-anonymous", "clixml")


def run(cmd, capture=False):
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    wall = time.perf_counter() - t
    return wall, p.returncode, p.stderr.decode("utf-8", "replace")[-300:], p.stdout


def peak_mib(cmd):
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    return int(p.stderr.decode().strip().splitlines()[-1]) / 1024


def log_bytes(path):
    total = 0
    for dirpath, _, names in os.walk(path):
        total += sum(os.path.getsize(os.path.join(dirpath, n)) for n in names
                     if n.upper().endswith(".LOG"))
    return total


def main():
    if len(sys.argv) < 2:
        print(__doc__.split("\n\n")[1])
        return 2
    exe = sys.argv[1]
    size = sys.argv[2] if len(sys.argv) > 2 else "2G"
    if not shutil.which("rg"):
        print("ripgrep is needed as the scan-speed reference: apt-get install ripgrep")
        return 1
    path = os.path.join(tempfile.gettempdir(), f"relay-audit-logs-{size}")
    counts_path = path + ".counts.json"
    if not (os.path.exists(counts_path) and os.path.isdir(path)):
        subprocess.run([sys.executable, os.path.join(ROOT, "fixtures", "make_logs.py"),
                        "--bench", path, "--size", size, "--servers", "4"], check=True)
    planted = json.load(open(counts_path))["frontend_relay"]
    mb = log_bytes(path) / 1e6
    ours = [exe, "scan", CONFIG, path, "--format", "json", "--fail-on", "never"]
    rg = ["rg", "-c", "RCPT TO", path]
    peer = [sys.executable, os.path.join(HERE, "peer_logs.py"), CONFIG, path]
    times = {"ours": [], "rg": [], "peer": []}
    for _ in range(3):
        for k, c in (("ours", ours), ("rg", rg), ("peer", peer)):
            w, code, err, _ = run(c)
            if k == "ours" and code not in (0, 1):
                print(f"relay-audit scan failed (exit {code}): {err.strip()}")
                return 1
            if k == "peer" and code != 0:
                print(f"peer_logs.py failed (exit {code}): {err.strip()}")
                return 1
            times[k].append(w)
    med = {k: statistics.median(v) for k, v in times.items()}

    # The peer must count what the generator wrote; ours must name every relaying address.
    _, _, _, out = run(peer, capture=True)
    got = json.loads(out)
    for key, (_, relayed, _) in planted.items():
        _, conn, ip = key.split("|")
        if got.get(f"{conn}|{ip}", [0, 0])[1] != relayed:
            print(f"peer counted {got.get(conn + '|' + ip)} for {conn} {ip}, planted {relayed} relayed")
            return 1
    abusers = sorted({k.split("|")[2] for k, v in planted.items()
                      if v[1] and not k.split("|")[2].startswith("10.")})
    _, _, _, doc = run(ours, capture=True)
    missing = [ip for ip in abusers if ip.encode() not in doc]
    rss = peak_mib(ours)
    vs_rg = med["rg"] / med["ours"]
    vs_peer = med["peer"] / med["ours"]
    print(f"input {mb:.0f} MB of RECV/MSGTRK logs ({path})")
    for k in ("ours", "rg", "peer"):
        print(f"  {k:5s} median {med[k]:.2f} s  ({mb / med[k]:.0f} MB/s)")
    print(f"logs perf: {100 * vs_rg:.0f}% of ripgrep's throughput, {vs_peer:.1f}x the Python "
          f"csv peer, peak {rss:.0f} MiB")
    if missing:
        print(f"relay-audit's report does not name the relaying addresses {', '.join(missing)}: "
              "the timed scan did not do the work")
        return 1
    return 0 if vs_rg >= 0.5 and rss <= 128 else 1


if __name__ == "__main__":
    sys.exit(main())
