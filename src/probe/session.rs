//! One SMTP connection: TCP (optionally from a chosen source address), TLS by rustls, the
//! commands the probe may send, and replies read within budgets. Every line, both ways, goes
//! to the transcript with a timestamp.
//!
//! [`Command`] is the only way to put a line on the wire, and it has no variant for DATA, BDAT,
//! VRFY or EXPN: a probe cannot send a message or enumerate mailboxes, whatever its options.

use super::transcript::{Dir, Transcript};
use rustls::client::danger::ServerCertVerifier as _;
use rustls::pki_types::ServerName;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A reply line longer than this is cut (and says so); a server cannot make the probe buffer
/// without bound.
pub const MAX_LINE: usize = 4096;
/// Lines in one multi-line reply.
pub const MAX_REPLY_LINES: usize = 200;

/// What the probe may send. There is deliberately no DATA, BDAT, VRFY or EXPN.
#[derive(Debug, Clone)]
pub enum Command<'a> {
    Ehlo(&'a str),
    Helo(&'a str),
    StartTls,
    /// `AUTH PLAIN <base64>`; shown redacted.
    AuthPlain {
        initial: String,
    },
    /// `AUTH LOGIN`; the user name and password follow as [`Command::AuthSecret`].
    AuthLogin,
    /// A base64 answer to a 334 challenge; shown redacted.
    AuthSecret(String),
    Mail(&'a str),
    Rcpt(&'a str),
    Rset,
    Quit,
}

impl Command<'_> {
    /// The line on the wire (without CRLF).
    fn wire(&self) -> String {
        match self {
            Command::Ehlo(n) => format!("EHLO {n}"),
            Command::Helo(n) => format!("HELO {n}"),
            Command::StartTls => "STARTTLS".into(),
            Command::AuthPlain { initial } => format!("AUTH PLAIN {initial}"),
            Command::AuthLogin => "AUTH LOGIN".into(),
            Command::AuthSecret(s) => s.clone(),
            Command::Mail(a) => format!("MAIL FROM:{a}"),
            Command::Rcpt(a) => format!("RCPT TO:{a}"),
            Command::Rset => "RSET".into(),
            Command::Quit => "QUIT".into(),
        }
    }

    /// The line in the transcript: secrets redacted.
    fn shown(&self) -> String {
        match self {
            Command::AuthPlain { .. } => "AUTH PLAIN <redacted>".into(),
            Command::AuthSecret(_) => "<redacted>".into(),
            other => other.wire(),
        }
    }

    /// The verb, for the reply log (`MAIL`, `RCPT`, ...).
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Ehlo(_) => "EHLO",
            Command::Helo(_) => "HELO",
            Command::StartTls => "STARTTLS",
            Command::AuthPlain { .. } | Command::AuthLogin | Command::AuthSecret(_) => "AUTH",
            Command::Mail(_) => "MAIL",
            Command::Rcpt(_) => "RCPT",
            Command::Rset => "RSET",
            Command::Quit => "QUIT",
        }
    }
}

/// One server reply: the code of its last line and every raw line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    /// The text after the code on every line, joined with a space.
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|l| l.get(4..).unwrap_or("").trim())
            .collect::<Vec<_>>()
            .join(" ")
    }
    /// The whole reply as one line (`550 5.7.1 Unable to relay`).
    pub fn one_line(&self) -> String {
        match self.lines.last() {
            Some(last) if self.lines.len() == 1 => last.clone(),
            _ => format!("{} {}", self.code, self.text()),
        }
    }
    pub fn class(&self) -> u16 {
        self.code / 100
    }
}

/// Why a session ended early. None of these is ever a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lost {
    /// The server closed the connection.
    Closed,
    /// No (complete) reply within the time-out.
    Timeout,
    /// The total time budget is spent.
    Budget,
    /// A line that is no SMTP reply.
    Garbled(String),
    /// A TLS or socket error.
    Io(String),
}

impl std::fmt::Display for Lost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lost::Closed => write!(f, "the server closed the connection"),
            Lost::Timeout => write!(f, "no reply within the time-out"),
            Lost::Budget => write!(f, "the total time budget (--max-time) is spent"),
            Lost::Garbled(l) => write!(f, "not an SMTP reply: {l}"),
            Lost::Io(e) => write!(f, "{e}"),
        }
    }
}

/// TLS as the probe saw it.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct TlsInfo {
    pub version: String,
    pub cipher: String,
    /// `ok`, or why the certificate does not verify (the probe goes on unless told to verify).
    pub certificate: String,
    /// Certificates the server sent.
    pub chain: usize,
}

/// Settings a connection needs.
pub struct Link<'a> {
    pub addr: SocketAddr,
    pub source: Option<std::net::IpAddr>,
    pub connect_timeout: Duration,
    pub reply_timeout: Duration,
    pub deadline: Instant,
    /// The name the certificate is checked against (the host as typed).
    pub server_name: &'a str,
    pub tls_roots: Arc<rustls::RootCertStore>,
    pub tls_verify: bool,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// An open SMTP connection.
pub struct Session<'a> {
    link: &'a Link<'a>,
    stream: Option<Stream>,
    buf: Vec<u8>,
    pub local: Option<SocketAddr>,
    pub tls: Option<TlsInfo>,
}

impl<'a> Session<'a> {
    /// Connects (from `link.source` when set) and, with `tls_on_connect`, starts TLS at once.
    pub fn connect(
        link: &'a Link<'a>,
        tls_on_connect: bool,
        t: &mut Transcript,
    ) -> Result<Session<'a>, Lost> {
        let left = link.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Lost::Budget);
        }
        let timeout = link.connect_timeout.min(left);
        t.note(format!("connecting to {}", link.addr));
        let tcp = connect_tcp(link.addr, link.source, timeout).map_err(|e| {
            let lost = if e.kind() == io::ErrorKind::TimedOut {
                Lost::Timeout
            } else {
                Lost::Io(format!("cannot connect to {}: {e}", link.addr))
            };
            t.note(lost.to_string());
            lost
        })?;
        let _ = tcp.set_nodelay(true);
        let local = tcp.local_addr().ok();
        if let Some(l) = local {
            t.note(format!("connected from {l}"));
        }
        let mut s = Session {
            link,
            stream: Some(Stream::Plain(tcp)),
            buf: Vec::new(),
            local,
            tls: None,
        };
        if tls_on_connect {
            s.start_tls(t)?;
        }
        Ok(s)
    }

    /// Reads one reply (the banner, or the answer to a command).
    pub fn read_reply(&mut self, t: &mut Transcript) -> Result<Reply, Lost> {
        let mut lines = Vec::new();
        loop {
            let line = match self.read_line() {
                Ok(l) => l,
                Err(e) => {
                    t.note(e.to_string());
                    self.stream = None;
                    return Err(e);
                }
            };
            t.push(Dir::Received, &line);
            let bytes = line.as_bytes();
            let code = (bytes.len() >= 3 && bytes[..3].iter().all(u8::is_ascii_digit))
                .then(|| line[..3].parse::<u16>().ok())
                .flatten();
            let Some(code) = code else {
                let e = Lost::Garbled(crate::input::lines::clip(&line, 80).to_string());
                t.note(e.to_string());
                self.stream = None;
                return Err(e);
            };
            let more = bytes.get(3) == Some(&b'-');
            lines.push(line);
            if !more || lines.len() >= MAX_REPLY_LINES {
                if more {
                    t.note(format!(
                        "reply cut after {MAX_REPLY_LINES} lines; the session is abandoned"
                    ));
                    self.stream = None;
                }
                return Ok(Reply { code, lines });
            }
        }
    }

    /// Sends one command and reads its reply.
    pub fn send(&mut self, cmd: &Command<'_>, t: &mut Transcript) -> Result<Reply, Lost> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(Lost::Closed);
        };
        t.push(Dir::Sent, &cmd.shown());
        let mut wire = cmd.wire().into_bytes();
        wire.extend_from_slice(b"\r\n");
        if let Err(e) = stream.write_all(&wire).and_then(|_| stream.flush()) {
            let lost = io_lost(&e);
            t.note(lost.to_string());
            self.stream = None;
            return Err(lost);
        }
        let r = self.read_reply(t)?;
        if r.code == 421 {
            t.note("421: the server is closing the session");
            self.stream = None;
        }
        Ok(r)
    }

    pub fn is_open(&self) -> bool {
        self.stream.is_some()
    }

    /// Closes without QUIT (after a drop or a 421).
    pub fn abandon(&mut self) {
        self.stream = None;
    }

    /// Upgrades the connection to TLS (after `220` to STARTTLS, or at once on 465).
    pub fn start_tls(&mut self, t: &mut Transcript) -> Result<(), Lost> {
        let Some(Stream::Plain(tcp)) = self.stream.take() else {
            return Err(Lost::Io("TLS is already on".into()));
        };
        let seen = Arc::new(Mutex::new(None));
        let verifier = Recording::new(self.link.tls_roots.clone(), seen.clone())
            .map_err(|e| Lost::Io(format!("TLS set-up: {e}")))?;
        let config = rustls::ClientConfig::builder()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let name = ServerName::try_from(self.link.server_name.to_string())
            .or_else(|_| ServerName::try_from(self.link.addr.ip().to_string()))
            .map_err(|e| Lost::Io(format!("TLS server name: {e}")))?;
        let conn = rustls::ClientConnection::new(Arc::new(config), name)
            .map_err(|e| Lost::Io(format!("TLS set-up: {e}")))?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        self.set_timeout()?;
        let handshake = {
            let (c, s) = (&mut tls.conn, &mut tls.sock);
            let mut r = Ok(());
            while c.is_handshaking() {
                if let Err(e) = c.complete_io(s) {
                    r = Err(e);
                    break;
                }
            }
            r
        };
        let verdict = seen
            .lock()
            .ok()
            .and_then(|g| g.clone())
            .unwrap_or_else(|| "not checked".into());
        if let Err(e) = handshake {
            let lost = Lost::Io(format!("TLS handshake failed: {e}"));
            t.note(lost.to_string());
            return Err(lost);
        }
        let info = TlsInfo {
            version: tls
                .conn
                .protocol_version()
                .map(|v| format!("{v:?}").replace('_', "."))
                .unwrap_or_default(),
            cipher: tls
                .conn
                .negotiated_cipher_suite()
                .map(|c| format!("{:?}", c.suite()))
                .unwrap_or_default(),
            certificate: verdict,
            chain: tls.conn.peer_certificates().map_or(0, |c| c.len()),
        };
        t.note(format!(
            "TLS {} {}; certificate: {}",
            info.version, info.cipher, info.certificate
        ));
        if self.link.tls_verify && info.certificate != "ok" {
            let lost = Lost::Io(format!(
                "the certificate does not verify ({}) and --tls-verify is set",
                info.certificate
            ));
            t.note(lost.to_string());
            return Err(lost);
        }
        self.tls = Some(info);
        self.stream = Some(Stream::Tls(Box::new(tls)));
        Ok(())
    }

    fn set_timeout(&self) -> Result<(), Lost> {
        let left = self.link.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Lost::Budget);
        }
        let t = self
            .link
            .reply_timeout
            .min(left)
            .max(Duration::from_millis(1));
        if let Some(s) = &self.stream {
            s.tcp()
                .set_read_timeout(Some(t))
                .and_then(|_| s.tcp().set_write_timeout(Some(t)))
                .map_err(|e| Lost::Io(e.to_string()))?;
        }
        Ok(())
    }

    /// One line, without CR LF, cut at [`MAX_LINE`] bytes (the rest of it is read and dropped).
    fn read_line(&mut self) -> Result<String, Lost> {
        let started = Instant::now();
        let mut cut = false;
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                let mut s = String::from_utf8_lossy(&line).into_owned();
                if cut {
                    s.push_str(" [cut]");
                }
                return Ok(s);
            }
            if self.buf.len() > MAX_LINE {
                self.buf.truncate(MAX_LINE);
                cut = true;
            }
            if started.elapsed() > self.link.reply_timeout {
                return Err(Lost::Timeout);
            }
            self.set_timeout()?;
            let Some(stream) = self.stream.as_mut() else {
                return Err(Lost::Closed);
            };
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk) {
                Ok(0) => return Err(Lost::Closed),
                Ok(n) => {
                    if cut {
                        // Still inside the over-long line: keep only what may end it.
                        if let Some(i) = chunk[..n].iter().position(|&b| b == b'\n') {
                            self.buf.extend_from_slice(&chunk[i..n]);
                        }
                    } else {
                        self.buf.extend_from_slice(&chunk[..n]);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(if Instant::now() >= self.link.deadline {
                        Lost::Budget
                    } else {
                        io_lost(&e)
                    })
                }
            }
        }
    }
}

fn io_lost(e: &io::Error) -> Lost {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Lost::Timeout,
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => Lost::Closed,
        _ => Lost::Io(e.to_string()),
    }
}

fn connect_tcp(
    addr: SocketAddr,
    source: Option<std::net::IpAddr>,
    timeout: Duration,
) -> io::Result<TcpStream> {
    let Some(src) = source else {
        return TcpStream::connect_timeout(&addr, timeout);
    };
    let domain = socket2::Domain::for_address(addr);
    let sock = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    sock.bind(&SocketAddr::new(src, 0).into())?;
    sock.connect_timeout(&addr.into(), timeout)?;
    Ok(sock.into())
}

/// A certificate verifier that records the WebPKI verdict and lets the session go on: the
/// relay test matters more than a self-signed certificate (`--tls-verify` makes it fatal).
#[derive(Debug)]
struct Recording {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    seen: Arc<Mutex<Option<String>>>,
    schemes: Vec<rustls::SignatureScheme>,
}

impl Recording {
    fn new(
        roots: Arc<rustls::RootCertStore>,
        seen: Arc<Mutex<Option<String>>>,
    ) -> Result<Recording, String> {
        let inner = rustls::client::WebPkiServerVerifier::builder(roots)
            .build()
            .map_err(|e| e.to_string())?;
        let schemes = inner.supported_verify_schemes();
        Ok(Recording {
            inner,
            seen,
            schemes,
        })
    }
}

impl rustls::client::danger::ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let verdict =
            match self
                .inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            {
                Ok(_) => "ok".to_string(),
                Err(e) => describe_cert_error(&e),
            };
        if let Ok(mut g) = self.seen.lock() {
            *g = Some(verdict);
        }
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.schemes.clone()
    }
}

fn describe_cert_error(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "issuer not trusted (self-signed or private CA)".into(),
            C::Expired | C::ExpiredContext { .. } => "expired".into(),
            C::NotValidYet | C::NotValidYetContext { .. } => "not valid yet".into(),
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "not valid for the name probed".into()
            }
            C::Revoked => "revoked".into(),
            other => format!("{other:?}"),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Whatever bytes a server sends, reading replies ends (a reply, or a loss) without a
    /// panic, and every kept line stays within [`MAX_LINE`] (plus the cut marker).
    fn read_all(bytes: Vec<u8>) -> Vec<Result<Reply, Lost>> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let _ = s.write_all(&bytes);
        });
        let link = Link {
            addr,
            source: None,
            connect_timeout: Duration::from_secs(2),
            reply_timeout: Duration::from_secs(2),
            deadline: Instant::now() + Duration::from_secs(5),
            server_name: "127.0.0.1",
            tls_roots: Arc::new(rustls::RootCertStore::empty()),
            tls_verify: false,
        };
        let mut t = Transcript::new();
        let mut s = Session::connect(&link, false, &mut t).unwrap();
        let mut out = Vec::new();
        for _ in 0..50 {
            let r = s.read_reply(&mut t);
            let stop = r.is_err();
            out.push(r);
            if stop {
                break;
            }
        }
        server.join().unwrap();
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn any_bytes_end_in_replies_or_a_loss(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
            for r in read_all(bytes).into_iter().flatten() {
                prop_assert!(r.lines.len() <= MAX_REPLY_LINES);
                for l in &r.lines {
                    prop_assert!(l.len() <= MAX_LINE * 3 + 8);
                }
            }
        }

        #[test]
        fn reply_shaped_noise_parses(lines in proptest::collection::vec("[0-9]{3}[ -][ -~]{0,40}", 1..30)) {
            let mut bytes = Vec::new();
            for l in &lines {
                bytes.extend_from_slice(l.as_bytes());
                bytes.extend_from_slice(b"\r\n");
            }
            let got = read_all(bytes);
            prop_assert!(!got.is_empty());
        }
    }

    #[test]
    fn continuation_lines_make_one_reply() {
        let got = read_all(b"250-mx.example.org Hello\r\n250-SIZE 1\r\n250 OK\r\n".to_vec());
        let r = got[0].as_ref().unwrap();
        assert_eq!(r.code, 250);
        assert_eq!(r.lines.len(), 3);
        assert_eq!(got[1], Err(Lost::Closed));
    }
}
