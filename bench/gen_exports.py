#!/usr/bin/env python3
"""Generate a large, realistic Exchange organisation export for benchmarking relay-audit.

    python3 bench/gen_exports.py OUT_DIR [--connectors N] [--form clixml|fl] [--manifest FILE]

The organisation: N receive connectors (default 50,000) on N/5 Exchange 2019 servers named
EXSRV00000, EXSRV00001, ... in CONTOSO (contoso.com), each with the five default connectors of
the real sample (Default, Client Proxy, Default Frontend, Outbound Proxy Frontend, Client
Frontend), plus the Get-ADPermission entries of every connector (about 12 each).

Every 10th server (EXSRV00000, EXSRV00010, ...) carries the classic open-relay mistake: its
`Default Frontend` connector (RemoteIPRanges 0.0.0.0-255.255.255.255 and ::-ffff:...:ffff, as
setup creates it) was given

    Add-ADPermission -User "NT AUTHORITY\\ANONYMOUS LOGON" -ExtendedRights ms-Exch-SMTP-Accept-Any-Recipient

so its PermissionGroups read `AnonymousUsers, ExchangeServers, ExchangeLegacyServers, Custom`
and its permissions hold one more ACE. Exactly those connectors must be reported as
RC-ANON-RELAY-INTERNET; every other connector is at its defaults.

Forms (both as Windows PowerShell 5.1 writes them: UTF-16LE with BOM, CRLF):

* `--form clixml`: `Get-ReceiveConnector | Export-Clixml receive-connectors.xml` and
  `Get-ReceiveConnector | Get-ADPermission | Export-Clixml permissions.xml`, from one remote
  EMS session. Receive connectors are the real sample's object text (microsoft/CSS-Exchange
  test data, see fixtures/e2019-css-exchange-samples/SOURCES.md) with the server name, domain
  and GUIDs substituted; RefIds are renumbered in document order across the whole file, type
  name lists are written once (`<TN>`) and referred to afterwards (`<TNRef>`), every `<Ref>`
  points back to an object written earlier (the forest-wide OrganizationId is written once and
  referred to by every later connector, as the sample does), and the `<MS>` SerializationData
  blobs are kept (they are most of the bytes). Permission objects are built here (there is no
  public sample of a Get-ADPermission CliXML export); each connector's ACEs share one Identity
  object (written with the first ACE, `<Ref>` afterwards) and carry a synthetic
  SerializationData blob of --ace-blob-bytes bytes.
* `--form fl`: `Get-ReceiveConnector | fl > rc.txt` and
  `Get-ReceiveConnector | Get-ADPermission | fl > perms.txt`: `RunspaceId` first (remote
  session), names padded so the colons line up, collections `{a, b}` (cut after 4 items with
  `...}`), flag enums unbraced, empty values as `Name :`, one blank line between objects, two
  blank lines before the first and after the last; the console was wide enough that nothing
  wrapped.

Output is deterministic: the same arguments give the same bytes. Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import os
import random
import re
import sys
import time
import uuid
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SAMPLE_NAME = "01-e2019-get-receiveconnector-5-default-connectors.clixml.xml"
SAMPLE_CANDIDATES = [
    os.path.join(ROOT, "fixtures", "e2019-css-exchange-samples", SAMPLE_NAME),
    os.path.join(ROOT, "fixtures", "_templates", SAMPLE_NAME),
    os.path.join(ROOT, "..", "shared", "samples", SAMPLE_NAME),
]
NS = "{http://schemas.microsoft.com/powershell/2004/04}"

# The sample's own names, and what this organisation uses instead.
SAMPLE_SERVER = "WIN-CTD3L0RGEN4"
SAMPLE_SESSION_HOST = "win-ctd3l0rgen4.exlab.dom"
NETBIOS = "CONTOSO"
DOMAIN = "contoso.com"
SESSION_HOST = "exsrv00000.contoso.com"      # the server the admin's EMS session ran on
DC_FQDN = "DC01.contoso.com"                 # OriginatingServer: the DC that answered
RUNSPACE = "3f0e8a52-6c1d-4b7e-9a33-5d2c7e1a9b40"  # one EMS session for both exports
GUID_NS = uuid.UUID("b7a1f0c2-54d3-4e8a-8f21-0c9d3e6a7b15")
DOMAIN_SID = "S-1-5-21-1004336348-1177238915-682003330"
CONSTANT_SUBS = [("DC=exlab,DC=dom", "DC=contoso,DC=com"), ("exlab.dom", DOMAIN)]

SERVERS_PER_FLAG = 10  # every 10th server's Default Frontend relays anonymously
FLAGGED_CONNECTOR = "Default Frontend"
GROUPS_PLAIN = "AnonymousUsers, ExchangeServers, ExchangeLegacyServers"
GROUPS_FLAGGED = GROUPS_PLAIN + ", Custom"
GROUP_VALUES = {"AnonymousUsers": 1, "ExchangeUsers": 2, "ExchangeServers": 4,
                "ExchangeLegacyServers": 8, "Partners": 16, "Custom": 32}

# ---- Get-ADPermission: the ACEs a connector's permission groups produce ----------------------
ANON = "NT AUTHORITY\\ANONYMOUS LOGON"
AUTH_USERS = "NT AUTHORITY\\Authenticated Users"
EXCH_SERVERS = f"{NETBIOS}\\Exchange Servers"
LEGACY = f"{NETBIOS}\\ExchangeLegacyInterop"
SIDS = {ANON: "S-1-5-7", AUTH_USERS: "S-1-5-11",
        EXCH_SERVERS: DOMAIN_SID + "-1117", LEGACY: DOMAIN_SID + "-1118"}

SUBMIT = "ms-Exch-SMTP-Submit"
ANY_RCPT = "ms-Exch-SMTP-Accept-Any-Recipient"
ANY_SENDER = "ms-Exch-SMTP-Accept-Any-Sender"
AUTH_DOM_SENDER = "ms-Exch-SMTP-Accept-Authoritative-Domain-Sender"
ROUTING = "ms-Exch-Accept-Headers-Routing"
BYPASS_SPAM = "ms-Exch-Bypass-Anti-Spam"
AUTH_FLAG = "ms-Exch-SMTP-Accept-Authentication-Flag"
BYPASS_SIZE = "ms-Exch-Bypass-Message-Size-Limit"
EXCH50 = "ms-Exch-SMTP-Accept-Exch50"

# Group -> [(principal, rights)]. The anonymous and authenticated-user rows are the full preset
# (FORMATS.md section 6); the server rows are cut to their first rights to keep ~12 ACEs per
# connector (the real lists are longer; no relay-relevant right is left out).
GROUP_ACES = {
    "AnonymousUsers": [(ANON, [SUBMIT, ANY_SENDER, AUTH_DOM_SENDER, ROUTING])],
    "ExchangeUsers": [(AUTH_USERS, [SUBMIT, ANY_RCPT, BYPASS_SPAM, ROUTING])],
    "ExchangeServers": [(EXCH_SERVERS, [SUBMIT, ANY_RCPT, AUTH_FLAG, ANY_SENDER, AUTH_DOM_SENDER,
                                        BYPASS_SPAM, BYPASS_SIZE, EXCH50, ROUTING])],
    "ExchangeLegacyServers": [(LEGACY, [SUBMIT, ANY_RCPT, ANY_SENDER])],
    "Partners": [("MS Exchange\\Partner Servers", [SUBMIT, ROUTING])],
}
GROUP_ORDER = ["AnonymousUsers", "ExchangeUsers", "ExchangeServers", "Partners",
               "ExchangeLegacyServers"]
RELAY_ACE = (ANON, ANY_RCPT)  # the one Add-ADPermission adds on flagged servers

ACE_TYPES = ["Microsoft.Exchange.Management.RecipientTasks.ADAcePresentationObject",
             "Microsoft.Exchange.Configuration.Tasks.AcePresentationObject",
             "Microsoft.Exchange.Data.ConfigurableObject", "System.Object"]
RIGHTS_ARRAY = ["System.DirectoryServices.ActiveDirectoryRights[]", "System.Array",
                "System.Object"]
RIGHTS_ENUM = ["System.DirectoryServices.ActiveDirectoryRights", "System.Enum",
               "System.ValueType", "System.Object"]
EXTRIGHT_ARRAY = ["Microsoft.Exchange.Configuration.Tasks.ExtendedRightIdParameter[]",
                  "System.Array", "System.Object"]
EXTRIGHT = ["Microsoft.Exchange.Configuration.Tasks.ExtendedRightIdParameter",
            "Microsoft.Exchange.Configuration.Tasks.ADIdParameter", "System.Object"]
INHERIT_ENUM = ["System.DirectoryServices.ActiveDirectorySecurityInheritance", "System.Enum",
                "System.ValueType", "System.Object"]
PRINCIPAL = ["Microsoft.Exchange.Configuration.Tasks.SecurityPrincipalIdParameter",
             "Microsoft.Exchange.Configuration.Tasks.RecipientIdParameter",
             "Microsoft.Exchange.Configuration.Tasks.ADIdParameter", "System.Object"]
SID_TYPES = ["System.Security.Principal.SecurityIdentifier",
             "System.Security.Principal.IdentityReference", "System.Object"]
OBJECTSTATE = ["Microsoft.Exchange.Data.ObjectState", "System.Enum", "System.ValueType",
               "System.Object"]


def find_sample(explicit: str | None) -> str:
    for p in ([explicit] if explicit else SAMPLE_CANDIDATES):
        if p and os.path.exists(p):
            return p
    sys.exit(f"gen_exports.py: cannot find {SAMPLE_NAME} (looked in {SAMPLE_CANDIDATES}); "
             "pass --sample PATH")


def xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def connector_guid(server: str, name: str) -> str:
    return str(uuid.uuid5(GUID_NS, f"{server}\\{name}"))


# ============================================================================================
# The sample, split into its five connector objects
# ============================================================================================
class Sample:
    def __init__(self, path: str):
        with open(path, encoding="utf-8-sig") as f:
            text = f.read().replace("\r\n", "\n")
        starts = [m.start() + 1 for m in re.finditer(r'\n  <Obj RefId="\d+">', text)]
        end = text.rindex("\n</Objs>") + 1
        self.head = text[:starts[0]]
        self.tail = text[end:]
        self.objects = [text[a:b] for a, b in zip(starts, starts[1:] + [end])]
        self.root = ET.fromstring(text)
        tops = list(self.root)
        assert len(tops) == len(self.objects) == 5, "expected the 5 default connectors"
        self.names = []       # 'Default', 'Client Proxy', ...
        self.guids = []       # each connector's Guid (also Identity.ObjectGuid)
        self.groups = []      # PermissionGroups flag names
        for o in tops:
            props = {p.get("N"): p for p in o.find(NS + "Props")}
            full = props["Name"].text
            assert full.endswith(" " + SAMPLE_SERVER), full
            self.names.append(full[: -len(SAMPLE_SERVER) - 1])
            self.guids.append(props["Guid"].text)
            self.groups.append(props["PermissionGroups"].findtext(NS + "ToString").split(", "))
        # every RefId'd object of the document, for resolving <Ref> when rendering text
        self.by_refid = {e.get("RefId"): e for e in self.root.iter(NS + "Obj")}
        # type-name lists by TN RefId (for reuse in permissions.xml)
        self.tn = {e.get("RefId"): [t.text for t in e] for e in self.root.iter(NS + "TN")}


def outside_blobs(text: str, fn) -> str:
    """Apply fn to the text outside <BA>...</BA> (base64 blobs are kept byte for byte)."""
    parts = re.split(r"(<BA\b[^>]*>[^<]*</BA>)", text)
    return "".join(p if i % 2 else fn(p) for i, p in enumerate(parts))


def constant_subs(text: str) -> str:
    for a, b in CONSTANT_SUBS:
        text = text.replace(a, b)
    text = text.replace(SAMPLE_SESSION_HOST, SESSION_HOST)
    return re.sub(r'(<S N="OriginatingServer">)[^<]*(</S>)', r"\g<1>" + DC_FQDN + r"\2", text)


# ============================================================================================
# CliXML receive connectors: templates with slots, rendered once per server
# ============================================================================================
SLOT_RE = re.compile(
    r'(?P<obj><Obj\b[^>]*?\sRefId=")(?P<objid>\d+)(?=")'
    r'|(?P<ref><Ref\b[^>]*?\sRefId=")(?P<refid>\d+)(?=")'
    r"|(?P<srv>" + re.escape(SAMPLE_SERVER) + r")"
    r"|(?P<guid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")


class Template:
    """One connector object as a list of literal text (CRLF already) and slots."""

    def __init__(self, text: str, connector_guid_text: str):
        self.parts: list = []
        self.defined: list[int] = []
        pos = 0
        lit = []
        for m in SLOT_RE.finditer(text):
            if m.group("guid") and m.group("guid") != connector_guid_text:
                continue  # other GUIDs (partition, schema, runspace...) are org-wide constants
            lit.append(text[pos:m.start()])
            if m.group("obj"):
                lit.append(m.group("obj"))
                self._flush(lit)
                self.parts.append(("obj", int(m.group("objid"))))
                self.defined.append(int(m.group("objid")))
            elif m.group("ref"):
                lit.append(m.group("ref"))
                self._flush(lit)
                self.parts.append(("ref", int(m.group("refid"))))
            elif m.group("srv"):
                self._flush(lit)
                self.parts.append(("srv", None))
            else:
                self._flush(lit)
                self.parts.append(("guid", None))
            pos = m.end()
        lit.append(text[pos:])
        self._flush(lit)

    def _flush(self, lit: list) -> None:
        s = "".join(lit).replace("\n", "\r\n")
        lit.clear()
        if s:
            self.parts.append(s)

    def render(self, server: str, guid: str, next_id: int, first_ids: dict[int, int],
               out: list) -> int:
        """Append the text to out; returns the next free RefId."""
        local: dict[int, int] = {}
        for p in self.parts:
            if p.__class__ is str:
                out.append(p)
                continue
            kind, v = p
            if kind == "obj":
                local[v] = next_id
                first_ids.setdefault(v, next_id)
                out.append(str(next_id))
                next_id += 1
            elif kind == "ref":
                # a back-reference: to an object of this connector, else to the first object
                # of the file that had this RefId in the sample (the shared OrganizationId)
                out.append(str(local[v] if v in local else first_ids[v]))
            elif kind == "srv":
                out.append(server)
            else:
                out.append(guid)
        return next_id


class ConnectorTemplates:
    def __init__(self, sample: Sample):
        self.sample = sample
        self.cache: dict[tuple, Template] = {}

    def get(self, index: int, first: bool, flagged: bool) -> Template:
        key = (index, first, flagged)
        t = self.cache.get(key)
        if t is None:
            text = outside_blobs(self.sample.objects[index], constant_subs)
            if not first:
                # type-name lists were written with the first server: refer to them
                text = re.sub(r'<TN RefId="(\d+)">.*?</TN>', r'<TNRef RefId="\1" />', text,
                              flags=re.S)
                # the forest-wide OrganizationId was written with the first connector
                text = re.sub(r'<Obj N="OrganizationId" RefId="(\d+)">.*?\n      </Obj>',
                              r'<Ref N="OrganizationId" RefId="\1" />', text, flags=re.S)
            if flagged:
                old = (f"<ToString>{GROUPS_PLAIN}</ToString>\n        "
                       f"<I32>{sum(GROUP_VALUES[g] for g in GROUPS_PLAIN.split(', '))}</I32>")
                new = (f"<ToString>{GROUPS_FLAGGED}</ToString>\n        "
                       f"<I32>{sum(GROUP_VALUES[g] for g in GROUPS_FLAGGED.split(', '))}</I32>")
                assert text.count(old) == 1, "PermissionGroups of Default Frontend not found"
                text = text.replace(old, new)
            t = self.cache[key] = Template(text, self.sample.guids[index])
        return t


# ============================================================================================
# Format-List text of the sample connectors
# ============================================================================================
def fl_datetime(text: str) -> str:
    """A CliXML <DT> as an en-US console prints it (the time as written, without offset)."""
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    h = t.hour % 12 or 12
    return (f"{t.month}/{t.day}/{t.year} {h}:{t.minute:02}:{t.second:02} "
            f"{'AM' if t.hour < 12 else 'PM'}")


def fl_value(e, by_refid) -> str:
    tag = e.tag[len(NS):]
    if tag == "Ref":
        return fl_value(by_refid[e.get("RefId")], by_refid)
    if tag == "Nil":
        return ""
    if tag == "B":
        return "True" if e.text == "true" else "False"
    if tag == "DT":
        return fl_datetime(e.text)
    if tag != "Obj":
        return e.text or ""
    lst = e.find(NS + "LST")
    if lst is not None:
        items = []
        for x in lst:
            xo = by_refid[x.get("RefId")] if x.tag == NS + "Ref" else x
            items.append(xo.findtext(NS + "ToString") or xo.text or "")
        if len(items) > 4:  # $FormatEnumerationLimit = 4
            return "{" + ", ".join(items[:4]) + "...}"
        return "{" + ", ".join(items) + "}"
    return e.findtext(NS + "ToString") or ""


def fl_block(pairs: list[tuple[str, str]]) -> str:
    width = max(len(n) for n, _ in pairs)
    return "\n".join(f"{n.ljust(width)} : {v}" if v else f"{n.ljust(width)} :"
                     for n, v in pairs)


class FlTemplates:
    def __init__(self, sample: Sample):
        self.sample = sample
        self.cache: dict[tuple, Template] = {}

    def get(self, index: int, flagged: bool) -> Template:
        key = (index, flagged)
        t = self.cache.get(key)
        if t is None:
            o = list(self.sample.root)[index]
            pairs = [("RunspaceId", RUNSPACE)]
            for p in o.find(NS + "Props"):
                n = p.get("N")
                v = fl_value(p, self.sample.by_refid)
                if n == "OriginatingServer":
                    v = DC_FQDN
                if n == "PermissionGroups" and flagged:
                    v = GROUPS_FLAGGED
                pairs.append((n, v))
            text = fl_block(pairs)
            for a, b in CONSTANT_SUBS:
                text = text.replace(a, b)
            t = self.cache[key] = Template(text, self.sample.guids[index])
        return t


# ============================================================================================
# Get-ADPermission objects
# ============================================================================================
def connector_aces(groups: list[str], flagged: bool) -> list[tuple[str, str]]:
    out = []
    for g in GROUP_ORDER:
        if g in groups:
            for user, rights in GROUP_ACES[g]:
                out += [(user, r) for r in rights]
    if flagged:
        out.append(RELAY_ACE)
    return out


class BlobMaker:
    """Synthetic SerializationData for ACE objects: the opening records of a .NET
    BinaryFormatter stream (header, library, class with the type name), the ACE's strings,
    then opaque bytes from a fixed pseudo-random pool, `size` bytes in all."""

    def __init__(self, size: int):
        self.size = size
        rnd = random.Random(20240611)
        self.pool = bytes(rnd.getrandbits(8) for _ in range(1 << 16))

    @staticmethod
    def _lp(s: str) -> bytes:
        b = s.encode()
        n, pre = len(b), bytearray()
        while True:
            byte, n = n & 0x7F, n >> 7
            pre.append(byte | (0x80 if n else 0))
            if not n:
                return bytes(pre) + b

    def make(self, user: str, right: str, identity: str) -> str:
        if self.size <= 0:
            return ""
        head = (b"\x00\x01\x00\x00\x00\xff\xff\xff\xff\x01\x00\x00\x00\x00\x00\x00\x00"
                + b"\x0c\x02\x00\x00\x00"
                + self._lp("Microsoft.Exchange.Management, Version=15.0.0.0, Culture=neutral, "
                           "PublicKeyToken=31bf3856ad364e35")
                + b"\x05\x01\x00\x00\x00" + self._lp(ACE_TYPES[0])
                + b"\x06\x02\x00\x00\x00" + self._lp(user)
                + b"\x06\x03\x00\x00\x00" + self._lp(right)
                + b"\x06\x04\x00\x00\x00" + self._lp(identity))
        rest = max(self.size - len(head) - 1, 0)
        h = int.from_bytes(hashlib.blake2b((user + right + identity).encode(),
                                           digest_size=4).digest(), "little")
        if rest < len(self.pool):
            start = h % (len(self.pool) - rest)
            body = self.pool[start:start + rest]
        else:
            body = (self.pool * (rest // len(self.pool) + 1))[:rest]
        return base64.b64encode(head + body + b"\x0b").decode()


class AceWriter:
    """Writes ADAcePresentationObjects as Export-Clixml does: RefIds in document order, each
    type-name list as <TN> the first time and <TNRef> afterwards."""

    def __init__(self, sample: Sample, blob: BlobMaker):
        self.next_id = 0
        self.tns: dict[str, int] = {}
        self.blob = blob
        self.adobjectid_types = sample.tn["16"]
        assert self.adobjectid_types[0].endswith("ADObjectId"), self.adobjectid_types
        self.identity_inner = {}  # connector index -> Identity text after its TN, with slots
        for i, o in enumerate(sample.objects):
            m = re.search(r'\n      <Obj N="Identity" RefId="\d+">\n        <TN(?:Ref)? RefId="\d+"'
                          r'(?: />|>.*?</TN>)\n(.*?\n      </Obj>)', o, flags=re.S)
            inner = outside_blobs(m.group(1), constant_subs)
            t = self.identity_inner[i] = Template(inner, sample.guids[i])
            assert not any(p.__class__ is tuple and p[0] in ("obj", "ref") for p in t.parts)

    def tn(self, types: list[str], indent: str) -> str:
        key = "\x00".join(types)
        k = self.tns.get(key)
        if k is not None:
            return f'{indent}<TNRef RefId="{k}" />\r\n'
        k = self.tns[key] = len(self.tns)
        ts = "".join(f"{indent}  <T>{xml_escape(t)}</T>\r\n" for t in types)
        return f'{indent}<TN RefId="{k}">\r\n{ts}{indent}</TN>\r\n'

    def rid(self) -> int:
        r = self.next_id
        self.next_id += 1
        return r

    def enum(self, name: str | None, types, text: str, value: int, indent: str) -> str:
        n = f' N="{name}"' if name else ""
        return (f'{indent}<Obj{n} RefId="{self.rid()}">\r\n{self.tn(types, indent + "  ")}'
                f"{indent}  <ToString>{text}</ToString>\r\n{indent}  <I32>{value}</I32>\r\n"
                f"{indent}</Obj>\r\n")

    def sid(self, sid: str, indent: str) -> str:
        subs = len(sid.split("-")) - 3
        dom = sid.rsplit("-", 1)[0] if sid.startswith("S-1-5-21-") else None
        acct = (f'{indent}    <S N="AccountDomainSid">{dom}</S>\r\n' if dom
                else f'{indent}    <Nil N="AccountDomainSid" />\r\n')
        return (f'{indent}<Obj N="SecurityIdentifier" RefId="{self.rid()}">\r\n'
                f'{self.tn(SID_TYPES, indent + "  ")}{indent}  <ToString>{sid}</ToString>\r\n'
                f"{indent}  <Props>\r\n{indent}    <I32 N=\"BinaryLength\">{8 + 4 * subs}</I32>\r\n"
                f"{acct}{indent}    <S N=\"Value\">{sid}</S>\r\n{indent}  </Props>\r\n"
                f"{indent}</Obj>\r\n")

    def ace(self, user: str, right: str, server: str, index: int, guid: str,
            identity_ref: int | None, out: list) -> int:
        """Append one ACE; returns the RefId of its Identity object."""
        ident_text = f"{server}\\{SAMPLE_NAMES[index]} {server}"
        out.append(f'  <Obj RefId="{self.rid()}">\r\n')
        out.append(self.tn(ACE_TYPES, "    "))
        out.append(f"    <ToString>{ACE_TYPES[0]}</ToString>\r\n    <Props>\r\n")
        out.append(f'      <Obj N="AccessRights" RefId="{self.rid()}">\r\n')
        out.append(self.tn(RIGHTS_ARRAY, "        "))
        out.append("        <LST>\r\n")
        out.append(self.enum(None, RIGHTS_ENUM, "ExtendedRight", 256, "          "))
        out.append("        </LST>\r\n      </Obj>\r\n")
        out.append(f'      <Obj N="ExtendedRights" RefId="{self.rid()}">\r\n')
        out.append(self.tn(EXTRIGHT_ARRAY, "        "))
        out.append(f'        <LST>\r\n          <Obj RefId="{self.rid()}">\r\n')
        out.append(self.tn(EXTRIGHT, "            "))
        out.append(f"            <ToString>{right}</ToString>\r\n          </Obj>\r\n"
                   "        </LST>\r\n      </Obj>\r\n")
        out.append('      <Nil N="ChildObjectTypes" />\r\n      <Nil N="InheritedObjectType" />\r\n'
                   '      <Nil N="Properties" />\r\n      <B N="IsValid">true</B>\r\n'
                   '      <B N="Deny">false</B>\r\n')
        out.append(self.enum("InheritanceType", INHERIT_ENUM, "All", 1, "      "))
        out.append(f'      <Obj N="User" RefId="{self.rid()}">\r\n')
        out.append(self.tn(PRINCIPAL, "        "))
        out.append(f"        <ToString>{xml_escape(user)}</ToString>\r\n        <Props>\r\n")
        out.append(self.sid(SIDS[user], "          "))
        out.append("        </Props>\r\n      </Obj>\r\n")
        if identity_ref is None:
            identity_ref = self.rid()
            out.append(f'      <Obj N="Identity" RefId="{identity_ref}">\r\n')
            out.append(self.tn(self.adobjectid_types, "        "))
            self.identity_inner[index].render(server, guid, 0, {}, out)
            out.append("\r\n")
        else:
            out.append(f'      <Ref N="Identity" RefId="{identity_ref}" />\r\n')
        out.append('      <B N="IsInherited">false</B>\r\n')
        out.append(self.enum("ObjectState", OBJECTSTATE, "Unchanged", 1, "      "))
        out.append(f'    </Props>\r\n    <MS>\r\n      <S N="PSComputerName">{SESSION_HOST}</S>\r\n'
                   f'      <G N="RunspaceId">{RUNSPACE}</G>\r\n'
                   '      <B N="PSShowComputerName">false</B>\r\n')
        b = self.blob.make(user, right, ident_text)
        if b:
            out.append(f'      <BA N="SerializationData">{b}</BA>\r\n')
        out.append("    </MS>\r\n  </Obj>\r\n")
        return identity_ref


def fl_ace(user: str, right: str, identity: str) -> str:
    return fl_block([("RunspaceId", RUNSPACE), ("AccessRights", "{ExtendedRight}"),
                     ("ExtendedRights", "{" + right + "}"), ("ChildObjectTypes", ""),
                     ("InheritedObjectType", ""), ("Properties", ""), ("IsValid", "True"),
                     ("Deny", "False"), ("InheritanceType", "All"), ("User", user),
                     ("Identity", identity), ("IsInherited", "False"),
                     ("ObjectState", "Unchanged")]).replace("\n", "\r\n")


SAMPLE_NAMES: list[str] = []


# ============================================================================================
# Driver
# ============================================================================================
class Out:
    """A UTF-16LE file with BOM, written in large chunks."""

    def __init__(self, path: str):
        self.f = open(path, "wb")
        self.f.write(b"\xff\xfe")
        self.buf: list[str] = []
        self.n = 0

    def add(self, parts: list[str]) -> None:
        self.buf.extend(parts)
        self.n += len(parts)
        if self.n > 200_000:
            self.flush()

    def flush(self) -> None:
        self.f.write("".join(self.buf).encode("utf-16-le"))
        self.buf.clear()
        self.n = 0

    def close(self) -> int:
        self.flush()
        size = self.f.tell()
        self.f.close()
        return size


def server_name(i: int) -> str:
    return f"EXSRV{i:05d}"


def generate(out_dir: str, connectors: int, form: str, sample_path: str, ace_blob: int,
             quiet: bool = False) -> dict:
    sample = Sample(sample_path)
    SAMPLE_NAMES[:] = sample.names
    n_servers = max(1, connectors // 5)
    os.makedirs(out_dir, exist_ok=True)
    files = {"clixml": ("receive-connectors.xml", "permissions.xml"),
             "fl": ("rc.txt", "perms.txt")}[form]
    rc = Out(os.path.join(out_dir, files[0]))
    pm = Out(os.path.join(out_dir, files[1]))
    n_aces = n_flagged = n_relay_aces = 0
    t0 = time.time()
    if form == "clixml":
        tmpl = ConnectorTemplates(sample)
        aw = AceWriter(sample, BlobMaker(ace_blob))
        rc.add([sample.head.replace("\n", "\r\n")])
        pm.add([sample.head.replace("\n", "\r\n")])
        next_id, first_ids = 0, {}
    else:
        fl = FlTemplates(sample)
        rc.add(["\r\n\r\n"])
        pm.add(["\r\n\r\n"])
    first_rc = first_pm = True
    for s in range(n_servers):
        server = server_name(s)
        flagged_server = s % SERVERS_PER_FLAG == 0
        rc_parts: list[str] = []
        pm_parts: list[str] = []
        for i, name in enumerate(sample.names):
            flagged = flagged_server and name == FLAGGED_CONNECTOR
            n_flagged += flagged
            guid = connector_guid(server, name)
            aces = connector_aces(sample.groups[i], flagged)
            n_aces += len(aces)
            n_relay_aces += sum(1 for a in aces if a == RELAY_ACE)
            if form == "clixml":
                next_id = tmpl.get(i, s == 0, flagged).render(server, guid, next_id, first_ids,
                                                             rc_parts)
                ident = None
                for user, right in aces:
                    ident = aw.ace(user, right, server, i, guid, ident, pm_parts)
            else:
                if not first_rc:
                    rc_parts.append("\r\n\r\n")
                first_rc = False
                fl.get(i, flagged).render(server, guid, 0, {}, rc_parts)
                identity = f"{server}\\{name} {server}"
                for user, right in aces:
                    if not first_pm:
                        pm_parts.append("\r\n\r\n")
                    first_pm = False
                    pm_parts.append(fl_ace(user, right, identity))
        rc.add(rc_parts)
        pm.add(pm_parts)
        if not quiet and (s + 1) % 1000 == 0:
            print(f"  {s + 1}/{n_servers} servers, {time.time() - t0:.0f} s", file=sys.stderr)
    if form == "clixml":
        rc.add([sample.tail.replace("\n", "\r\n")])
        pm.add([sample.tail.replace("\n", "\r\n")])
    else:
        rc.add(["\r\n\r\n\r\n"])
        pm.add(["\r\n\r\n\r\n"])
    sizes = {files[0]: rc.close(), files[1]: pm.close()}
    return {
        "form": form,
        "dir": os.path.abspath(out_dir),
        "files": sizes,
        "bytes": sum(sizes.values()),
        "servers": n_servers,
        "connectors": n_servers * 5,
        "aces": n_aces,
        "relay_aces": n_relay_aces,
        "records": n_servers * 5 + n_aces,
        "expected": {"RC-ANON-RELAY-INTERNET": n_flagged},
        "flagged_example": f"{server_name(0)}\\{FLAGGED_CONNECTOR} {server_name(0)}",
        "seconds": round(time.time() - t0, 1),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--connectors", "-n", type=int, default=50_000,
                    help="receive connectors (5 per server; default 50000)")
    ap.add_argument("--form", choices=["clixml", "fl"], default="clixml")
    ap.add_argument("--sample", help=f"path of {SAMPLE_NAME}")
    ap.add_argument("--ace-blob-bytes", type=int, default=2400,
                    help="size of each ACE's synthetic SerializationData (0: none)")
    ap.add_argument("--manifest", help="also write the counts as JSON to this file")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    if a.connectors < 5:
        ap.error("--connectors must be at least 5")
    m = generate(a.out_dir, a.connectors, a.form, find_sample(a.sample), a.ace_blob_bytes,
                 a.quiet)
    if a.connectors % 5:
        print(f"note: {a.connectors} is not a multiple of 5; wrote {m['connectors']}",
              file=sys.stderr)
    if a.manifest:
        with open(a.manifest, "w") as f:
            json.dump(m, f, indent=2)
            f.write("\n")
    for name, size in m["files"].items():
        print(f"{os.path.join(m['dir'], name)}  {size / 1e6:,.1f} MB")
    print(f"total {m['bytes'] / 1e6:,.1f} MB ({m['form']}, UTF-16LE with BOM, CRLF) "
          f"in {m['seconds']} s")
    print(f"servers {m['servers']}  connectors {m['connectors']}  ACEs {m['aces']} "
          f"(anonymous Accept-Any-Recipient: {m['relay_aces']})  records {m['records']}")
    print(f"expected RC-ANON-RELAY-INTERNET findings: {m['expected']['RC-ANON-RELAY-INTERNET']} "
          f"(every {SERVERS_PER_FLAG}th server's Default Frontend, e.g. {m['flagged_example']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
