#!/usr/bin/env python3
"""A consultant's folder of client exports: N client folders, each a small Exchange 2019
export in Format-List text (receive connectors, their Get-ADPermission entries, accepted
domains, servers), as relay-audit's fixtures hold them.

usage: gen_clients.py OUT_DIR [-n 10000] [--manifest FILE]

The clients cycle through four fixtures (an anonymous open relay, an Externally Secured open
relay, a relay accepted domain `*`, a correctly scoped relay connector), so every client has
the same default connector identities (`EX01\\Default Frontend EX01`): the case where
merging clients is wrong. Each client's folder name is unique; the manifest records which
fixture each client is and the findings of that fixture scanned alone, so a batch scan can be
checked client by client.
"""
import argparse
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")
KINDS = [
    "open-relay-anonymous",
    "open-relay-externally-secured",
    "relay-domain-star",
    "scoped-relay-connector",
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--manifest")
    a = ap.parse_args()
    if os.path.exists(a.out_dir):
        shutil.rmtree(a.out_dir)
    os.makedirs(a.out_dir)
    sources = {}
    for k in KINDS:
        d = os.path.join(FIXTURES, k, "format-list")
        sources[k] = [(f, open(os.path.join(d, f), "rb").read()) for f in sorted(os.listdir(d))]
    total = 0
    clients = {}
    for i in range(a.n):
        kind = KINDS[i % len(KINDS)]
        name = f"client-{i:05d}"
        d = os.path.join(a.out_dir, name)
        os.mkdir(d)
        for f, data in sources[kind]:
            with open(os.path.join(d, f), "wb") as out:
                out.write(data)
            total += len(data)
        clients[name] = kind
    if a.manifest:
        with open(a.manifest, "w") as m:
            json.dump({"clients": clients, "bytes": total}, m)
    print(f"{a.n} client folders, {total / 1e6:.1f} MB, in {a.out_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
