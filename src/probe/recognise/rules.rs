//! The clue table: what each observation means, which servers it fits, how much it weighs, and
//! where that is sourced (the keys in brackets are listed in the parent module's doc). Kept one
//! rule per line, as a table, outside rustfmt.

/// One bit per server a clue can fit. E2013 stands for 2013, 2016, 2019 and SE: nothing on the
/// wire tells them apart (all say "Microsoft ESMTP MAIL Service ready at", \[m\]).
pub(super) type Mask = u16;
pub(super) const E50: Mask = 1; // Exchange 4.0/5.0 (IMC/IMS)
pub(super) const E55: Mask = 1 << 1;
pub(super) const E2000: Mask = 1 << 2;
pub(super) const E2003: Mask = 1 << 3;
pub(super) const E2007: Mask = 1 << 4;
pub(super) const E2010: Mask = 1 << 5;
pub(super) const E2013: Mask = 1 << 6;
pub(super) const EXO: Mask = 1 << 7;
pub(super) const IIS: Mask = 1 << 8;
pub(super) const POSTFIX: Mask = 1 << 9;
pub(super) const EXIM: Mask = 1 << 10;
pub(super) const SENDMAIL: Mask = 1 << 11;
pub(super) const OPENSMTPD: Mask = 1 << 12;
pub(super) const DEVICE: Mask = 1 << 13;
pub(super) const BITS: u32 = 14;
pub(super) const ALL: Mask = (1 << BITS) - 1;

pub(super) const IMS: Mask = E50 | E55;
pub(super) const E2K: Mask = E2000 | E2003;
pub(super) const E2K7: Mask = E2007 | E2010;
pub(super) const E2007UP: Mask = E2007 | E2010 | E2013;
pub(super) const EXCHANGE: Mask = IMS | E2K | E2007UP | EXO;
/// The Windows SMTP service: plain, or carrying Exchange 2000/2003.
pub(super) const IIS_SMTP: Mask = E2K | IIS;
pub(super) const MICROSOFT: Mask = EXCHANGE | IIS;

/// What a kind of observation means.
#[derive(Clone, Copy)]
pub(super) struct Rule {
    /// Unique per kind of observation; a rule counts once however often it fires.
    pub key: &'static str,
    pub mask: Mask,
    pub weight: u16,
    /// Wording chosen on purpose (banner product string, refusal text), not a fingerprint.
    pub identity: bool,
    /// Who it points to, short ("Exim", "Exchange 2013+").
    pub who: &'static str,
    /// What it says, for the clue text.
    pub means: &'static str,
}

/// An identity clue: weight 4.
const fn ident(key: &'static str, mask: Mask, who: &'static str, means: &'static str) -> Rule {
    Rule { key, mask, weight: 4, identity: true, who, means }
}

/// A fingerprint.
const fn fp(key: &'static str, mask: Mask, weight: u16, who: &'static str, means: &'static str) -> Rule {
    Rule { key, mask, weight, identity: false, who, means }
}

// Banners (identity). [nmap] has a match line for each product string.
pub(super) const B_IMS: Rule = ident("b-ims", IMS, "Exchange 5.5 or earlier", "Internet Mail Service banner, Exchange 4.0-5.5"); // [a][b]
pub(super) const B_IMS55: Rule = ident("b-ims", E55, "Exchange 5.5", "Exchange 5.5 Internet Mail Service banner"); // [a][b]
pub(super) const B_IMS50: Rule = ident("b-ims", E50, "Exchange 4.0/5.0", "Exchange 4.0/5.0 Internet Mail Service banner"); // version only; no 5.0 banner sourced
// IIS SMTP puts "Version: <Windows build>" in its banner [f][h]. 6.0.3790 is Windows Server 2003, where
// "Exchange 2000 is not supported" (technet bb124788(v=exchg.65)); 7.x and later are Windows 2008+,
// which no Exchange that uses IIS SMTP runs on (Exchange 2007+ has its own SMTP stack).
pub(super) const B_IIS: Rule = ident("b-iis", IIS_SMTP, "IIS SMTP / Exchange 2000-2003", "Windows IIS SMTP banner, also Exchange 2000/2003's"); // [f][h]
pub(super) const B_IIS2003: Rule = ident("b-iis", E2003 | IIS, "IIS SMTP / Exchange 2003", "IIS SMTP of Windows Server 2003: Exchange 2003 or plain IIS"); // [h][p2003]
pub(super) const B_IIS2008: Rule = ident("b-iis", IIS, "IIS SMTP", "IIS SMTP of Windows 2008 or later, which no Exchange uses"); // [iis]
pub(super) const B_IIS_OLD: Rule = ident("b-iis", IIS, "IIS SMTP", "'Microsoft SMTP MAIL' banner of NT's SMTP service"); // [nmap]
pub(super) const B_MS: Rule = ident("b-ms", E2007UP, "Exchange 2007+", "Exchange 2007+ default banner"); // [j][m]
pub(super) const B_EXO: Rule = ident("b-ms", EXO, "Exchange Online", "Exchange Online banner, an outlook.com host"); // [exo]
pub(super) const B_EXIM: Rule = ident("b-exim", EXIM, "Exim", "Exim banner"); // [nmap][exim]
pub(super) const B_POSTFIX: Rule = ident("b-postfix", POSTFIX, "Postfix", "Postfix banner"); // [nmap][postfix]
pub(super) const B_SENDMAIL: Rule = ident("b-sendmail", SENDMAIL, "Sendmail", "Sendmail banner"); // [nmap][sendmail]
pub(super) const B_OPENSMTPD: Rule = ident("b-opensmtpd", OPENSMTPD, "OpenSMTPD", "OpenSMTPD banner"); // [nmap][gb]
pub(super) const B_DEVICE: Rule = ident("b-device", DEVICE, "a filtering device", "filtering device"); // [pix][nmap][gb]
pub(super) const B_EXCH_WORD: Rule = fp("b-exch-word", EXCHANGE, 2, "Exchange", "custom banner naming Exchange"); // OpenVAS [p] takes these as Exchange

// EHLO (fingerprints).
pub(super) const H_IMS: Rule = fp("h-ims", IMS, 2, "Exchange 5.5 or earlier", "IMS EHLO greeting"); // [xog05029]
pub(super) const H_BRACKET: Rule = fp("h-bracket", MICROSOFT, 2, "Exchange / IIS SMTP", "Microsoft greeting form 'Hello [ip]'"); // [m][p2003][q262945][exo]
pub(super) const H_EXIM: Rule = fp("h-exim", EXIM, 2, "Exim", "Exim greeting form 'Hello name [ip]', not Exchange's 'Hello [ip]'"); // [exim]
pub(super) const H_PLEASED: Rule = fp("h-pleased", SENDMAIL | OPENSMTPD, 2, "Sendmail or OpenSMTPD", "greeting '..., pleased to meet you' (Sendmail, OpenSMTPD), not Exchange's"); // [sendmail][opensmtpd]
pub(super) const H_BARE: Rule = fp("h-bare", POSTFIX, 2, "Postfix", "greeting is the bare host name (Postfix form), not Exchange's 'Hello [ip]'"); // [postfix]
pub(super) const H_EXO: Rule = fp("h-exo", EXO, 3, "Exchange Online", "EHLO from an outlook.com host"); // [exo]
pub(super) const H_DEVICE: Rule = fp("h-device", DEVICE, 2, "a filtering device", "EHLO refused after a masked banner: mailguard passes only RFC 821 commands"); // [pix]
pub(super) const K_LINK2STATE: Rule = fp("k-link2state", E2K, 3, "Exchange 2000/2003", "link-state routing verb, Exchange 2000/2003"); // [kbehlo][p2003]; never in a 2007+ transcript
// XEXCH50: 5.5 [q262945], 2000/2003 [kbehlo], 2010 [rabbit], 2013/2016 back end [kb2866822]; 4.0/5.0 not sourced.
pub(super) const K_XEXCH50: Rule = fp("k-xexch50", IMS | E2K | E2007UP, 3, "Exchange", "XEXCH50, Exchange 5.5 to 2013+ (not the 2013+ front end)");
pub(super) const K_XEXPS: Rule = fp("k-xexps", E2K | E2007UP, 3, "Exchange 2000+", "X-EXPS authentication verb, Exchange 2000+"); // [kbehlo][rabbit][m]
// X-ANONYMOUSTLS: 2010 [rabbit] and 2013+ [m]; never on 2000/2003 [p2003][kbehlo]. No 2007 transcript was
// found: that 2007 has it (Hub/Edge anonymous TLS came with 2007) is believed, not sourced.
pub(super) const K_ANONTLS: Rule = fp("k-anontls", E2007UP, 3, "Exchange 2007+", "X-ANONYMOUSTLS, Exchange 2007+");
// XRDST: 2010 [rabbit] and 2013+ [m][kb2866822]. Whether 2007 had it is not sourced.
pub(super) const K_XRDST: Rule = fp("k-xrdst", E2010 | E2013, 3, "Exchange 2010+", "XRDST, Exchange 2010+");
pub(super) const K_XSHADOW: Rule = fp("k-xshadow", E2010, 3, "Exchange 2010", "XSHADOW, shadow redundancy as Exchange 2010 advertised it"); // [rabbit][shadow]
pub(super) const K_XSHADOWREQ: Rule = fp("k-xshadowreq", E2013, 3, "Exchange 2013+", "XSHADOWREQUEST, Exchange 2013+"); // [kb2866822]
// Exchange-private, generation not sourced (X-EXCHANGEAUTH appears in a 2010-style EHLO with XSHADOW;
// XOORG / XPROXY* are transport proxy verbs).
pub(super) const K_XPRIVATE: Rule = fp("k-xprivate", E2007UP | EXO, 2, "Exchange 2007+", "Exchange-private transport verb");
pub(super) const K_FE2013: Rule = fp("k-fe2013", E2013, 2, "Exchange 2013+", "XRDST without XEXCH50 or XSHADOW: the 2013+ Front End Transport"); // [m] vs [rabbit][kb2866822]
pub(super) const K_IIS: Rule = fp("k-iis", IIS_SMTP, 2, "IIS SMTP / Exchange 2000-2003", "IIS SMTP EHLO (TURN/ATRN, last line 'OK')"); // [p2003][kbehlo][iis]
pub(super) const K_IIS_ONLY: Rule = fp("k-iis-only", IIS, 2, "IIS SMTP", "IIS SMTP EHLO without X-EXPS, X-LINK2STATE or XEXCH50: no Exchange on it"); // [kbehlo][iis]
pub(super) const K_PIPECONNECT: Rule = fp("k-pipeconnect", EXIM, 3, "Exim", "PIPECONNECT, an Exim extension"); // [exim]

// Replies.
pub(super) const R_IMS_MAIL: Rule = ident("r-ims-mail", IMS, "Exchange 5.5 or earlier", "IMS MAIL reply"); // [q262945]
pub(super) const R_IMS_RCPT: Rule = fp("r-ims-rcpt", IMS, 3, "Exchange 5.5 or earlier", "IMS RCPT reply"); // [q262945]
pub(super) const R_IMS_RELAY: Rule = ident("r-ims-relay", IMS, "Exchange 5.5 or earlier", "Exchange 5.5 relay refusal"); // [c][d]
pub(super) const R_IMS_QUIT: Rule = fp("r-ims-quit", IMS, 2, "Exchange 5.5 or earlier", "IMS QUIT reply"); // [q262945]
pub(super) const R_IIS_RELAY: Rule = ident("r-iis-relay", IIS_SMTP, "IIS SMTP / Exchange 2000-2003", "IIS SMTP relay refusal, Exchange 2000/2003"); // [g][uf2011]
pub(super) const R_IIS_SENDER: Rule = fp("r-iis-sender", IIS_SMTP, 3, "IIS SMTP / Exchange 2000-2003", "IIS SMTP MAIL reply '<addr>....Sender OK'"); // [p2003][iis]
pub(super) const R_IIS_RCPT: Rule = fp("r-iis-rcpt", IIS_SMTP, 2, "IIS SMTP / Exchange 2000-2003", "IIS SMTP RCPT reply echoing the address"); // [p2003][g][iis]
pub(super) const R_IIS_QUIT: Rule = fp("r-iis-quit", IIS_SMTP, 2, "IIS SMTP / Exchange 2000-2003", "IIS SMTP QUIT reply naming the host"); // [p2003][iis]
// Exchange Online's NDR table lists "5.7.1 Unable to relay" too [exo].
pub(super) const R_2007_RELAY: Rule = ident("r-2007-relay", E2K7 | EXO, "Exchange 2007/2010", "Exchange 2007/2010 relay refusal"); // [k]
pub(super) const R_2013_RELAY: Rule = ident("r-2013-relay", E2013, "Exchange 2013+", "Exchange 2013+ relay refusal"); // [n]
pub(super) const R_2013_INSIDE: Rule = fp("r-2013-inside", E2013, 1, "Exchange 2013+", "Exchange 2013+ relay wording inside another server's reply");
pub(super) const R_NOAUTH: Rule = ident("r-noauth", E2007UP, "Exchange 2007+", "Exchange 2007+ refusal of anonymous submission"); // [l][m]
pub(super) const R_NOAUTH_INSIDE: Rule = fp("r-noauth-inside", E2007UP, 1, "Exchange 2007+", "Exchange wording inside another server's reply");
pub(super) const R_SENDER_OK: Rule = fp("r-sender-ok", E2007UP | EXO, 2, "Exchange 2007+", "Exchange 2007+ MAIL reply"); // [m][exo]
pub(super) const R_RCPT_OK: Rule = fp("r-rcpt-ok", E2007UP | EXO, 2, "Exchange 2007+", "Exchange 2007+ RCPT reply"); // [m]
// "Resetting": IIS SMTP [g]; OpenVAS takes it as Exchange in general [p] (2007+ not sourced directly).
pub(super) const R_RESETTING: Rule = fp("r-resetting", IIS_SMTP | E2007UP, 2, "Exchange / IIS SMTP", "Microsoft RSET reply");
pub(super) const R_QUIT_2007: Rule = fp("r-quit-2007", E2007UP | EXO, 2, "Exchange 2007+", "Exchange 2007+ QUIT reply, no host name"); // [m][exo]
// "220 2.0.0 SMTP server ready": 2010 (a git send-email log with XSHADOW) and 2016 (nmap banner dumps) in
// public notes; IIS not sourced, kept in the mask at weight 1.
pub(super) const R_MS_TLS: Rule = fp("r-ms-tls", MICROSOFT, 1, "Exchange / IIS SMTP", "Microsoft STARTTLS reply");
pub(super) const R_EXO_DENY: Rule = ident("r-exo-deny", EXO, "Exchange Online", "Exchange Online refusal"); // [exo]
pub(super) const R_EXO_HOST: Rule = fp("r-exo-host", EXO, 3, "Exchange Online", "reply names an outlook.com server"); // [exo]
pub(super) const R_POSTFIX: Rule = ident("r-postfix", POSTFIX, "Postfix", "Postfix refusal form '<addr>: ... rejected'"); // [postfix][probe]
pub(super) const R_POSTFIX_OK: Rule = fp("r-postfix-ok", POSTFIX, 2, "Postfix", "Postfix OK reply"); // [postfix]
pub(super) const R_EXIM_RELAY: Rule = fp("r-exim-relay", EXIM, 3, "Exim", "relay refusal of the PROBE.md Exim configuration"); // [probe]
pub(super) const R_EXIM_OK: Rule = fp("r-exim-ok", EXIM, 1, "Exim", "Exim MAIL/RCPT reply"); // [exim][probe]
pub(super) const R_EXIM_RSET: Rule = fp("r-exim-rset", EXIM, 2, "Exim", "Exim RSET reply"); // [exim]
pub(super) const R_EXIM_QUIT: Rule = fp("r-exim-quit", EXIM | SENDMAIL, 2, "Exim", "QUIT reply '<host> closing connection' (Exim; old Sendmail too)"); // [exim][sendmail]
pub(super) const R_SENDMAIL: Rule = ident("r-sendmail", SENDMAIL, "Sendmail", "Sendmail refusal '<addr>... Relaying denied'"); // [sendmail]
pub(super) const R_SENDMAIL_OK: Rule = fp("r-sendmail-ok", SENDMAIL, 3, "Sendmail", "Sendmail reply '<addr>... Sender/Recipient ok'"); // [sendmail]
pub(super) const R_RESET_STATE: Rule = fp("r-reset-state", SENDMAIL | OPENSMTPD, 2, "Sendmail or OpenSMTPD", "RSET reply 'Reset state'"); // [opensmtpd]; Sendmail not sourced
pub(super) const R_BYE: Rule = fp("r-bye", POSTFIX | OPENSMTPD, 2, "Postfix or OpenSMTPD", "QUIT reply 'Bye'"); // [postfix][opensmtpd]
pub(super) const R_OPENSMTPD: Rule = fp("r-opensmtpd", OPENSMTPD, 3, "OpenSMTPD", "OpenSMTPD RCPT wording"); // [opensmtpd][probe]
pub(super) const R_OPENSMTPD_OK: Rule = fp("r-opensmtpd-ok", OPENSMTPD, 2, "OpenSMTPD", "OpenSMTPD MAIL reply"); // [opensmtpd]
pub(super) const R_ESA: Rule = ident("r-esa", DEVICE, "a filtering device", "'#x.y.z' status in the text, Cisco ESA/IronPort"); // [esa]
