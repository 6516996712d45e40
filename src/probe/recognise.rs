//! Which server answered: Exchange by generation, or another MTA, from the banner, the EHLO
//! keywords and the wording of the replies — and how sure that is. A custom banner hides the
//! first, not the others; a server that imitates Exchange's words (the tests' Exim and
//! Postfix) keeps its own EHLO, so clues that disagree lower the confidence and are listed.
//!
//! Sources of the wording: `../shared/PROBE.md` §3 (Microsoft's telnet articles for 2007–2019,
//! KB Q304897, KB 254560, KB Q256856/Q262945 for 5.5, technet bb124688 for 2003's EHLO), §1.5
//! (Postfix, Exim and OpenSMTPD as observed), nmap's and OpenVAS' detection notes.

use serde::Serialize;

/// What the session saw, in order. Lines are raw reply lines (`250-SIZE 37748736`).
pub struct Seen<'a> {
    /// The 220 greeting lines.
    pub banner: &'a [String],
    /// The EHLO reply lines (the last EHLO, after STARTTLS if any).
    pub ehlo: &'a [String],
    /// `(verb, reply lines)`: `MAIL`, `RCPT`, `RSET`, `QUIT`, `AUTH`, ...
    pub replies: &'a [(&'a str, &'a [String])],
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Recognition {
    /// `exchange-5.5`, `exchange-2000-2003`, `exchange-2007-2010`, `exchange-2013+`,
    /// `exchange-2007+` (2007 or later, which one unknown), `exchange-online`, `iis-smtp`,
    /// `postfix`, `exim`, `sendmail`, `opensmtpd`, `filtering-device`, `unknown`.
    pub server: &'static str,
    pub label: String,
    /// A version when the banner carries one (`5.5.2653.13`, `6.0.3790.3959`, `4.96`).
    pub version: Option<String>,
    /// `high` (independent clues agree), `medium` (one kind of clue, or a weak dissent),
    /// `low` (weak, or clues that disagree).
    pub confidence: &'static str,
    pub clues: Vec<String>,
}

const IDS: [(&str, &str); 13] = [
    (
        "exchange-5.5",
        "Exchange Server 5.5 (Internet Mail Service)",
    ),
    (
        "exchange-2000-2003",
        "Exchange 2000 or 2003 (Windows SMTP service)",
    ),
    ("exchange-2007-2010", "Exchange Server 2007 or 2010"),
    ("exchange-2013+", "Exchange Server 2013, 2016, 2019 or SE"),
    ("exchange-2007+", "Exchange Server 2007 or later"),
    ("exchange-online", "Exchange Online (Microsoft 365)"),
    (
        "iis-smtp",
        "the Windows (IIS) SMTP service without Exchange",
    ),
    ("postfix", "Postfix"),
    ("exim", "Exim"),
    ("sendmail", "Sendmail"),
    ("opensmtpd", "OpenSMTPD"),
    (
        "filtering-device",
        "a filtering device in front (it rewrites the dialogue)",
    ),
    ("unknown", "an unrecognised server"),
];

const E55: &[&str] = &["exchange-5.5"];
const E2K: &[&str] = &["exchange-2000-2003"];
const E2K_IIS: &[&str] = &["exchange-2000-2003", "iis-smtp"];
const E0710: &[&str] = &["exchange-2007-2010"];
const E13: &[&str] = &["exchange-2013+"];
const E07P: &[&str] = &["exchange-2007-2010", "exchange-2013+", "exchange-online"];
const E2K_10: &[&str] = &["exchange-2000-2003", "exchange-2007-2010"];
const EX_MODERN: &[&str] = &[
    "exchange-2000-2003",
    "exchange-2007-2010",
    "exchange-2013+",
    "exchange-online",
];

/// One clue: what it points to, how strongly, and what was seen.
struct Clue {
    to: &'static [&'static str],
    weight: u32,
    text: String,
}

/// What each part of the dialogue may say: (where, needle, case-sensitive, servers, weight,
/// meaning).
type Rule = (
    &'static str,
    &'static str,
    &'static [&'static str],
    u32,
    &'static str,
);

const BANNER: &[Rule] = &[
    ("banner", "Internet Mail Service", E55, 4, "5.5"),
    (
        "banner",
        "Microsoft ESMTP MAIL Service, Version:",
        E2K_IIS,
        4,
        "2000/2003: the Windows SMTP service",
    ),
    (
        "banner",
        "Microsoft ESMTP MAIL Service ready at",
        E07P,
        3,
        "2007+",
    ),
    (
        "banner",
        "Microsoft ESMTP MAIL service ready at",
        E07P,
        3,
        "2007+",
    ),
    (
        "banner",
        "outlook.com",
        &["exchange-online"],
        2,
        "Exchange Online",
    ),
    ("banner", "ESMTP Postfix", &["postfix"], 4, "Postfix"),
    ("banner", "ESMTP Exim", &["exim"], 4, "Exim"),
    ("banner", "Sendmail", &["sendmail"], 4, "Sendmail"),
    ("banner", "OpenSMTPD", &["opensmtpd"], 4, "OpenSMTPD"),
];

const EHLO: &[Rule] = &[
    ("EHLO", "XEXCH50", E2K_10, 2, "Exchange 2000–2010"),
    ("EHLO", "X-LINK2STATE", E2K, 2, "Exchange 2000/2003"),
    ("EHLO", "X-EXPS", EX_MODERN, 1, "Exchange"),
    ("EHLO", "X-ANONYMOUSTLS", E07P, 2, "2007+"),
    ("EHLO", "XRDST", E13, 2, "2013+"),
    ("EHLO", "PIPECONNECT", &["exim"], 2, "Exim"),
    ("EHLO", "250 HELP", &["exim"], 1, "Exim's last keyword"),
];

const REPLIES: &[Rule] = &[
    (
        "reply",
        "5.7.1 Unable to relay",
        E0710,
        1,
        "2007/2010's relay refusal (2000/2003 add `for <address>`)",
    ),
    (
        "reply",
        "SMTP; Unable to relay recipient in non-accepted domain",
        E13,
        4,
        "2013+'s relay refusal",
    ),
    (
        "reply",
        "Unable to relay for",
        E2K_IIS,
        3,
        "2000/2003's relay refusal",
    ),
    (
        "reply",
        "Relaying is prohibited",
        E55,
        3,
        "5.5's relay refusal",
    ),
    ("reply", "can accomodate", E55, 3, "5.5's MAIL reply"),
    ("reply", "OK - Recipient", E55, 2, "5.5's RCPT reply"),
    (
        "reply",
        "....Sender OK",
        E2K_IIS,
        2,
        "2000/2003's MAIL reply",
    ),
    ("reply", "2.1.0 Sender OK", E07P, 2, "2007+'s MAIL reply"),
    ("reply", "2.1.5 Recipient OK", E07P, 2, "2007+'s RCPT reply"),
    (
        "reply",
        "Client was not authenticated",
        E07P,
        2,
        "2007+'s AUTH demand",
    ),
    (
        "reply",
        "Service closing transmission channel",
        EX_MODERN,
        1,
        "Exchange's QUIT reply",
    ),
    (
        "reply",
        "2.0.0 Resetting",
        EX_MODERN,
        1,
        "Exchange's RSET reply",
    ),
    (
        "reply",
        "Relay access denied",
        &["postfix"],
        3,
        "Postfix's relay refusal",
    ),
    (
        "reply",
        "Recipient address rejected:",
        &["postfix"],
        2,
        "Postfix's reply prefix",
    ),
    (
        "reply",
        "Sender address rejected:",
        &["postfix"],
        2,
        "Postfix's reply prefix",
    ),
    (
        "reply",
        "relay not permitted",
        &["exim"],
        3,
        "Exim's relay refusal",
    ),
    ("reply", "250 Accepted", &["exim"], 2, "Exim's RCPT reply"),
    (
        "reply",
        "domain literals not allowed",
        &["exim"],
        2,
        "Exim's refusal of address literals",
    ),
    (
        "reply",
        "Destination address valid",
        &["opensmtpd"],
        3,
        "OpenSMTPD's RCPT reply",
    ),
    (
        "reply",
        "Invalid recipient:",
        &["opensmtpd"],
        2,
        "OpenSMTPD's refusal",
    ),
];

/// Only so much of a line is read (a hostile server may send megabytes).
const SCAN: usize = 512;

fn clip(s: &str) -> &str {
    if s.len() <= SCAN {
        return s;
    }
    let mut end = SCAN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn quote(s: &str) -> String {
    let s: String = clip(s)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(80)
        .collect();
    format!("'{}'", s.trim())
}

fn scan(rules: &[Rule], lines: &[String], out: &mut Vec<Clue>) {
    for (place, needle, to, weight, meaning) in rules {
        if let Some(l) = lines.iter().find(|l| clip(l).contains(needle)) {
            // One clue per needle; the first line that shows it.
            if out.len() < 40 {
                out.push(Clue {
                    to,
                    weight: *weight,
                    text: format!("{place}: {} ({meaning})", quote(needle_line(l, needle))),
                });
            }
        }
    }
}

/// The EHLO keyword or the reply line that showed a clue.
fn needle_line<'s>(line: &'s str, needle: &str) -> &'s str {
    if needle.len() < 20 && line.len() > 60 {
        return line.get(..line.len().min(60)).unwrap_or(line);
    }
    line
}

/// A version the banner states: IMS `5.5.2653.13`, `Version: 6.0.3790.3959`, `Exim 4.96`,
/// `Sendmail 8.15.2`.
fn banner_version(banner: &str) -> Option<String> {
    let b = clip(banner);
    let after = |key: &str| {
        b.find(key).map(|i| {
            b[i + key.len()..]
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect::<String>()
        })
    };
    [
        "Internet Mail Service ",
        "Version: ",
        "ESMTP Exim ",
        "Sendmail ",
    ]
    .iter()
    .find_map(|k| after(k).filter(|v| v.contains('.')))
}

/// Says which server answered.
pub fn recognise(seen: &Seen<'_>) -> Recognition {
    let mut clues = Vec::new();
    scan(BANNER, seen.banner, &mut clues);
    // The masked banner of a firewall's SMTP fixup (Cisco PIX/ASA "mailguard").
    if let Some(b) = seen.banner.first() {
        let text = clip(b).get(4..).unwrap_or("").trim();
        if text.len() >= 8
            && text
                .chars()
                .all(|c| c == '*' || c == ' ' || c == '0' || c == '2')
        {
            clues.push(Clue {
                to: &["filtering-device"],
                weight: 4,
                text: "banner: all asterisks (a firewall's SMTP fixup masks the server)".into(),
            });
        }
    }
    scan(EHLO, seen.ehlo, &mut clues);
    // Exim's EHLO greeting names the client's EHLO name and address: `Hello name [ip]`.
    if let Some(first) = seen.ehlo.first() {
        let f = clip(first);
        if f.contains(" Hello ") && f.trim_end().ends_with(']') && !f.contains(" Hello [") {
            clues.push(Clue {
                to: &["exim"],
                weight: 2,
                text: format!("EHLO: {} (Exim's greeting form)", quote(f)),
            });
        }
    }
    let replies: Vec<String> = seen
        .replies
        .iter()
        .flat_map(|(_, l)| l.iter().cloned())
        .take(256)
        .collect();
    scan(REPLIES, &replies, &mut clues);

    let mut score: Vec<(&'static str, u32)> = IDS
        .iter()
        .map(|(id, _)| (*id, 0))
        .filter(|(id, _)| *id != "unknown" && *id != "exchange-2007+")
        .collect();
    for c in &clues {
        for s in score.iter_mut() {
            if c.to.contains(&s.0) {
                s.1 += c.weight;
            }
        }
    }
    score.sort_by_key(|s| std::cmp::Reverse(s.1));
    let (mut top, best) = score[0];
    let second = score
        .iter()
        .skip(1)
        .find(|(id, _)| family(id) != family(top))
        .map_or(0, |s| s.1);
    // 2007–2010 and 2013+ tied: Exchange 2007 or later.
    if top.starts_with("exchange-20")
        && score
            .iter()
            .filter(|(id, s)| {
                *s == best && id.starts_with("exchange-20") && *id != "exchange-2000-2003"
            })
            .count()
            > 1
    {
        top = "exchange-2007+";
    }
    // Exchange Online only on its own evidence (its host names).
    if top == "exchange-online" && !clues.iter().any(|c| c.to == ["exchange-online"]) {
        top = "exchange-2007+";
    }
    // The Windows SMTP service is Exchange 2000/2003 only with Exchange's own keywords.
    if top == "exchange-2000-2003"
        && !clues
            .iter()
            .any(|c| c.to.contains(&"exchange-2000-2003") && !c.to.contains(&"iis-smtp"))
    {
        top = "iis-smtp";
    }
    let server = if best == 0 { "unknown" } else { top };
    let kinds = |f: &str| {
        let mut k: Vec<&str> = clues
            .iter()
            .filter(|c| c.to.iter().any(|t| family(t) == f))
            .map(|c| c.text.split(':').next().unwrap_or(""))
            .collect();
        k.dedup();
        k.len()
    };
    let confidence = if best == 0 || second * 2 >= best || (second > 0 && best < 4) {
        "low"
    } else if second > 0 || kinds(family(server)) < 2 || best < 4 {
        "medium"
    } else {
        "high"
    };
    let mut texts: Vec<String> = clues.iter().map(|c| c.text.clone()).collect();
    if second > 0 {
        let other = score
            .iter()
            .skip(1)
            .find(|(id, _)| family(id) != family(top))
            .map(|(id, _)| label(id))
            .unwrap_or_default();
        texts.push(format!("but some clues point to {other}"));
    }
    Recognition {
        server,
        label: label(server),
        version: seen.banner.first().and_then(|b| banner_version(b)),
        confidence,
        clues: texts,
    }
}

/// Exchange generations are one family for disagreement.
fn family(id: &str) -> &str {
    if id.starts_with("exchange") || id == "iis-smtp" {
        "exchange"
    } else {
        id
    }
}

fn label(id: &str) -> String {
    IDS.iter()
        .find(|(i, _)| *i == id)
        .map_or("an unrecognised server", |(_, l)| l)
        .to_string()
}

/// Does the recognised generation agree with an export's product (`5.5`, `2003`, `2016`,
/// `SE`, ...)? `None`: the recognition cannot tell (not Exchange, or unknown).
pub fn agrees_with_product(r: &Recognition, product: &str) -> Option<bool> {
    if r.confidence == "low" {
        return None;
    }
    let family: &[&str] = match r.server {
        "exchange-5.5" => &["4.0", "5.0", "5.5"],
        "exchange-2000-2003" => &["2000", "2003"],
        "exchange-2007-2010" => &["2007", "2010"],
        "exchange-2013+" => &["2013", "2016", "2019", "SE"],
        "exchange-2007+" => &["2007", "2010", "2013", "2016", "2019", "SE"],
        _ => return None,
    };
    Some(family.contains(&product))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|s| s.to_string()).collect()
    }

    fn rec(banner: &[&str], ehlo: &[&str], replies: &[(&str, &[&str])]) -> Recognition {
        let b = v(banner);
        let e = v(ehlo);
        let owned: Vec<(&str, Vec<String>)> = replies.iter().map(|(k, l)| (*k, v(l))).collect();
        let r: Vec<(&str, &[String])> = owned.iter().map(|(k, l)| (*k, l.as_slice())).collect();
        recognise(&Seen {
            banner: &b,
            ehlo: &e,
            replies: &r,
        })
    }

    /// Microsoft's Exchange 2016/2019 telnet article, word for word.
    #[test]
    fn exchange_2013_plus_from_microsofts_transcript() {
        let r = rec(
            &["220 mail1.fabrikam.com Microsoft ESMTP MAIL Service ready at Fri, 5 Aug 2016 16:24:41 -0700"],
            &["250-mail1.fabrikam.com Hello [172.16.0.5]", "250-SIZE 37748736", "250-PIPELINING", "250-DSN", "250-ENHANCEDSTATUSCODES", "250-STARTTLS", "250-X-ANONYMOUSTLS", "250-AUTH NTLM", "250-X-EXPS GSSAPI NTLM", "250-8BITMIME", "250-BINARYMIME", "250-CHUNKING", "250 XRDST"],
            &[("MAIL", &["250 2.1.0 Sender OK"]), ("RCPT", &["550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain"]), ("QUIT", &["221 2.0.0 Service closing transmission channel"])],
        );
        assert_eq!(
            (r.server, r.confidence),
            ("exchange-2013+", "high"),
            "{r:?}"
        );
        assert_eq!(agrees_with_product(&r, "2019"), Some(true));
        assert_eq!(agrees_with_product(&r, "2010"), Some(false));
    }

    /// A custom banner hides nothing the EHLO and the replies tell (OpenVAS' method).
    #[test]
    fn a_custom_banner_does_not_hide_exchange() {
        let r = rec(
            &["220 smtp.contoso.com ESMTP ready"],
            &[
                "250-smtp.contoso.com Hello [198.51.100.7]",
                "250-X-ANONYMOUSTLS",
                "250-X-EXPS GSSAPI NTLM",
                "250 XRDST",
            ],
            &[
                (
                    "RCPT",
                    &["550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain"],
                ),
                ("RSET", &["250 2.0.0 Resetting"]),
            ],
        );
        assert_eq!(r.server, "exchange-2013+", "{r:?}");
    }

    /// KB 254560's banner and 2003's EHLO keywords (technet bb124688).
    #[test]
    fn exchange_2000_2003_and_plain_iis() {
        let r = rec(
            &["220 mail.northwindtraders.com Microsoft ESMTP MAIL Service, Version: 6.0.3790.3959 ready at  Tue, 3 Mar 2009 10:12:01 +0100"],
            &["250-mail.northwindtraders.com Hello [127.0.0.1]", "250-X-EXPS GSSAPI NTLM LOGIN", "250-X-LINK2STATE", "250-XEXCH50", "250 OK"],
            &[("RCPT", &["550 5.7.1 Unable to relay for relaytest@example.net"])],
        );
        assert_eq!(
            (r.server, r.confidence),
            ("exchange-2000-2003", "high"),
            "{r:?}"
        );
        assert_eq!(r.version.as_deref(), Some("6.0.3790.3959"));
        let iis = rec(
            &["220 web01 Microsoft ESMTP MAIL Service, Version: 6.0.3790.3959 ready at  Tue, 3 Mar 2009 10:12:01 +0100"],
            &["250-web01 Hello [127.0.0.1]", "250-AUTH=LOGIN", "250 OK"],
            &[],
        );
        assert_eq!(iis.server, "iis-smtp", "{iis:?}");
    }

    /// Greenbone's banner examples and KB Q256856's refusal.
    #[test]
    fn exchange_5_5() {
        let r = rec(
            &["220 mail.contoso.com ESMTP Server (Microsoft Exchange Internet Mail Service 5.5.2653.13) ready"],
            &["250-mail.contoso.com Hello [10.0.0.9]", "250-XEXCH50", "250-HELP", "250-ETRN", "250-DSN", "250-SIZE 0", "250-AUTH LOGIN", "250 AUTH=LOGIN"],
            &[("MAIL", &["250 OK - mail from <a@example.net>; can accomodate 0 bytes"]), ("RCPT", &["550 Relaying is prohibited"])],
        );
        assert_eq!(
            (r.server, r.version.as_deref()),
            ("exchange-5.5", Some("5.5.2653.13")),
            "{r:?}"
        );
    }

    /// Postfix and Exim as they answered on loopback (PROBE.md §1.5).
    #[test]
    fn postfix_and_exim() {
        let p = rec(
            &["220 mx.example.org ESMTP Postfix"],
            &[
                "250-mx.example.org",
                "250-PIPELINING",
                "250-SIZE 10240000",
                "250-VRFY",
                "250-ETRN",
                "250-ENHANCEDSTATUSCODES",
                "250-8BITMIME",
                "250-DSN",
                "250 CHUNKING",
            ],
            &[(
                "RCPT",
                &["554 5.7.1 <relaytest@example.net>: Relay access denied"],
            )],
        );
        assert_eq!((p.server, p.confidence), ("postfix", "high"), "{p:?}");
        let e = rec(
            &["220 mx.example.org ESMTP Exim 4.96 Sun, 06 Dec 2026 15:00:46 +0000"],
            &[
                "250-mx.example.org Hello probe-x.relay-audit.invalid [127.0.0.1]",
                "250-SIZE 52428800",
                "250-PIPECONNECT",
                "250 HELP",
            ],
            &[("RCPT", &["550 relay not permitted"])],
        );
        assert_eq!(
            (e.server, e.version.as_deref()),
            ("exim", Some("4.96")),
            "{e:?}"
        );
    }

    /// The tests' Exim speaks Exchange 2013+'s exact words but keeps its EHLO: recognised as
    /// 2013+ wording, with the dissent listed and a lower confidence.
    #[test]
    fn an_imitation_is_recognised_with_doubt() {
        let r = rec(
            &["220 mx.example.org Microsoft ESMTP MAIL Service ready at Sun, 06 Dec 2026 15:00:46 +0000"],
            &["250-mx.example.org Hello probe-x.relay-audit.invalid [127.0.0.1]", "250-SIZE 52428800", "250-8BITMIME", "250-PIPELINING", "250-PIPECONNECT", "250-CHUNKING", "250 HELP"],
            &[("MAIL", &["250 OK"]), ("RCPT", &["550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain"])],
        );
        assert_eq!(r.server, "exchange-2013+", "{r:?}");
        assert_ne!(r.confidence, "high");
        assert!(r.clues.iter().any(|c| c.contains("Exim")), "{r:?}");
    }

    #[test]
    fn a_firewall_fixup_and_silence() {
        let r = rec(&["220 ****************************"], &[], &[]);
        assert_eq!(r.server, "filtering-device");
        let u = rec(&[], &[], &[]);
        assert_eq!((u.server, u.confidence), ("unknown", "low"));
        assert_eq!(agrees_with_product(&u, "2019"), None);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_lines_never_panic(
            banner in proptest::collection::vec(".{0,700}", 0..3),
            ehlo in proptest::collection::vec(".{0,700}", 0..5),
            reply in proptest::collection::vec(".{0,700}", 0..5),
        ) {
            let r: Vec<(&str, &[String])> = vec![("RCPT", reply.as_slice())];
            let got = recognise(&Seen { banner: &banner, ehlo: &ehlo, replies: &r });
            proptest::prop_assert!(IDS.iter().any(|(id, _)| *id == got.server));
        }
    }
}
