//! A scripted SMTP server on 127.0.0.1 for protocol tests: Exchange's banners and wording by
//! version, tarpits, drops, floods and silence. It stands in for Exchange's *dialogue* only;
//! relay verdicts are tested against real Postfix and Exim (`tests/probe_live.rs`).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server does with one line.
pub enum Action {
    Reply(Vec<String>),
    /// Reply, then close the connection.
    ReplyClose(Vec<String>),
    /// Say nothing (the client must time out).
    Silence,
}

pub type Respond = dyn Fn(&str) -> Action + Send + Sync;

pub struct Fake {
    pub port: u16,
    /// Every line the server received, per connection (`[conn] line`).
    pub seen: Arc<Mutex<Vec<String>>>,
    pub connections: Arc<Mutex<u32>>,
}

impl Fake {
    pub fn lines(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// Starts a server: `banner` lines (empty: silent), `respond` for each command, and a delay
/// before every 5xx (Exchange's tarpit). Runs until the test process ends.
pub fn start(banner: Vec<String>, tarpit: Duration, respond: Arc<Respond>) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(Mutex::new(0u32));
    let (s2, c2) = (seen.clone(), connections.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let n = {
                let mut c = c2.lock().unwrap();
                *c += 1;
                *c
            };
            let (seen, respond, banner) = (s2.clone(), respond.clone(), banner.clone());
            std::thread::spawn(move || serve(stream, n, &banner, tarpit, &*respond, &seen));
        }
    });
    Fake {
        port,
        seen,
        connections,
    }
}

fn send(w: &mut TcpStream, lines: &[String], tarpit: Duration) -> bool {
    if lines.last().is_some_and(|l| l.starts_with('5')) {
        std::thread::sleep(tarpit);
    }
    let mut buf = String::new();
    for l in lines {
        buf.push_str(l);
        buf.push_str("\r\n");
    }
    w.write_all(buf.as_bytes()).is_ok()
}

fn serve(
    mut stream: TcpStream,
    conn: u32,
    banner: &[String],
    tarpit: Duration,
    respond: &Respond,
    seen: &Mutex<Vec<String>>,
) {
    if banner.is_empty() {
        std::thread::sleep(Duration::from_secs(30));
        return;
    }
    if !send(&mut stream, banner, tarpit) {
        return;
    }
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let l = line.trim_end_matches(['\r', '\n']).to_string();
        seen.lock().unwrap().push(format!("[{conn}] {l}"));
        match respond(&l) {
            Action::Reply(r) => {
                if !send(&mut stream, &r, tarpit) {
                    return;
                }
            }
            Action::ReplyClose(r) => {
                send(&mut stream, &r, tarpit);
                return;
            }
            Action::Silence => {
                std::thread::sleep(Duration::from_secs(30));
                return;
            }
        }
    }
}

fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The verb of a command line, upper-case.
pub fn verb(l: &str) -> String {
    l.split([' ', ':'])
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

/// Exchange 2013–SE, closed, word for word (Microsoft's telnet article and Q&A 305565).
pub fn exchange_2013(tarpit: Duration) -> Fake {
    start(
        lines(&["220 mail1.fabrikam.com Microsoft ESMTP MAIL Service ready at Fri, 5 Aug 2016 16:24:41 -0700"]),
        tarpit,
        Arc::new(|l: &str| match verb(l).as_str() {
            "EHLO" => Action::Reply(lines(&[
                "250-mail1.fabrikam.com Hello [127.0.0.1]",
                "250-SIZE 37748736",
                "250-PIPELINING",
                "250-DSN",
                "250-ENHANCEDSTATUSCODES",
                "250-STARTTLS",
                "250-X-ANONYMOUSTLS",
                "250-AUTH NTLM",
                "250-X-EXPS GSSAPI NTLM",
                "250-8BITMIME",
                "250-BINARYMIME",
                "250-CHUNKING",
                "250 XRDST",
            ])),
            "MAIL" => Action::Reply(lines(&["250 2.1.0 Sender OK"])),
            "RCPT" if l.to_ascii_lowercase().ends_with("@fabrikam.com>") => {
                Action::Reply(lines(&["250 2.1.5 Recipient OK"]))
            }
            "RCPT" => Action::Reply(lines(&[
                "550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain",
            ])),
            "RSET" => Action::Reply(lines(&["250 2.0.0 Resetting"])),
            "QUIT" => Action::ReplyClose(lines(&[
                "221 2.0.0 Service closing transmission channel",
            ])),
            _ => Action::Reply(lines(&["500 5.3.3 Unrecognized command"])),
        }),
    )
}

/// Exchange 2000/2003 (IIS SMTP), closed to relay, but accepting the percent-hack and
/// quoted forms into its own domain and echoing them rewritten (KB Q304897).
pub fn exchange_2003() -> Fake {
    start(
        lines(&["220 mail.northwindtraders.com Microsoft ESMTP MAIL Service, Version: 6.0.3790.3959 ready at  Tue, 3 Mar 2009 10:12:01 +0100"]),
        Duration::ZERO,
        Arc::new(|l: &str| {
            let addr = l
                .split_once(':')
                .map(|(_, a)| a.trim().trim_start_matches('<').trim_end_matches('>'))
                .unwrap_or("")
                .to_string();
            match verb(l).as_str() {
                "EHLO" => Action::Reply(lines(&[
                    "250-mail.northwindtraders.com Hello [127.0.0.1]",
                    "250-TURN",
                    "250-SIZE",
                    "250-ETRN",
                    "250-PIPELINING",
                    "250-DSN",
                    "250-ENHANCEDSTATUSCODES",
                    "250-8bitmime",
                    "250-BINARYMIME",
                    "250-CHUNKING",
                    "250-VRFY",
                    "250-X-EXPS GSSAPI NTLM LOGIN",
                    "250-X-EXPS=LOGIN",
                    "250-AUTH GSSAPI NTLM LOGIN",
                    "250-AUTH=LOGIN",
                    "250-X-LINK2STATE",
                    "250-XEXCH50",
                    "250 OK",
                ])),
                "MAIL" => Action::Reply(vec![format!("250 2.1.0 {addr}....Sender OK")]),
                "RCPT" => {
                    let local_form = addr.contains('%') || addr.starts_with('"');
                    if local_form && !addr.contains("@[") && !addr.ends_with(".com") {
                        // The Q304897 case: qualified into the server's own domain.
                        Action::Reply(vec![format!("250 2.1.5 {addr}@northwindtraders.com")])
                    } else if addr.ends_with("northwindtraders.com") {
                        Action::Reply(vec![format!("250 2.1.5 {addr}")])
                    } else {
                        Action::Reply(vec![format!("550 5.7.1 Unable to relay for {addr}")])
                    }
                }
                "RSET" => Action::Reply(lines(&["250 2.0.0 Resetting"])),
                "QUIT" => Action::ReplyClose(lines(&[
                    "221 2.0.0 mail.northwindtraders.com Service closing transmission channel",
                ])),
                _ => Action::Reply(lines(&["500 5.3.3 Unrecognized command"])),
            }
        }),
    )
}
