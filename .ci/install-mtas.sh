#!/usr/bin/env bash
# Installs the real mail servers the probe is tested against (tests/probe_live.rs): Postfix
# from Debian's packages, Exim unpacked beside it (the two conflict as packages), and the
# peers swaks and nmap. Idempotent; no service is started (policy-rc.d), the tests start
# their own instances on 127.0.0.1 high ports.
set -euo pipefail
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
EXIM_DIR=/opt/relay-audit-mta/exim4
need=()
[ -x /usr/sbin/postfix ] || need+=(postfix)
command -v saslpasswd2 >/dev/null 2>&1 || need+=(sasl2-bin)
[ -e /usr/lib/x86_64-linux-gnu/sasl2/libsasldb.so ] || [ -e /usr/lib/aarch64-linux-gnu/sasl2/libsasldb.so ] || need+=(libsasl2-modules-db)
[ -e /usr/lib/x86_64-linux-gnu/sasl2/libplain.so ] || [ -e /usr/lib/aarch64-linux-gnu/sasl2/libplain.so ] || need+=(libsasl2-modules)
command -v swaks >/dev/null 2>&1 || need+=(swaks)
command -v nmap >/dev/null 2>&1 || need+=(nmap)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
dpkg -s libidn12 >/dev/null 2>&1 || need+=(libidn12)
if [ ${#need[@]} -gt 0 ] || [ ! -x "$EXIM_DIR/usr/sbin/exim4" ]; then
  # No package may start a system MTA on port 25.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
  fi
  $SUDO apt-get update -qq
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ ! -x "$EXIM_DIR/usr/sbin/exim4" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download exim4-daemon-light >/dev/null)
  $SUDO mkdir -p "$EXIM_DIR"
  $SUDO dpkg-deb -x "$tmp"/exim4-daemon-light_*.deb "$EXIM_DIR"
  rm -rf "$tmp"
fi
# Exim's run-time user is compiled in.
getent group Debian-exim >/dev/null || $SUDO groupadd --system Debian-exim
id Debian-exim >/dev/null 2>&1 || $SUDO useradd --system -g Debian-exim -M -d /var/spool/exim4 -s /usr/sbin/nologin Debian-exim
echo "mail servers for the probe tests: $(postconf -d mail_version 2>/dev/null), exim $("$EXIM_DIR/usr/sbin/exim4" -bV 2>/dev/null | head -1 | awk '{print $3}'), $(swaks --version 2>/dev/null | head -1), $(nmap --version | head -1)"
