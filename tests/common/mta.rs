//! Real Postfix and Exim for the probe's tests, each test its own instance: configs from
//! `tests/mta/` filled with a fresh folder and free ports on 127.0.0.1, the daemon in the
//! foreground as a child of the test, stopped when the handle drops. Nothing is delivered
//! (discard transports, queue-only, a blackhole router) and the checks below prove it.
//!
//! `.ci/install-mtas.sh` installs them; a missing binary fails the test, never skips it.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Relays for anyone.
    Open,
    /// Relays for nobody (not even loopback).
    Closed,
    /// Relays after AUTH (relayuser@example.org / relay-secret).
    Auth,
    /// Closed, in Exchange 2013+'s words (`550 5.7.54 ...`).
    Exchange2013,
    /// `530 5.7.1 Client was not authenticated` at MAIL.
    NoAuth,
    /// Relays only for the client 127.0.0.3 (Postfix only).
    IpRelay,
    /// Closed, TLS from the first byte as on port 465 (Exim only).
    Smtps,
}

const SCENARIOS: [(Scenario, &str); 7] = [
    (Scenario::Open, "@OPEN@"),
    (Scenario::Closed, "@CLOSED@"),
    (Scenario::Auth, "@AUTH@"),
    (Scenario::Exchange2013, "@EXCH@"),
    (Scenario::NoAuth, "@NOAUTH@"),
    (Scenario::IpRelay, "@IPRELAY@"),
    (Scenario::Smtps, "@SMTPS@"),
];

pub const USER: &str = "relayuser@example.org";
pub const PASSWORD: &str = "relay-secret";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn need(bin: &str) -> PathBuf {
    let p = PathBuf::from(bin);
    assert!(
        p.exists(),
        "{bin} is missing: run .ci/install-mtas.sh (the probe is tested against real MTAs)"
    );
    p
}

/// Free ports on 127.0.0.1 (bound, read, released).
fn free_ports(n: usize) -> Vec<u16> {
    let ls: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    ls.iter().map(|l| l.local_addr().unwrap().port()).collect()
}

/// A fresh folder the MTAs' own users can reach.
fn scratch(name: &str) -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix(&format!("relay-audit-{name}-"))
        .tempdir()
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

fn fill(template: &Path, out: &Path, dir: &Path, ports: &[(Scenario, u16)]) {
    let mut s = std::fs::read_to_string(template).unwrap();
    s = s.replace("@DIR@", &dir.display().to_string());
    for (sc, tag) in SCENARIOS {
        if let Some((_, p)) = ports.iter().find(|(x, _)| *x == sc) {
            s = s.replace(tag, &p.to_string());
        }
    }
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(out, s).unwrap();
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Waits until every port greets with 220.
fn wait_banners(ports: &[u16], what: &str, log: &dyn Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(15);
    for &p in ports {
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", p)) {
                use std::io::Read;
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut b = [0u8; 3];
                if s.read_exact(&mut b).is_ok() && &b == b"220" {
                    let _ = std::io::Write::write_all(&mut s, b"QUIT\r\n");
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{what}: no banner on port {p} after 15 s\n{}",
                log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A private Postfix (`master -s` in the foreground) with the six scenarios.
pub struct Postfix {
    dir: tempfile::TempDir,
    child: Child,
    ports: Vec<(Scenario, u16)>,
}

impl Postfix {
    pub fn start() -> Postfix {
        need("/usr/sbin/postfix");
        let dir = scratch("postfix");
        let d = dir.path();
        let ports: Vec<(Scenario, u16)> = SCENARIOS
            .iter()
            .map(|(s, _)| *s)
            .filter(|s| *s != Scenario::Smtps)
            .zip(free_ports(SCENARIOS.len() - 1))
            .collect();
        let t = repo().join("tests/mta/postfix");
        for f in [
            "main.cf",
            "master.cf",
            "exchange2013_rcpt.regexp",
            "sasl/smtpd.conf",
        ] {
            fill(&t.join(f), &d.join("etc").join(f), d, &ports);
        }
        for sub in ["run/spool", "run/data"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        run(Command::new("chown").arg("postfix").arg(d.join("run/data")));
        let sasldb = d.join("run/sasldb2");
        let mut sp = Command::new("saslpasswd2")
            .args(["-p", "-c", "-f"])
            .arg(&sasldb)
            .args(["-u", "example.org", "relayuser"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("saslpasswd2 (sasl2-bin): run .ci/install-mtas.sh");
        std::io::Write::write_all(sp.stdin.as_mut().unwrap(), PASSWORD.as_bytes()).unwrap();
        drop(sp.stdin.take());
        assert!(sp.wait().unwrap().success());
        run(Command::new("chown").arg("postfix").arg(&sasldb));
        run(Command::new("postfix")
            .arg("-c")
            .arg(d.join("etc"))
            .arg("check"));
        // -e 600: master exits by itself even if this process dies without dropping it.
        let child = Command::new(need("/usr/lib/postfix/sbin/master"))
            .arg("-c")
            .arg(d.join("etc"))
            .args(["-s", "-e", "600"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let p = Postfix { dir, child, ports };
        let all: Vec<u16> = p.ports.iter().map(|(_, x)| *x).collect();
        wait_banners(&all, "postfix", &|| p.log());
        p
    }

    pub fn port(&self, s: Scenario) -> u16 {
        self.ports.iter().find(|(x, _)| *x == s).unwrap().1
    }

    /// The maillog (every session: `connect`, `NOQUEUE: reject: RCPT ... helo=<...>`,
    /// `disconnect ... ehlo=1 mail=... rcpt=... rset=... quit=1 commands=...`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("run/maillog")).unwrap_or_default()
    }

    /// `postqueue -p` says the queue is empty and the queue folders hold no file.
    pub fn queue_is_empty(&self) -> bool {
        let out = Command::new("postqueue")
            .arg("-c")
            .arg(self.dir.path().join("etc"))
            .arg("-p")
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout).contains("Mail queue is empty");
        let spool = self.dir.path().join("run/spool");
        let files = ["incoming", "active", "deferred", "hold", "maildrop"]
            .iter()
            .map(|q| count_files(&spool.join(q)))
            .sum::<usize>();
        said && files == 0
    }

    /// Did any session send DATA or BDAT? (Postfix's disconnect line counts each command.)
    pub fn data_seen(&self) -> bool {
        self.log().lines().any(|l| {
            l.contains("disconnect from") && (l.contains(" data=") || l.contains(" bdat="))
        })
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

fn count_files(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                count_files(&p)
            } else {
                1
            }
        })
        .sum()
}

/// A private Exim (`-bdf`) with six scenarios (no IpRelay), STARTTLS on every port but the
/// TLS-on-connect one.
pub struct Exim {
    dir: tempfile::TempDir,
    child: Child,
    ports: Vec<(Scenario, u16)>,
    bin: PathBuf,
}

pub fn exim_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("RELAY_AUDIT_EXIM") {
        return PathBuf::from(p);
    }
    for p in [
        "/opt/relay-audit-mta/exim4/usr/sbin/exim4",
        "/usr/sbin/exim4",
    ] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    need("/opt/relay-audit-mta/exim4/usr/sbin/exim4")
}

impl Exim {
    pub fn start() -> Exim {
        let bin = exim_binary();
        let dir = scratch("exim");
        let d = dir.path();
        let ports: Vec<(Scenario, u16)> = SCENARIOS
            .iter()
            .map(|(s, _)| *s)
            .filter(|s| *s != Scenario::IpRelay)
            .zip(free_ports(6))
            .collect();
        fill(
            &repo().join("tests/mta/exim/exim.conf"),
            &d.join("exim.conf"),
            d,
            &ports,
        );
        for sub in ["run/spool", "run/log"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        // A made certificate: Exim otherwise makes one at start (up to 1.5 s). rustls wants a
        // SAN and CA:FALSE.
        run(Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .arg("-keyout")
            .arg(d.join("run/tls-key.pem"))
            .arg("-out")
            .arg(d.join("run/tls-cert.pem"))
            .args([
                "-subj",
                "/CN=mx.example.org",
                "-addext",
                "subjectAltName=DNS:mx.example.org",
                "-addext",
                "basicConstraints=critical,CA:FALSE",
                "-addext",
                "extendedKeyUsage=serverAuth",
            ]));
        run(Command::new("chown")
            .args(["-R", "Debian-exim:Debian-exim"])
            .arg(d.join("run")));
        let conf = d.join("exim.conf");
        run(Command::new(&bin).arg("-C").arg(&conf).arg("-bV"));
        let child = Command::new(&bin)
            .arg("-C")
            .arg(&conf)
            .arg("-bdf")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let e = Exim {
            dir,
            child,
            ports,
            bin,
        };
        let all: Vec<u16> = e
            .ports
            .iter()
            .filter(|(s, _)| *s != Scenario::Smtps)
            .map(|(_, x)| *x)
            .collect();
        wait_banners(&all, "exim", &|| e.log());
        e
    }

    pub fn port(&self, s: Scenario) -> u16 {
        self.ports
            .iter()
            .find(|(x, _)| *x == s)
            .unwrap_or_else(|| panic!("Exim has no {s:?} scenario"))
            .1
    }

    /// The certificate Exim offers (give it to the probe's `--tls-ca`).
    pub fn tls_ca(&self) -> PathBuf {
        self.dir.path().join("run/tls-cert.pem")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("run/log/mainlog")).unwrap_or_default()
    }

    /// `exim -bpc` counts no message.
    pub fn queue_is_empty(&self) -> bool {
        let out = Command::new(&self.bin)
            .arg("-C")
            .arg(self.dir.path().join("exim.conf"))
            .arg("-bpc")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim() == "0"
    }

    /// The predata ACL logs `DATA-REACHED` should DATA ever arrive.
    pub fn data_seen(&self) -> bool {
        self.log().contains("DATA-REACHED")
    }
}

impl Drop for Exim {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// `swaks --quit-after RCPT` (a peer): its transcript.
pub fn swaks_rcpt(port: u16, from: &str, to: &str, extra: &[&str]) -> String {
    let out = Command::new("swaks")
        .args(["--server", &format!("127.0.0.1:{port}")])
        .args(["--quit-after", "RCPT", "--timeout", "10"])
        .args(["--from", from, "--to", to])
        .args(extra)
        .output()
        .expect("swaks: run .ci/install-mtas.sh");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// nmap's `smtp-open-relay` (a peer), forced on a high port with `+`.
pub fn nmap_open_relay(port: u16) -> String {
    let out = Command::new("nmap")
        .args(["-Pn", "-n", "-p", &port.to_string()])
        .args(["--script", "+smtp-open-relay"])
        .args(["--script-args", "smtp-open-relay.domain=example.net", "-vv"])
        .arg("127.0.0.1")
        .output()
        .expect("nmap: run .ci/install-mtas.sh");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
