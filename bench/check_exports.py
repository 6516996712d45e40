#!/usr/bin/env python3
"""Check what bench/gen_exports.py wrote, independently of relay-audit.

    python3 bench/check_exports.py DIR [--manifest FILE]

CliXML files (*.xml): must be UTF-16LE with BOM and CRLF only; parsed with
xml.etree.ElementTree (streaming): RefIds of <Obj> are unique and numbered 0, 1, 2... in
document order (as Export-Clixml numbers them), every <Ref RefId> names an <Obj> written earlier, every <TNRef> a <TN> written
earlier; counts top-level objects per type and the Default Frontend connectors whose
PermissionGroups include Custom, and the anonymous Accept-Any-Recipient ACEs.
Format-List files (*.txt): UTF-16LE with BOM, CRLF only; counts objects (blocks separated by a
blank line), checks that the colons of each block line up and that every line is `Name : Value`
or `Name :`.
With --manifest, the counts must equal the generator's.
"""

import argparse
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

NS = "{http://schemas.microsoft.com/powershell/2004/04}"


def check_bytes(path: str, problems: list) -> None:
    """UTF-16LE BOM at the start, and every LF (0A 00) preceded by CR (0D 00)."""
    with open(path, "rb") as f:
        if f.read(2) != b"\xff\xfe":
            problems.append(f"{path}: no UTF-16LE BOM")
            return
        prev = b""  # the last code unit of the previous chunk (already checked)
        offset = 2  # file offset of text[len(prev)]
        while True:
            chunk = f.read(1 << 24)  # even size: chunks stay aligned on code units
            if not chunk:
                break
            text = prev + chunk
            for m in re.finditer(rb"\n\x00", text):
                i = m.start()
                if i % 2 or i < len(prev):
                    continue
                if i < 2 or text[i - 2:i] != b"\r\x00":
                    problems.append(f"{path}: bare LF at byte {offset + i - len(prev)}")
                    return
            offset += len(chunk)
            prev = text[-2:]


def check_clixml(path: str, problems: list) -> dict:
    next_id = 0
    tns = set()
    counts: dict = {}
    flagged_df = 0
    relay_aces = 0
    refs = 0
    depth = 0
    defined = bytearray()
    out_of_order = dangling = 0
    ctx = ET.iterparse(path, events=("start", "end"))
    for ev, el in ctx:
        tag = el.tag[len(NS):] if el.tag.startswith(NS) else el.tag
        if ev == "start":
            depth += 1
            if tag == "Obj":
                rid = int(el.get("RefId"))
                if rid >= len(defined):
                    defined.extend(bytes(max(rid + 1 - len(defined), 1 << 20)))
                if defined[rid]:
                    problems.append(f"{path}: Obj RefId {rid} defined twice")
                defined[rid] = 1
                if rid != next_id:
                    out_of_order += 1
                next_id = rid + 1
            elif tag == "Ref":
                refs += 1
                rid = int(el.get("RefId"))
                if rid >= len(defined) or not defined[rid]:
                    dangling += 1
                    if dangling <= 3:
                        problems.append(f"{path}: <Ref RefId=\"{rid}\"> (near object {next_id}) "
                                        "names no earlier <Obj>")
            elif tag == "TN":
                tns.add(el.get("RefId"))
            elif tag == "TNRef":
                if el.get("RefId") not in tns:
                    problems.append(f"{path}: <TNRef RefId=\"{el.get('RefId')}\"> before its <TN>")
                    return {}
            continue
        depth -= 1
        if depth == 1 and tag == "Obj":
            t = el.find(NS + "TN")
            kind = None
            # the first object of a kind has <TN>; later ones <TNRef>: remember by RefId
            if t is not None:
                kind = t[0].text.rsplit(".", 1)[-1]
                check_clixml.tn_kind[(path, t.get("RefId"))] = kind
            else:
                kind = check_clixml.tn_kind.get((path, el.find(NS + "TNRef").get("RefId")))
            counts[kind] = counts.get(kind, 0) + 1
            props = el.find(NS + "Props")
            if kind == "ReceiveConnector":
                name = props.find(NS + "S[@N='Name']").text
                pg = props.find(NS + "Obj[@N='PermissionGroups']").findtext(NS + "ToString")
                if name.startswith("Default Frontend ") and "Custom" in pg:
                    flagged_df += 1
            elif kind == "ADAcePresentationObject":
                user = props.find(NS + "Obj[@N='User']").findtext(NS + "ToString")
                er = props.find(NS + "Obj[@N='ExtendedRights']")
                rights = [o.findtext(NS + "ToString") for o in er.iter(NS + "Obj") if o is not er]
                if user == "NT AUTHORITY\\ANONYMOUS LOGON" and \
                        "ms-Exch-SMTP-Accept-Any-Recipient" in rights:
                    relay_aces += 1
            el.clear()
    if dangling:
        problems.append(f"{path}: {dangling} dangling <Ref>s in all")
    if out_of_order:
        problems.append(f"{path}: {out_of_order} Obj RefIds not numbered in document order")
    return {"objects": counts, "refids": sum(defined), "refs": refs, "tn": len(tns),
            "flagged_default_frontend": flagged_df, "relay_aces": relay_aces}


check_clixml.tn_kind = {}


def check_fl(path: str, problems: list) -> dict:
    blocks = 0
    cur: list = []
    relay_aces = 0
    flagged_df = 0
    line_re = re.compile(r"^(\S(?:.*\S)?) +:(?: (.*))?$")

    def close():
        nonlocal blocks, relay_aces, flagged_df
        if not cur:
            return
        blocks += 1
        cols = {ln.index(" :") for ln in cur}
        if len(cols) != 1:
            problems.append(f"{path}: colons not aligned in block {blocks}")
        kv = {}
        for ln in cur:
            m = line_re.match(ln)
            if not m:
                problems.append(f"{path}: not a Name : Value line: {ln!r}")
                continue
            kv[m.group(1)] = m.group(2) or ""
        if kv.get("User") == "NT AUTHORITY\\ANONYMOUS LOGON" and \
                kv.get("ExtendedRights") == "{ms-Exch-SMTP-Accept-Any-Recipient}":
            relay_aces += 1
        if kv.get("Name", "").startswith("Default Frontend ") and \
                "Custom" in kv.get("PermissionGroups", ""):
            flagged_df += 1
        cur.clear()

    with open(path, encoding="utf-16", newline="") as f:
        for raw in f:
            if not raw.endswith("\r\n"):
                problems.append(f"{path}: line without CRLF: {raw[:60]!r}")
                break
            ln = raw[:-2]
            if ln == "":
                close()
            else:
                cur.append(ln)
    close()
    return {"objects": blocks, "flagged_default_frontend": flagged_df, "relay_aces": relay_aces}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--manifest")
    a = ap.parse_args()
    problems: list = []
    total = {"connectors": 0, "aces": 0, "flagged": 0, "relay_aces": 0}
    for name in sorted(os.listdir(a.dir)):
        path = os.path.join(a.dir, name)
        check_bytes(path, problems)
        if name.endswith(".xml"):
            r = check_clixml(path, problems)
            total["connectors"] += r.get("objects", {}).get("ReceiveConnector", 0)
            total["aces"] += r.get("objects", {}).get("ADAcePresentationObject", 0)
        elif name.endswith(".txt"):
            r = check_fl(path, problems)
            if name.startswith("rc"):
                total["connectors"] += r["objects"]
            else:
                total["aces"] += r["objects"]
        else:
            continue
        total["flagged"] += r.get("flagged_default_frontend", 0)
        total["relay_aces"] += r.get("relay_aces", 0)
        print(f"{path}: {json.dumps(r)}")
    print(f"total: {json.dumps(total)}")
    if a.manifest:
        with open(a.manifest) as f:
            m = json.load(f)
        want = {"connectors": m["connectors"], "aces": m["aces"],
                "flagged": m["expected"]["RC-ANON-RELAY-INTERNET"],
                "relay_aces": m["relay_aces"]}
        if want != total:
            problems.append(f"counts differ from the manifest: {want}")
    for p in problems:
        print("PROBLEM:", p)
    print("OK" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
