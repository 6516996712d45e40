//! Which SMTP server answered a live probe, from what the session saw, and how sure that is.
//!
//! Takes a [`Seen`] (the 220 greeting, the last EHLO reply and the replies to MAIL, RCPT, RSET,
//! QUIT, ... in order) and returns a [`Recognition`]: a stable server id ("exchange-2013+",
//! "postfix", "filtering-device", ...), a label, the version the banner carries, a confidence and
//! the clues that led there. [`agrees_with_product`] compares that with an export's product.
//! Pure: no I/O, no clock; bounded work on hostile input (each line is read up to 512 bytes, at
//! most 64 lines per part, 256 replies of 16 lines each; at most 24 clues come out).
//!
//! Terms. A *clue* is one observation and the set of servers it fits. An *identity* clue is
//! wording chosen on purpose: the banner's product string, the text of a relay or AUTH refusal.
//! A *fingerprint* is how an implementation speaks anyway: the EHLO greeting form, private EHLO
//! keywords, the wording of plain OK replies. Identity clues that agree decide the server;
//! fingerprints choose among what they allow (the Exchange generation) and set the confidence.
//! Identity clues that disagree (Postfix with Exchange's banner but its own "Recipient address
//! rejected:" prefix) leave all clues to be weighed together. So an Exim that gives Exchange
//! 2013's exact banner and relay text is recognised as Exchange 2013+ *wording*, with confidence
//! "low" and a clue saying its EHLO and OK replies are Exim's.
//!
//! It decides no relay verdict, and it cannot see through a proxy that rewrites the dialogue:
//! then it answers "filtering-device", with what the rest of the dialogue suggests in `behind`.
//!
//! Sources (the rule table in `recognise/rules.rs` cites these keys; the fixtures in
//! `recognise/tests.rs` quote their own):
//! * \[m\] Microsoft, "Use Telnet to test SMTP communication on Exchange servers" (2019),
//!   <https://learn.microsoft.com/en-us/exchange/mail-flow/test-smtp-telnet?view=exchserver-2019>
//!   (also MicrosoftDocs/SupportArticles-docs `Exchange/ExchangeServer/mail-flow/test-smtp-with-telnet.md`).
//! * \[kb2866822\] Microsoft KB 2866822 (Exchange 2013/2016 EHLO with `XEXCH50`, `XRDST`,
//!   `XSHADOWREQUEST`), MicrosoftDocs/SupportArticles-docs, "Event 7009 when users try to send or
//!   receive email in Exchange Server 2013 or Exchange Server 2016".
//! * \[rabbit\] Exchange 2010 EHLO (`X-ANONYMOUSTLS`, `XEXCH50`, `XRDST`, `XSHADOW`), nmap output in
//!   <https://0xdf.gitlab.io/2022/04/28/htb-rabbit.html> (the host runs Exchange 2010).
//! * \[shadow\] Exchange 2010 advertises shadow redundancy as `XSHADOW`:
//!   <https://www.red-gate.com/simple-talk/sysadmin/exchange/extending-exchange-2010-shadow-redundancy-cross-forest/>;
//!   Microsoft's "Shadow redundancy in Exchange Server": "Exchange 2010 servers used the XSHADOW verb".
//! * \[p2003\] Exchange 2003 (IIS SMTP 6.0.3790.4675) swaks session, <https://pastebin.com/z74qCAdQ>;
//!   \[uf2011\] the same build refusing relay (`550 5.7.1 Unable to relay for ...`), Ubuntu Forums
//!   thread "Mail Server issues: 554 relay access denied", 2011-09 (stored copy, no URL kept).
//! * \[kbehlo\] Exchange 2000/2003 EHLO list and "if the following command verbs ... are not present,
//!   the association of the Exchange ... computer to the SMTP service is damaged" (a Microsoft KB
//!   quoted at <http://linux.ittoolbox.com/groups/technical-functional/linuxadmin-l/sendmail-check-rulesets-1938880>).
//! * \[iis\] IIS SMTP without Exchange: Windows Server 2019 (10.0.17763.1697) sessions in public
//!   PEN-200 lab notes (no canonical URL), Windows 2008 R2 (7.5.7601.17514) in a public note.
//! * \[q262945\] Exchange 5.5 IMS SMTP log, KB Q262945 (`jeffpar/kbarchive` `kb/262/Q262945`);
//!   \[xog05029\] Exchange 5.5 SP1 help, "How ESMTP Works" ("supports the following extensions").
//! * \[probe\] `shared/PROBE.md` §3, whose keys \[a\]..\[p\] are used as they are there (5.5 banners,
//!   `550 Relaying is prohibited`, `550 5.7.1 Unable to relay for`, 2007/2010 `550 5.7.1 Unable to
//!   relay`, 2013+ `5.7.54`, OpenVAS' `Resetting` / `Service closing transmission channel`), and §1.5
//!   (Postfix, Exim, OpenSMTPD replies measured on loopback).
//! * \[nmap\] `nmap-service-probes` (nmap 7.93, `$Id: 38429 2022-08-30`), the `match smtp` lines for
//!   Microsoft ESMTP, Exim, Postfix, Sendmail, OpenSMTPD, Cisco PIX, IronPort, Barracuda, FortiMail,
//!   Check Point, Symantec, Trend Micro, SonicWALL.
//! * \[gb\] Greenbone VT 1.3.6.1.4.1.25623.1.0.10263 "SMTP Server type and version" (Barracuda,
//!   Sophos Email Appliance, OpenSMTPD banner examples).
//! * \[pix\] Microsoft KB 320027 "Cannot send or receive e-mail messages behind a Cisco PIX
//!   firewall" (EHLO gets "Command unrecognized" or "OK") and
//!   <https://support.appriver.com/kb/a238/cisco-pix-asa-mailguard.aspx> (banner turned into `*`
//!   except `2` and `0`).
//! * \[esa\] Cisco IronPort AsyncOS 7.1 Advanced Configuration Guide: reply texts `#5.7.1 ...`.
//! * \[exo\] Exchange Online: <https://github.com/nette/mail/issues/71> (banner, EHLO, QUIT, 2020);
//!   MicrosoftDocs/SupportArticles-docs `Exchange/ExchangeOnline/email-delivery/ndr/non-delivery-reports-in-exchange-online.md`
//!   (`5.7.64 TenantAttribution; Relay Access Denied`, `5.7.606-649 Access denied, banned sending
//!   IP`, `5.4.1 Relay Access Denied`, `5.7.1 Unable to relay`).
//! * \[exim\] Exim `smtp_in.c` (`250 Reset OK`, `221 %s closing connection`); Exim 4.96 and
//!   \[postfix\] Postfix 3.7.11 measured here with the PROBE.md configurations and swaks;
//!   \[sendmail\] <https://uple.net/tag/Sendmail?page=2>; \[opensmtpd\] OpenSMTPD `smtp_session.c`
//!   ("250-%s Hello %s [%s], pleased to meet you").

use serde::Serialize;

/// What the session saw, in order. Lines are raw reply lines ("250-SIZE 37748736").
pub struct Seen<'a> {
    /// The 220 greeting lines.
    pub banner: &'a [String],
    /// The EHLO reply lines (last EHLO, after STARTTLS if any).
    pub ehlo: &'a [String],
    /// (verb "MAIL"|"RCPT"|"RSET"|"QUIT"|"STARTTLS"|"AUTH"|"HELO", reply lines)
    pub replies: &'a [(&'a str, &'a [String])],
}

/// Which server answered, and how sure that is.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Recognition {
    /// stable id: "exchange-5.5", "exchange-2000-2003", "exchange-2007-2010", "exchange-2013+",
    /// "exchange-online", "exchange" (Exchange, generation unknown), "iis-smtp", "postfix",
    /// "exim", "sendmail", "opensmtpd", "filtering-device" (a proxy/firewall rewriting the
    /// dialogue), "unknown"
    pub server: &'static str,
    /// Human label, e.g. "Exchange Server 2013, 2016, 2019 or SE"
    pub label: String,
    /// A version string when the banner carries one (e.g. "5.5.2653.13", "6.0.3790.3959", "4.96").
    pub version: Option<String>,
    /// "high" (several independent clues agree), "medium" (one strong clue, e.g. the banner),
    /// "low" (weak or contradictory clues)
    pub confidence: &'static str,
    /// Each clue that led there, e.g. "banner: '...' (Exchange 2007+ default banner)".
    pub clues: Vec<String>,
    /// The export products ("5.5", "2003", "2016", ...) the evidence allows; empty when the
    /// server is not an on-premises Exchange.
    pub products: Vec<&'static str>,
    /// For "filtering-device": the server the rest of the dialogue suggests behind it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behind: Option<&'static str>,
}

/// Every export product, oldest first.
pub const PRODUCTS: [&str; 11] = [
    "4.0", "5.0", "5.5", "2000", "2003", "2007", "2010", "2013", "2016", "2019", "SE",
];

/// Does the recognised generation agree with an export's product? Products as strings: "4.0",
/// "5.0", "5.5", "2000", "2003", "2007", "2010", "2013", "2016", "2019", "SE". None = cannot
/// tell (unknown / non-Exchange / every generation still possible, or an unknown product).
/// Exchange Online never agrees: an export comes from an on-premises server, so the probe
/// reached Microsoft's cloud (an MX pointing there), not that server.
pub fn agrees_with_product(r: &Recognition, product: &str) -> Option<bool> {
    let wanted = product.split_whitespace().last()?;
    let p = PRODUCTS
        .iter()
        .copied()
        .find(|p| p.eq_ignore_ascii_case(wanted))?;
    if r.server == "exchange-online" {
        return Some(false);
    }
    if r.products.is_empty() || r.products.len() == PRODUCTS.len() {
        return None;
    }
    Some(r.products.contains(&p))
}

const MAX_LINE: usize = 512;
const MAX_LINES: usize = 64;
const MAX_REPLIES: usize = 256;
const MAX_REPLY_LINES: usize = 16;
const MAX_CLUES: usize = 24;
/// Clues from the dialogue; the rest of MAX_CLUES is left for the summary clues.
const MAX_FOUND: usize = MAX_CLUES - 3;
const MAX_QUOTE: usize = 72;

#[rustfmt::skip]
mod rules;
use rules::*;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Banner,
    Ehlo,
    Reply,
}

/// One observation: the rule it fired and where.
struct Clue {
    rule: Rule,
    part: Part,
    text: String,
    version: Option<String>,
    device: Option<&'static str>,
}

#[derive(Default)]
struct Clues(Vec<Clue>);

impl Clues {
    /// Records a rule firing, once per rule key; returns the new clue to attach details to.
    fn add(&mut self, rule: Rule, part: Part, place: &str, seen: &str) -> Option<&mut Clue> {
        if self.0.len() >= MAX_FOUND || self.0.iter().any(|c| c.rule.key == rule.key) {
            return None;
        }
        let text = format!("{place}: '{}' ({})", quote(seen), rule.means);
        self.0.push(Clue {
            rule,
            part,
            text,
            version: None,
            device: None,
        });
        self.0.last_mut()
    }
}

/// Says which server answered, from what the session saw, and how sure that is.
pub fn recognise(seen: &Seen<'_>) -> Recognition {
    let mut clues = Clues::default();
    let device_banner = read_banner(&mut clues, seen.banner);
    read_ehlo(&mut clues, seen.ehlo, device_banner);
    read_replies(&mut clues, seen.replies);
    conclude(&clues.0, seen.banner)
}

fn read_banner(c: &mut Clues, banner: &[String]) -> bool {
    let mut device = false;
    for line in banner.iter().take(MAX_LINES) {
        let (code, text) = split_code(line);
        let low = text.to_ascii_lowercase();
        if let Some((name, version)) = device_banner(code, text, &low) {
            device = true;
            if let Some(clue) = c.add(B_DEVICE, Part::Banner, "banner", text) {
                clue.text = format!("banner: '{}' ({name})", quote(text));
                clue.device = Some(name);
                clue.version = version;
            }
        }
        let (rule, version) = if low.contains("internet mail service") && low.contains("exchange") {
            let v = version_after(text, &low, "internet mail service");
            let rule = match v.as_deref() {
                Some(v) if v.starts_with("5.5") => B_IMS55,
                Some(v) if v.starts_with("5.0") || v.starts_with("4.0") => B_IMS50,
                _ => B_IMS,
            };
            (rule, v)
        } else if low.contains("microsoft esmtp mail service, version:") {
            let v = version_after(text, &low, "version:");
            let major = v
                .as_deref()
                .and_then(|v| v.split('.').next())
                .and_then(|m| m.parse::<u32>().ok());
            let rule = match (&v, major) {
                (Some(v), _) if v.starts_with("6.0.3790") => B_IIS2003,
                (_, Some(m)) if m >= 7 => B_IIS2008,
                _ => B_IIS,
            };
            (rule, v)
        } else if low.contains("microsoft smtp mail") && low.contains("version:") {
            (B_IIS_OLD, version_after(text, &low, "version:"))
        } else if low.contains("microsoft esmtp mail service") {
            let host = low.split_whitespace().next().unwrap_or("");
            (if is_exo_host(host) { B_EXO } else { B_MS }, None)
        } else if let Some(i) = word(&low, "exim") {
            (B_EXIM, version_after(text, &low[..i + 4], "exim"))
        } else if low.contains("postfix") {
            (B_POSTFIX, version_after(text, &low, "postfix ("))
        } else if let Some(i) = word(&low, "sendmail") {
            (B_SENDMAIL, version_after(text, &low[..i + 8], "sendmail"))
        } else if low.contains("opensmtpd") {
            (B_OPENSMTPD, None)
        } else if low.contains("microsoft exchange") || low.contains("exchange server") {
            (B_EXCH_WORD, None)
        } else {
            continue;
        };
        if let Some(clue) = c.add(rule, Part::Banner, "banner", text) {
            clue.version = version;
        }
    }
    device
}

/// A filtering device recognised from a banner line: its name and version.
fn device_banner(
    code: Option<u16>,
    text: &str,
    low: &str,
) -> Option<(&'static str, Option<String>)> {
    // Cisco PIX/ASA mailguard: every character but '2', '0' (and spaces) turned into '*' [pix]
    // [nmap: `^220 [\*\d\ ]{2,300}\r\n`]; early PIX said "SMTP/cmap" (Exchange help, "Mail flow
    // issues behind a Cisco PIX firewall").
    let stars = text.bytes().filter(|b| *b == b'*').count();
    if stars >= 4
        && stars * 2 >= text.len()
        && text
            .bytes()
            .all(|b| b == b'*' || b == b' ' || b.is_ascii_digit())
    {
        return Some((
            "Cisco PIX/ASA SMTP inspection (mailguard) masking the banner",
            None,
        ));
    }
    if low.contains("smtp/cmap") {
        return Some(("Cisco PIX mailguard (early version)", None));
    }
    // Barracuda: "ESMTP (" + 32 hex digits + ")" [nmap][gb].
    if let Some(i) = low.find("esmtp (") {
        let rest = &low.as_bytes()[i + 7..];
        if rest.len() > 32 && rest[..32].iter().all(u8::is_ascii_hexdigit) && rest[32] == b')' {
            return Some(("Barracuda Email Security Gateway", None));
        }
    }
    if low.contains("asyncos")
        || (code == Some(554) && low.contains("your access to this mail system has been rejected"))
    {
        return Some(("Cisco ESA (IronPort)", None));
    }
    let named: [(&str, &'static str); 8] = [
        ("esmtp smtpd;", "Fortinet FortiMail"),
        ("sophos email appliance", "Sophos Email Appliance"),
        (
            "checkpoint firewall-1",
            "Check Point FireWall-1 SMTP security server",
        ),
        ("symantec messaging gateway", "Symantec Messaging Gateway"),
        ("symantec brightmail", "Symantec Brightmail Gateway"),
        ("interscan", "Trend Micro InterScan"),
        ("imsva", "Trend Micro IMSVA"),
        ("sonicwall", "SonicWall Email Security"),
    ];
    let &(needle, name) = named.iter().find(|(needle, _)| low.contains(needle))?;
    let version = if needle == "sophos email appliance" {
        version_after(text, low, "appliance v")
    } else {
        None
    };
    Some((name, version))
}

fn read_ehlo(c: &mut Clues, ehlo: &[String], device_banner: bool) {
    let Some(first) = ehlo.first() else { return };
    let (code, greeting) = split_code(first);
    if code != Some(250) {
        if device_banner {
            c.add(H_DEVICE, Part::Ehlo, "EHLO", greeting);
        }
        return;
    }
    read_greeting(c, greeting, "EHLO");
    let (mut link2state, mut xexch50, mut xexps, mut xrdst, mut shadow, mut iis) =
        (false, false, false, false, false, false);
    let mut last_ok = false;
    for line in ehlo.iter().skip(1).take(MAX_LINES) {
        let (_, text) = split_code(line);
        let keyword = text
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        last_ok = keyword == "OK";
        let rule = match keyword.as_str() {
            "X-LINK2STATE" => {
                link2state = true;
                K_LINK2STATE
            }
            "XEXCH50" => {
                xexch50 = true;
                K_XEXCH50
            }
            k if k.starts_with("X-EXPS") => {
                xexps = true;
                K_XEXPS
            }
            "X-ANONYMOUSTLS" => K_ANONTLS,
            "XRDST" => {
                xrdst = true;
                K_XRDST
            }
            "XSHADOW" => {
                shadow = true;
                K_XSHADOW
            }
            "XSHADOWREQUEST" => {
                shadow = true;
                K_XSHADOWREQ
            }
            "X-EXCHANGEAUTH" | "XOORG" | "XPROXY" | "XPROXYFROM" | "XPROXYTO" => K_XPRIVATE,
            "PIPECONNECT" | "X_PIPE_CONNECT" => K_PIPECONNECT,
            "TURN" | "ATRN" => {
                iis = true;
                continue;
            }
            _ => continue,
        };
        c.add(rule, Part::Ehlo, "EHLO", &keyword);
    }
    if iis || last_ok {
        c.add(
            K_IIS,
            Part::Ehlo,
            "EHLO",
            if iis { "TURN/ATRN" } else { "OK" },
        );
        if !(link2state || xexch50 || xexps) {
            c.add(
                K_IIS_ONLY,
                Part::Ehlo,
                "EHLO",
                "no X-EXPS, X-LINK2STATE, XEXCH50",
            );
        }
    }
    if xrdst && !xexch50 && !shadow {
        c.add(K_FE2013, Part::Ehlo, "EHLO", "XRDST, no XEXCH50");
    }
}

/// The first line of a 250 reply to EHLO (or HELO): "host Hello [ip]" is Microsoft's form.
fn read_greeting(c: &mut Clues, greeting: &str, place: &str) {
    let low = greeting.to_ascii_lowercase();
    let host = low.split_whitespace().next().unwrap_or("");
    if low.contains("supports the following extensions") {
        c.add(H_IMS, Part::Ehlo, place, greeting);
    } else if low.contains("pleased to meet you") {
        c.add(H_PLEASED, Part::Ehlo, place, greeting);
    } else if let Some(i) = low.find("hello ") {
        let after = &low[i + 6..];
        // An IP-literal EHLO name makes Exim say "Hello [ip] [ip]": two bracket groups.
        if after.starts_with('[') && !after.contains("] [") {
            c.add(H_BRACKET, Part::Ehlo, place, greeting);
        } else if after.contains(" [") {
            c.add(H_EXIM, Part::Ehlo, place, greeting);
        }
    } else if !low.is_empty() && !low.contains(char::is_whitespace) {
        c.add(H_BARE, Part::Ehlo, place, greeting);
    }
    if is_exo_host(host) {
        c.add(H_EXO, Part::Ehlo, place, greeting);
    }
}

fn read_replies(c: &mut Clues, replies: &[(&str, &[String])]) {
    for (verb, lines) in replies.iter().take(MAX_REPLIES) {
        let verb: String = verb
            .chars()
            .take(12)
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_uppercase();
        let place = if verb.is_empty() {
            "reply"
        } else {
            verb.as_str()
        };
        let mut code = None;
        let mut text = String::new();
        for (i, line) in lines.iter().take(MAX_REPLY_LINES).enumerate() {
            let (line_code, t) = split_code(line);
            if i == 0 {
                code = line_code;
            } else if text.len() >= 2 * MAX_LINE {
                break;
            } else {
                text.push(' ');
            }
            text.push_str(t);
        }
        if place == "HELO" && code == Some(250) {
            read_greeting(c, &text, place);
        }
        read_reply(c, place, code, &text);
    }
}

fn read_reply(c: &mut Clues, verb: &str, code: Option<u16>, text: &str) {
    let low = text.to_ascii_lowercase();
    let low = low.as_str();
    let shown = match code {
        Some(code) => format!("{code} {text}"),
        None => text.to_string(),
    };
    let add = |c: &mut Clues, rule: Rule| {
        c.add(rule, Part::Reply, verb, &shown);
    };
    // Any verb.
    if low.starts_with("#4.") || low.starts_with("#5.") {
        add(c, R_ESA);
    }
    if low.contains("5.7.64 tenantattribution")
        || low.contains("access denied, banned sending ip")
        || low.contains("5.4.1 relay access denied")
    {
        add(c, R_EXO_DENY);
    }
    if low.contains(".outlook.com]") || low.contains("protection.outlook.com") {
        add(c, R_EXO_HOST);
    }
    if [
        ">: recipient address rejected:",
        ">: sender address rejected:",
        ">: relay access denied",
    ]
    .iter()
    .any(|p| low.contains(p))
    {
        add(c, R_POSTFIX);
    }
    const RELAY_2013: &str = "5.7.54 smtp; unable to relay recipient in non-accepted domain";
    if low == RELAY_2013 {
        add(c, R_2013_RELAY);
    } else if low.contains(RELAY_2013) {
        add(c, R_2013_INSIDE);
    }
    if code == Some(530) && low == "5.7.1 client was not authenticated" {
        add(c, R_NOAUTH);
    } else if low.contains("client was not authenticated") {
        add(c, R_NOAUTH_INSIDE);
    }
    if low.contains("... relaying denied") {
        add(c, R_SENDMAIL);
    }
    // "... " with a space: IIS says "<addr>....Sender OK", no space.
    if low.contains("... sender ok") || low.contains("... recipient ok") {
        add(c, R_SENDMAIL_OK);
    }
    if low.contains("destination address valid") || low.starts_with("invalid recipient: <") {
        add(c, R_OPENSMTPD);
    }
    if low == "2.0.0 smtp server ready" {
        add(c, R_MS_TLS);
    }
    match verb {
        "MAIL" => {
            if low.starts_with("ok - mail from") || low.contains("can accomodate") {
                add(c, R_IMS_MAIL);
            } else if low == "2.1.0 sender ok" {
                add(c, R_SENDER_OK);
            } else if low.contains("....sender ok") {
                add(c, R_IIS_SENDER);
            } else if low == "2.1.0 ok" {
                add(c, R_POSTFIX_OK);
            } else if low == "2.0.0 ok" {
                add(c, R_OPENSMTPD_OK);
            } else if low == "ok" && code == Some(250) {
                add(c, R_EXIM_OK);
            }
        }
        "RCPT" => {
            if low.contains("relaying is prohibited") {
                add(c, R_IMS_RELAY);
            } else if low.starts_with("ok - recipient") {
                add(c, R_IMS_RCPT);
            } else if low.starts_with("5.7.1 unable to relay for ") {
                add(c, R_IIS_RELAY);
            } else if low == "5.7.1 unable to relay" {
                add(c, R_2007_RELAY);
            } else if low == "2.1.5 recipient ok" {
                add(c, R_RCPT_OK);
            } else if low == "relay not permitted" {
                add(c, R_EXIM_RELAY);
            } else if low == "accepted" && code == Some(250) {
                add(c, R_EXIM_OK);
            } else if low == "2.1.5 ok" {
                add(c, R_POSTFIX_OK);
            } else if let Some(addr) = low.strip_prefix("2.1.5 ") {
                if code == Some(250)
                    && addr.contains('@')
                    && !addr.contains(char::is_whitespace)
                    && !addr.contains("...")
                {
                    add(c, R_IIS_RCPT);
                }
            }
        }
        "RSET" => match low {
            "2.0.0 resetting" => add(c, R_RESETTING),
            "reset ok" => add(c, R_EXIM_RSET),
            "2.0.0 ok" => add(c, R_POSTFIX_OK),
            "2.0.0 reset state" => add(c, R_RESET_STATE),
            _ => {}
        },
        "QUIT" => {
            if low == "2.0.0 service closing transmission channel" {
                add(c, R_QUIT_2007);
            } else if low.starts_with("2.0.0 ")
                && low.ends_with(" service closing transmission channel")
            {
                add(c, R_IIS_QUIT);
            } else if low == "closing connection" {
                add(c, R_IMS_QUIT);
            } else if low.ends_with(" closing connection") && !low.starts_with("2.") {
                add(c, R_EXIM_QUIT);
            } else if low == "2.0.0 bye" {
                add(c, R_BYE);
            }
        }
        _ => {}
    }
}

/// Which servers the clues fit best: every bit with the top score, among those the identity
/// clues all allow (or among all when they contradict each other).
fn winners<'a>(clues: impl Iterator<Item = &'a Clue> + Clone) -> Mask {
    let allowed = clues
        .clone()
        .filter(|c| c.rule.identity)
        .fold(ALL, |m, c| m & c.rule.mask);
    let allowed = if allowed == 0 { ALL } else { allowed };
    let (mut best, mut set) = (0u32, 0);
    for bit in (0..BITS).map(|b| 1 << b).filter(|b| allowed & b != 0) {
        let score: u32 = clues
            .clone()
            .filter(|c| c.rule.mask & bit != 0)
            .map(|c| u32::from(c.rule.weight))
            .sum();
        if score > best {
            (best, set) = (score, bit);
        } else if score == best && score > 0 {
            set |= bit;
        }
    }
    set
}

fn server_of(w: Mask) -> &'static str {
    let (ex, other) = (w & EXCHANGE, w & !EXCHANGE);
    match (ex, other) {
        (0, 0) => "unknown",
        (ex, 0) if ex & !IMS == 0 => "exchange-5.5",
        (ex, 0) if ex & !E2K == 0 => "exchange-2000-2003",
        (ex, 0) if ex & !E2K7 == 0 => "exchange-2007-2010",
        (E2013, 0) => "exchange-2013+",
        (EXO, 0) => "exchange-online",
        (_, 0) => "exchange",
        (ex, IIS) if ex & !E2K == 0 => "iis-smtp",
        (0, POSTFIX) => "postfix",
        (0, EXIM) => "exim",
        (0, SENDMAIL) => "sendmail",
        (0, OPENSMTPD) => "opensmtpd",
        _ => "unknown",
    }
}

fn conclude(clues: &[Clue], banner: &[String]) -> Recognition {
    let device = clues
        .iter()
        .find(|c| c.rule.identity && c.rule.mask & DEVICE != 0);
    let (server, w, behind) = match device {
        Some(_) => {
            let rest = server_of(winners(clues.iter().filter(|c| c.rule.mask & DEVICE == 0)));
            (
                "filtering-device",
                DEVICE,
                Some(rest).filter(|s| *s != "unknown"),
            )
        }
        None => {
            let w = winners(clues.iter());
            (server_of(w), w, None)
        }
    };
    // For a device, what is behind it explains the other clues: only the device's own count.
    let relevant = |c: &&Clue| device.is_none() || c.rule.mask & DEVICE != 0;
    let (mut support, mut contra, mut parts) = (0u16, 0u16, Vec::new());
    let mut others: Vec<&str> = Vec::new();
    for c in clues.iter().filter(relevant) {
        if server != "unknown" && c.rule.mask & w != 0 {
            support += c.rule.weight;
            if !parts.contains(&c.part) {
                parts.push(c.part);
            }
        } else {
            contra += c.rule.weight;
            if !others.contains(&c.rule.who) {
                others.push(c.rule.who);
            }
        }
    }
    let confidence = if server == "unknown" || contra >= 3 {
        "low"
    } else if contra == 0 && parts.len() >= 2 && support >= 6 {
        "high"
    } else if support >= 3 {
        "medium"
    } else {
        "low"
    };
    let products = if server.starts_with("exchange") {
        products_of(w)
    } else {
        Vec::new()
    };
    let label = label_of(server, &products, device.and_then(|d| d.device));
    let version = clues
        .iter()
        .filter(|c| c.rule.mask & w != 0)
        .find_map(|c| c.version.clone());
    let mut out: Vec<String> = clues.iter().map(|c| c.text.clone()).collect();
    if server != "unknown" && !others.is_empty() {
        let n = clues
            .iter()
            .filter(relevant)
            .filter(|c| c.rule.mask & w == 0)
            .count();
        out.push(format!(
            "conflict: {n} clue(s) point to {} instead of {label}; another server may be imitating this wording",
            others.join(", ")
        ));
    }
    if server == "iis-smtp" && w & E2K != 0 {
        out.push("tie: Exchange 2000/2003 answer through this same IIS SMTP service; no EHLO verb (X-EXPS, X-LINK2STATE, XEXCH50) told them apart".into());
    }
    if server == "unknown" && w != 0 {
        out.push("tie: the clues fit several servers equally".into());
    }
    if clues.is_empty() {
        out.push(match banner.first() {
            Some(line) => format!(
                "banner: '{}' matches no known product wording",
                quote(split_code(line).1)
            ),
            None => "no banner was seen".into(),
        });
    }
    out.truncate(MAX_CLUES);
    Recognition {
        server,
        label,
        version,
        confidence,
        clues: out,
        products,
        behind,
    }
}

fn products_of(w: Mask) -> Vec<&'static str> {
    let table: [(Mask, &[&'static str]); 7] = [
        (E50, &["4.0", "5.0"]),
        (E55, &["5.5"]),
        (E2000, &["2000"]),
        (E2003, &["2003"]),
        (E2007, &["2007"]),
        (E2010, &["2010"]),
        (E2013, &["2013", "2016", "2019", "SE"]),
    ];
    table
        .iter()
        .filter(|(bit, _)| w & bit != 0)
        .flat_map(|(_, p)| p.iter().copied())
        .collect()
}

fn label_of(server: &str, products: &[&str], device: Option<&str>) -> String {
    let list = join_or(products);
    match server {
        "exchange-5.5" => format!("Exchange Server {list} (Internet Mail Service)"),
        "exchange-2000-2003" => format!("Exchange Server {list} (on the Windows IIS SMTP service)"),
        "exchange-2007-2010" | "exchange-2013+" => format!("Exchange Server {list}"),
        "exchange-online" => "Exchange Online (Microsoft 365)".into(),
        "exchange" => format!("Exchange Server, generation unknown ({list})"),
        "iis-smtp" => "Windows IIS SMTP service".into(),
        "postfix" => "Postfix".into(),
        "exim" => "Exim".into(),
        "sendmail" => "Sendmail".into(),
        "opensmtpd" => "OpenSMTPD".into(),
        "filtering-device" => device.unwrap_or("filtering device").into(),
        _ => "Unrecognised SMTP server".into(),
    }
}

/// "2013, 2016, 2019 or SE"
fn join_or(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).into(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

fn is_exo_host(host: &str) -> bool {
    host.trim_end_matches(['.', ']']).ends_with(".outlook.com")
}

/// The first MAX_LINE bytes of a line, cut at a character boundary.
fn capped(line: &str) -> &str {
    if line.len() <= MAX_LINE {
        return line;
    }
    let mut end = MAX_LINE;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}

/// A reply line as its code and text: "250-SIZE 1" is (Some(250), "SIZE 1").
fn split_code(line: &str) -> (Option<u16>, &str) {
    let line = capped(line);
    let b = line.as_bytes();
    if b.len() >= 3
        && b[..3].iter().all(u8::is_ascii_digit)
        && b.get(3)
            .is_none_or(|c| matches!(c, b' ' | b'-') || !c.is_ascii_digit())
    {
        let code = b[..3]
            .iter()
            .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
        let rest = &line[3..];
        (
            Some(code),
            rest.strip_prefix(['-', ' ']).unwrap_or(rest).trim(),
        )
    } else {
        (None, line.trim())
    }
}

/// Where `name` stands as a word in `low`.
fn word(low: &str, name: &str) -> Option<usize> {
    low.match_indices(name).map(|(i, _)| i).find(|&i| {
        let before = low[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        let after = low[i + name.len()..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        before && after
    })
}

/// The version token after the last `needle` in `low` (its lowercase copy, same byte offsets).
fn version_after(text: &str, low: &str, needle: &str) -> Option<String> {
    let at = low.rfind(needle)? + needle.len();
    let rest = text.get(at..)?.trim_start();
    let v: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "._+/-".contains(*c))
        .take(40)
        .collect();
    v.starts_with(|c: char| c.is_ascii_digit()).then_some(v)
}

/// A line as it may be shown: control characters replaced, at most MAX_QUOTE characters.
fn quote(s: &str) -> String {
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i == MAX_QUOTE {
            out.push('…');
            break;
        }
        out.push(if ch.is_control() { '?' } else { ch });
    }
    out
}

#[cfg(test)]
mod tests;
