#!/usr/bin/env python3
"""The Python peer of bench/logs_perf.py: who relays, from SMTP Receive logs, with the stdlib csv
module -- the job relay-audit's log reading does, done plainly and honestly.

usage: peer_logs.py CONFIG_DIR LOG_DIR

- Accepted domains: every ``DomainName`` in the CliXML files of CONFIG_DIR (UTF-16 or UTF-8).
- Every ``RECV*.LOG`` under LOG_DIR (FrontEnd and Hub), read with ``csv.reader`` after skipping
  ``#`` lines; lines are grouped by session id (sessions interleave).
- In a session, commands (``<``) are queued and replies (``>``) paired with them FIFO (``334``
  continuations do not consume; ``354`` queues the end of DATA, answered by ``250 2.6.0``); an
  XPROXYFROM's ``IP=`` replaces the remote endpoint as the client (Hub legs).
- Per (connector, client IP): sessions (counted at ``-``), and RCPTs answered 250 whose domain is
  not accepted (relayed).

Prints one JSON object: {"connector|client": [sessions, relayed], ...}, sorted.
"""
import csv
import json
import os
import re
import sys
from collections import deque


def accepted_domains(config_dir):
    out = set()
    for dirpath, _, names in os.walk(config_dir):
        for n in names:
            if not n.lower().endswith(".xml"):
                continue
            raw = open(os.path.join(dirpath, n), "rb").read()
            text = raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw.decode("utf-8-sig")
            for m in re.finditer(r'<Obj N="DomainName"[^>]*>.*?<ToString>(.*?)</ToString>', text, re.S):
                out.add(m.group(1).strip().lower())
    return out


def main():
    config_dir, log_dir = sys.argv[1], sys.argv[2]
    accepted = accepted_domains(config_dir)
    if not accepted:
        sys.exit(f"no accepted domains in {config_dir}")
    result = {}
    sessions = {}
    for dirpath, _, names in os.walk(log_dir):
        for n in sorted(names):
            if not (n.upper().startswith("RECV") and n.upper().endswith(".LOG")):
                continue
            with open(os.path.join(dirpath, n), encoding="utf-8-sig", newline="") as f:
                for rec in csv.reader(line for line in f if not line.startswith("#")):
                    if len(rec) < 9:
                        continue
                    sid, event, data = rec[2], rec[6], rec[7]
                    if event == "+":
                        sessions[sid] = [rec[1], rec[5].rsplit(":", 1)[0], deque(), 0]
                        continue
                    s = sessions.get(sid)
                    if s is None:
                        continue
                    if event == "<":
                        verb = data[:4].upper()
                        if verb == "RCPT":
                            s[2].append(data[data.find("<") + 1:data.rfind(">")])
                        elif verb == "XPRO":
                            m = re.search(r"\bIP=(\S+)", data)
                            if m:
                                s[1] = m.group(1)
                            s[2].append(None)
                        else:
                            s[2].append(None)
                    elif event == ">":
                        if not s[2] or data.startswith("334"):
                            continue
                        rcpt = s[2].popleft()
                        if data.startswith("354"):
                            s[2].append(None)
                        elif rcpt is not None and data.startswith("250"):
                            domain = rcpt.rpartition("@")[2].lower()
                            if domain not in accepted:
                                s[3] += 1
                    elif event == "-":
                        key = f"{s[0]}|{s[1]}"
                        r = result.setdefault(key, [0, 0])
                        r[0] += 1
                        r[1] += s[3]
                        del sessions[sid]
    json.dump(dict(sorted(result.items())), sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
