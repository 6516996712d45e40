#!/usr/bin/env python3
"""Large legacy exports for bench/legacy.sh: an IIS 6 MetaBase.xml of a hosting server (N web
sites, each with a root virtual directory, and one SMTP virtual server relaying for everyone)
and an ldifde export of a configuration partition (N user objects with 2 KB certificates,
and one SMTP virtual server). Uses the encoders of fixtures/make_metabase.py.

usage: gen_legacy.py OUTDIR [--sites N]
"""
import argparse
import base64
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import make_metabase as m  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--sites", type=int, default=100000)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    head = m.metabase([("1", m.smtp_attrs(m.ipseclist(), relay_for_auth=1))])
    cut = head.index("<IIsSmtpService")
    with open(os.path.join(a.out, "MAIL-MetaBase.xml"), "w", newline="") as f:
        f.write(head[:cut])
        for n in range(2, a.sites + 2):
            f.write(f'<IIsWebServer\tLocation ="/LM/W3SVC/{n}"\r\n\t\tAuthFlags="AuthAnonymous | AuthNTLM"\r\n'
                    f'\t\tServerBindings=":80:site{n}.example\r\n\t\t\t:443:site{n}.example"\r\n'
                    f'\t\tServerComment="Site {n}"\r\n\t>\r\n</IIsWebServer>\r\n'
                    f'<IIsWebVirtualDir\tLocation ="/LM/W3SVC/{n}/ROOT"\r\n\t\tAccessFlags="AccessRead | AccessScript"\r\n'
                    f'\t\tPath="D:\\Sites\\site{n}"\r\n\t>\r\n</IIsWebVirtualDir>\r\n')
        f.write(head[cut:])
    cert = base64.b64encode(bytes(range(256)) * 8).decode()
    with open(os.path.join(a.out, "config.ldf"), "w", newline="") as f:
        f.write(m.ldif(m.ldif_vs("MAIL2", m.ipseclist(grant=m.ONLY_EMPTY))))
        for i in range(a.sites // 2):
            f.write(f"dn: CN=user{i},OU=Users,DC=contoso,DC=com\r\nchangetype: add\r\nobjectClass: user\r\n")
            f.write("\r\n".join(m.fold("userCertificate:: " + cert)) + "\r\n\r\n")


if __name__ == "__main__":
    main()
