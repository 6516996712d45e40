//! From replies to verdicts, per form and overall. An error, a time-out or a dropped
//! connection is never a pass.

use super::forms::{Destination, Form};
use super::session::Reply;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// 2xx at RCPT for a recipient in the foreign domain: the server relays.
    Open,
    /// 530 (at MAIL or RCPT): the server wants authentication first; or, with `--auth-user`,
    /// it refused anonymously and relayed once authenticated.
    AuthRequired,
    /// 5xx at MAIL or RCPT (other than 530, 501, 553).
    Refused,
    /// 2xx for a recipient that is the server's own (percent hack, quoted local part,
    /// `!` path, or an echo rewritten into its domain): not relay (KB Q304897).
    AcceptedAsLocal,
    /// 501/553/555: the server does not take this address form.
    NotApplicable,
    /// 4xx, a time-out, a dropped connection or a garbled reply: no answer either way.
    Inconclusive,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Open => "open",
            Verdict::AuthRequired => "auth-required",
            Verdict::Refused => "refused",
            Verdict::AcceptedAsLocal => "accepted-as-local",
            Verdict::NotApplicable => "not-applicable",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// The verdict on one form from the MAIL reply and, when MAIL was accepted, the RCPT reply.
/// `own` lists the server's own names (banner host, EHLO host, the IP literal) that an echoed
/// recipient may have been rewritten into.
pub fn classify(form: &Form, mail: &Reply, rcpt: Option<&Reply>, own: &[String]) -> Verdict {
    match mail.code {
        530 => return Verdict::AuthRequired,
        501 | 553 | 555 => return Verdict::NotApplicable,
        c if c / 100 == 5 => return Verdict::Refused,
        c if c / 100 != 2 => return Verdict::Inconclusive,
        _ => {}
    }
    let Some(r) = rcpt else {
        return Verdict::Inconclusive;
    };
    match r.code {
        250 | 251 => {
            if form.destination == Destination::Server || rewritten_local(r, own) {
                Verdict::AcceptedAsLocal
            } else {
                Verdict::Open
            }
        }
        530 => Verdict::AuthRequired,
        501 | 553 | 555 => Verdict::NotApplicable,
        c if c / 100 == 5 => Verdict::Refused,
        _ => Verdict::Inconclusive,
    }
}

/// Did the server echo the recipient rewritten into one of its own domains
/// (`250 2.1.5 relaytest%contoso.net@northwindtraders.com`)? Only an echo that ends in `@own`
/// and still carries the foreign address inside counts.
pub fn rewritten_local(r: &Reply, own: &[String]) -> bool {
    let text = r.text().to_ascii_lowercase();
    for word in text.split_whitespace() {
        let w = word.trim_matches(|c| matches!(c, '<' | '>' | ',' | ';' | ':' | '.'));
        let Some((local, domain)) = w.rsplit_once('@') else {
            continue;
        };
        let inner = local.contains('%') || local.contains('@') || local.contains('"');
        if inner
            && own
                .iter()
                .any(|o| !o.is_empty() && domain.eq_ignore_ascii_case(o.trim_end_matches('.')))
        {
            return true;
        }
    }
    false
}

/// The overall verdict. `anonymous` are the form verdicts of the anonymous pass; `authed`
/// those of the authenticated pass (empty without `--auth-user`).
pub fn overall(anonymous: &[(bool, Verdict)], authed: &[(bool, Verdict)]) -> Verdict {
    let any = |v: Verdict| anonymous.iter().any(|(_, x)| *x == v);
    if any(Verdict::Open) {
        return Verdict::Open;
    }
    if any(Verdict::AuthRequired) || authed.iter().any(|(_, x)| *x == Verdict::Open) {
        return Verdict::AuthRequired;
    }
    if any(Verdict::Refused) {
        return Verdict::Refused;
    }
    if any(Verdict::AcceptedAsLocal) {
        return Verdict::AcceptedAsLocal;
    }
    Verdict::Inconclusive
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::forms::{all, Parts};

    fn forms() -> Vec<Form> {
        all(&Parts {
            sender_local: "p",
            sender_domain: "example.net",
            from: None,
            rcpt_local: "relaytest",
            domain: "example.net",
            srv: "mail.northwindtraders.com",
            ip: "192.0.2.10".parse().unwrap(),
        })
    }

    fn reply(line: &str) -> Reply {
        Reply {
            code: line[..3].parse().unwrap(),
            lines: vec![line.to_string()],
        }
    }

    #[test]
    fn plain_250_is_open_and_errors_never_pass() {
        let f = forms();
        let ok = reply("250 2.1.0 Sender OK");
        assert_eq!(
            classify(&f[1], &ok, Some(&reply("250 2.1.5 Recipient OK")), &[]),
            Verdict::Open
        );
        assert_eq!(
            classify(
                &f[1],
                &ok,
                Some(&reply(
                    "550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain"
                )),
                &[]
            ),
            Verdict::Refused
        );
        assert_eq!(
            classify(&f[1], &ok, Some(&reply("451 4.7.0 Timeout")), &[]),
            Verdict::Inconclusive
        );
        assert_eq!(classify(&f[1], &ok, None, &[]), Verdict::Inconclusive);
        assert_eq!(
            classify(
                &f[1],
                &reply("530 5.7.1 Client was not authenticated"),
                None,
                &[]
            ),
            Verdict::AuthRequired
        );
        assert_eq!(
            classify(
                &f[3],
                &reply("501 <p@[192.0.2.10]>: domain literals not allowed"),
                None,
                &[]
            ),
            Verdict::NotApplicable
        );
    }

    /// KB Q304897's two examples: the echo rewritten into the server's own domain.
    #[test]
    fn q304897_echo_is_accepted_as_local() {
        let own = vec!["northwindtraders.com".to_string()];
        let r = reply("250 2.1.5 relaytest%contoso.net@northwindtraders.com");
        assert!(rewritten_local(&r, &own));
        let q = reply("250 2.1.5 \"nobody@mail-contoso.org\"@northwindtraders.com");
        assert!(rewritten_local(&q, &own));
        assert!(!rewritten_local(&reply("250 2.1.5 Recipient OK"), &own));
        let f = forms();
        let ok = reply("250 2.1.0 Sender OK");
        assert_eq!(
            classify(&f[7], &ok, Some(&r), &own),
            Verdict::AcceptedAsLocal
        );
        // A plain form whose echo was rewritten is not relay either.
        assert_eq!(
            classify(&f[1], &ok, Some(&r), &own),
            Verdict::AcceptedAsLocal
        );
    }

    #[test]
    fn overall_worst_first() {
        use Verdict::*;
        assert_eq!(overall(&[(true, Refused), (false, Open)], &[]), Open);
        assert_eq!(overall(&[(true, Refused)], &[(true, Open)]), AuthRequired);
        assert_eq!(
            overall(&[(true, Refused), (false, AcceptedAsLocal)], &[]),
            Refused
        );
        assert_eq!(
            overall(&[(true, NotApplicable), (true, Inconclusive)], &[]),
            Inconclusive
        );
        assert_eq!(overall(&[], &[]), Inconclusive);
    }
}
