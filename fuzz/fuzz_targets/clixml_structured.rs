//! Structure-aware CliXML: `arbitrary` builds a document tree (`Doc`) that is rendered to text
//! and run through the whole in-memory pipeline the scan uses for a CliXML file — encoding
//! sniffing and decoding, the `<BA>` blob filter (cut at a chosen point), the CliXML reader,
//! the model, the analysis and the built-in rules, then every report writer. Must return, never
//! panic, and stay within the time and memory limits given to libFuzzer.
//!
//! The tree is made to reach what byte-level mutation rarely does: real Exchange type names
//! (so records become connectors, permissions, domains and servers), `<Ref RefId>`s to earlier,
//! later, dangling and the object's own ids, repeated subtrees (so a handful of input bytes can
//! ask for 64 `<Ref>`s to one list: the reference-expansion class), duplicate RefIds,
//! duplicate top-level objects (same Identity), comments and CDATA around objects, `_xHHHH_`
//! escapes, entities, `<Nil/>`, nesting past the parser's depth bound and values past its size
//! bound.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use relay_audit::input::blob_filter::BlobFilter;
use relay_audit::input::{decode, outcome};
use relay_audit::model::{ModelBuilder, Use};
use relay_audit::rules::{RuleSet, Severity};
use relay_audit::scan::{self, FailOn, Loaded};
use std::fmt::Write as _;
use std::io::Read;
use std::sync::{Arc, OnceLock};

/// Rendered documents are cut here (and long strings count towards it): past the parser's
/// 1 MiB value bound, small enough to keep executions fast.
const MAX_DOC: usize = 3 << 20;
/// Nesting the renderer itself follows recursively; `Deep` goes further iteratively.
const MAX_RENDER_DEPTH: usize = 64;
/// Values the renderer writes at most.
const MAX_STEPS: u32 = 1 << 18;

#[derive(Arbitrary, Debug)]
struct Doc {
    enc: Enc,
    decl: bool,
    crlf: bool,
    /// Where the blob filter's input is cut in two (a `<BA` or `</BA>` split by a chunk edge).
    split: u16,
    /// Which report writer renders the result.
    writer: u8,
    items: Vec<Top>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Enc {
    Utf8,
    Utf8Bom,
    Utf16LeBom,
    Utf16BeBom,
    /// UTF-16LE without a BOM (sniffed from the zero bytes).
    Utf16Le,
}

#[derive(Arbitrary, Debug)]
enum Top {
    Obj(TopObj),
    /// The n-th earlier top-level object again, byte for byte (same RefIds, same Identity).
    Dup(u8),
    Comment(Txt),
    CData(Txt),
    /// Character data between objects.
    Text(Txt),
    /// Markup the parser must refuse or skip: a DTD, a PI, an unknown entity, a stray end tag.
    Hostile(Hostile),
}

#[derive(Arbitrary, Debug)]
enum Hostile {
    Doctype,
    Entity,
    Pi,
    StrayEnd,
    UnclosedObj,
    Raw(String),
}

#[derive(Arbitrary, Debug)]
struct TopObj {
    ref_id: Id,
    types: Types,
    to_string: Option<Txt>,
    ms: bool,
    props: Vec<Prop>,
    /// A second member list (`<MS>` after `<Props>`, as Exchange writes adapted properties).
    extra: Vec<Prop>,
    comment_inside: Option<Txt>,
}

/// A RefId attribute.
#[derive(Arbitrary, Debug)]
enum Id {
    /// The next fresh id.
    Next,
    None,
    /// An id already used (a duplicate RefId).
    Reuse(u8),
    Raw(Txt),
}

#[derive(Arbitrary, Debug)]
enum Types {
    None,
    Tn { id: Id, names: Vec<TypeName> },
    /// `<TNRef>` to the n-th earlier type-name list, a later one, or any number.
    TnRefEarlier(u8),
    TnRefLater(u8),
    TnRefRaw(u32),
}

#[derive(Arbitrary, Debug)]
enum TypeName {
    Known(Known),
    Deserialized(Known),
    Free(Txt),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Known {
    ReceiveConnector,
    AdPermission,
    AcePresentation,
    AcceptedDomain,
    ExchangeServer,
    PsObject,
    Object,
    Enum,
    ArrayList,
    MultiValued,
    AdObjectId,
    IpRange,
    Binding,
}

impl Known {
    fn name(self) -> &'static str {
        match self {
            Known::ReceiveConnector => {
                "Microsoft.Exchange.Data.Directory.SystemConfiguration.ReceiveConnector"
            }
            Known::AdPermission => "Microsoft.Exchange.Management.RecipientTasks.ADAcePresentationObject",
            Known::AcePresentation => "Microsoft.Exchange.Management.RecipientTasks.AcePresentationObject",
            Known::AcceptedDomain => "Microsoft.Exchange.Data.Directory.SystemConfiguration.AcceptedDomain",
            Known::ExchangeServer => "Microsoft.Exchange.Data.Directory.Management.ExchangeServer",
            Known::PsObject => "System.Management.Automation.PSObject",
            Known::Object => "System.Object",
            Known::Enum => "System.Enum",
            Known::ArrayList => "System.Collections.ArrayList",
            Known::MultiValued => "Microsoft.Exchange.Data.MultiValuedProperty`1[[Microsoft.Exchange.Data.IPRange]]",
            Known::AdObjectId => "Microsoft.Exchange.Data.Directory.ADObjectId",
            Known::IpRange => "Microsoft.Exchange.Data.IPRange",
            Known::Binding => "Microsoft.Exchange.Data.IPBinding",
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Prop {
    name: PropName,
    value: Val,
}

#[derive(Arbitrary, Debug)]
enum PropName {
    Known(u8),
    /// No `N` attribute at all.
    Missing,
    Free(Txt),
}

const PROPS: &[&str] = &[
    "Identity",
    "Name",
    "Server",
    "RemoteIPRanges",
    "Bindings",
    "PermissionGroups",
    "AuthMechanism",
    "TransportRole",
    "Enabled",
    "User",
    "ExtendedRights",
    "AccessRights",
    "Deny",
    "IsInherited",
    "DomainName",
    "DomainType",
    "Default",
    "Fqdn",
    "AdminDisplayVersion",
    "ServerRole",
    "MaxMessageSize",
    "RequireTLS",
    "DomainSecureEnabled",
    "TlsCertificateName",
    "ProtocolLoggingLevel",
    "Banner",
    "Comment",
    "AdvertiseClientSettings",
    "SerializationData",
    "ToString",
    "ExchangeVersion",
    "DistinguishedName",
    "Guid",
    "OrganizationId",
];

#[derive(Arbitrary, Debug)]
enum Val {
    Nil,
    Scalar(Scalar, Txt),
    Ref(RefTo),
    /// `<BA>` (base64; dropped by the blob filter before the parser).
    Ba(Txt),
    List(Box<List>),
    Obj(Box<Obj>),
    /// The value `n` times (a list of 64 `<Ref>`s to one id is a few bytes of input).
    Repeat(u8, Box<Val>),
    /// `n` levels of `<Obj><LST>` around the value, written iteratively (past MAX_DEPTH).
    Deep(u16, Box<Val>),
    Commented(Txt, Box<Val>),
    CData(Txt),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Scalar {
    S,
    B,
    I32,
    I64,
    U32,
    Db,
    G,
    Dt,
    Ts,
    Version,
    Uri,
    Xd,
    Sbk,
    ToString,
    T,
    Unknown,
}

impl Scalar {
    fn tag(self) -> &'static str {
        match self {
            Scalar::S => "S",
            Scalar::B => "B",
            Scalar::I32 => "I32",
            Scalar::I64 => "I64",
            Scalar::U32 => "U32",
            Scalar::Db => "Db",
            Scalar::G => "G",
            Scalar::Dt => "DT",
            Scalar::Ts => "TS",
            Scalar::Version => "Version",
            Scalar::Uri => "URI",
            Scalar::Xd => "XD",
            Scalar::Sbk => "SBK",
            Scalar::ToString => "ToString",
            Scalar::T => "T",
            Scalar::Unknown => "Zz",
        }
    }
}

#[derive(Arbitrary, Debug)]
enum RefTo {
    /// The n-th most recent id (0: the last one given out).
    Earlier(u8),
    /// An id not given out yet (it may be, later in the file).
    Later(u8),
    /// The id of the object this `<Ref>` is inside.
    Own,
    Dangling(u32),
    Raw(Txt),
    Missing,
}

#[derive(Arbitrary, Debug)]
struct List {
    ref_id: Id,
    types: Types,
    tag: Coll,
    items: Vec<Val>,
    to_string: Option<Txt>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Coll {
    Lst,
    Ie,
    St,
    Que,
    Stk,
    Dct,
}

impl Coll {
    fn tag(self) -> &'static str {
        match self {
            Coll::Lst => "LST",
            Coll::Ie => "IE",
            Coll::St => "ST",
            Coll::Que => "QUE",
            Coll::Stk => "STK",
            Coll::Dct => "DCT",
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Obj {
    ref_id: Id,
    types: Types,
    to_string: Option<Txt>,
    number: Option<i32>,
    ms: bool,
    props: Vec<Prop>,
}

/// Text content (escaped for XML unless `Raw`).
#[derive(Arbitrary, Debug)]
enum Txt {
    Word(u8),
    Free(String),
    Ip(Ip),
    /// `_xHHHH_` (CliXML's own escape).
    Escape(u16),
    /// A broken `_x…` escape.
    BadEscape(u8),
    Entity(Ent),
    /// The text repeated (long values: past the parser's 1 MiB bound).
    Long(u32, Box<Txt>),
    Concat(Vec<Txt>),
    /// Not escaped: may break the markup.
    Raw(String),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Ent {
    Amp,
    Lt,
    Gt,
    Quot,
    Apos,
    Dec(u32),
    Hex(u32),
    Unknown,
}

#[derive(Arbitrary, Debug)]
enum Ip {
    V4(u32),
    V4Range(u32, u32),
    V4Cidr(u32, u8),
    V6(u128),
    V6Range(u128, u128),
    V6Cidr(u128, u8),
    Mapped(u32),
}

const WORDS: &[&str] = &[
    "0.0.0.0-255.255.255.255",
    "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "0.0.0.0/0",
    "192.168.1.0/24",
    "10.0.0.1",
    "0.0.0.0:25",
    "[::]:25",
    "0.0.0.0:587",
    "[::]:717",
    "NT AUTHORITY\\ANONYMOUS LOGON",
    "NT AUTHORITY\\Authenticated Users",
    "MS Exchange\\Partner Servers",
    "ms-Exch-SMTP-Accept-Any-Recipient",
    "ms-Exch-SMTP-Submit",
    "ms-Exch-SMTP-Accept-Any-Sender",
    "ms-Exch-Bypass-Anti-Spam",
    "ms-Exch-SMTP-Accept-Authoritative-Domain-Sender",
    "AnonymousUsers",
    "ExchangeUsers",
    "ExchangeServers",
    "ExchangeLegacyServers",
    "Partners",
    "Custom",
    "None",
    "AnonymousUsers, ExchangeServers, ExchangeLegacyServers",
    "Tls",
    "Integrated",
    "BasicAuth",
    "BasicAuthRequireTLS",
    "ExternalAuthoritative",
    "Tls, ExternalAuthoritative",
    "Tls, Integrated, BasicAuth, BasicAuthRequireTLS",
    "Authoritative",
    "InternalRelay",
    "ExternalRelay",
    "*",
    "*.contoso.com",
    "contoso.com",
    "True",
    "False",
    "FrontendTransport",
    "HubTransport",
    "Mailbox, ClientAccess",
    "EX01",
    "EX01\\Default Frontend EX01",
    "EX01\\Default EX01",
    "EX01\\Relay",
    "EX01\\Client Proxy EX01",
    "Version 15.2 (Build 1118.7)",
    "Version 15.1 (Build 2507.6)",
    "Version 8.3 (Build 83.6)",
    "ExtendedRight",
    "Allow",
    "Deny",
    "Verbose",
    "36 MB (37,748,736 bytes)",
    "unlimited",
    "",
    " ",
];

#[derive(Default)]
struct R {
    out: String,
    nl: &'static str,
    /// RefIds given out so far (0..next).
    next: u32,
    /// Type-name list ids given out so far.
    next_tn: u32,
    /// Byte ranges of the top-level objects rendered so far.
    tops: Vec<(usize, usize)>,
    full: bool,
    /// Values rendered: bounds the renderer's own work (a `Repeat` of a `Repeat(0, …)`
    /// renders nothing, 80^depth times).
    steps: u32,
}

impl R {
    fn room(&mut self) -> bool {
        if self.out.len() > MAX_DOC || self.steps > MAX_STEPS {
            self.full = true;
        }
        !self.full
    }

    fn id(&mut self, id: &Id) -> Option<String> {
        match id {
            Id::Next => {
                let n = self.next;
                self.next += 1;
                Some(n.to_string())
            }
            Id::None => None,
            Id::Reuse(k) => Some(if self.next == 0 {
                "0".to_string()
            } else {
                (self.next - 1 - u32::from(*k) % self.next).to_string()
            }),
            Id::Raw(t) => {
                let mut s = String::new();
                txt(&mut s, t, 0, 256);
                Some(attr_escape(&s))
            }
        }
    }

    fn types(&mut self, t: &Types, depth: usize) {
        match t {
            Types::None => {}
            Types::Tn { id, names } => {
                let id = match id {
                    Id::Next => {
                        let n = self.next_tn;
                        self.next_tn += 1;
                        Some(n.to_string())
                    }
                    other => self.id(other),
                };
                match id {
                    Some(i) => write!(self.out, "<TN RefId=\"{i}\">").unwrap(),
                    None => self.out.push_str("<TN>"),
                }
                for n in names.iter().take(8) {
                    self.out.push_str("<T>");
                    match n {
                        TypeName::Known(k) => self.out.push_str(k.name()),
                        TypeName::Deserialized(k) => {
                            self.out.push_str("Deserialized.");
                            self.out.push_str(k.name());
                        }
                        TypeName::Free(t) => self.text(t, depth),
                    }
                    self.out.push_str("</T>");
                }
                self.out.push_str("</TN>");
            }
            Types::TnRefEarlier(k) => {
                let i = if self.next_tn == 0 {
                    0
                } else {
                    self.next_tn - 1 - u32::from(*k) % self.next_tn
                };
                write!(self.out, "<TNRef RefId=\"{i}\" />").unwrap();
            }
            Types::TnRefLater(k) => {
                write!(self.out, "<TNRef RefId=\"{}\" />", self.next_tn + u32::from(*k)).unwrap()
            }
            Types::TnRefRaw(n) => write!(self.out, "<TNRef RefId=\"{n}\" />").unwrap(),
        }
    }

    fn text(&mut self, t: &Txt, depth: usize) {
        let budget = MAX_DOC.saturating_sub(self.out.len());
        txt(&mut self.out, t, depth, budget);
    }

    fn top(&mut self, item: &Top) {
        if !self.room() {
            return;
        }
        let nl = self.nl;
        match item {
            Top::Obj(o) => {
                let start = self.out.len();
                self.out.push_str("  ");
                let id = self.id(&o.ref_id);
                let own = id.clone();
                match id {
                    Some(i) => write!(self.out, "<Obj RefId=\"{i}\">").unwrap(),
                    None => self.out.push_str("<Obj>"),
                }
                self.out.push_str(nl);
                self.types(&o.types, 0);
                if let Some(c) = &o.comment_inside {
                    self.comment(c);
                }
                if let Some(t) = &o.to_string {
                    self.out.push_str("<ToString>");
                    self.text(t, 0);
                    self.out.push_str("</ToString>");
                }
                let members = if o.ms { "MS" } else { "Props" };
                write!(self.out, "<{members}>{nl}").unwrap();
                for p in &o.props {
                    self.prop(p, own.as_deref(), 1);
                }
                write!(self.out, "</{members}>{nl}").unwrap();
                if !o.extra.is_empty() {
                    write!(self.out, "<MS>{nl}").unwrap();
                    for p in &o.extra {
                        self.prop(p, own.as_deref(), 1);
                    }
                    write!(self.out, "</MS>{nl}").unwrap();
                }
                write!(self.out, "  </Obj>{nl}").unwrap();
                self.tops.push((start, self.out.len()));
            }
            Top::Dup(k) => {
                if !self.tops.is_empty() {
                    let (a, b) = self.tops[usize::from(*k) % self.tops.len()];
                    if self.out.len() + (b - a) <= MAX_DOC {
                        let copy = self.out[a..b].to_string();
                        self.out.push_str(&copy);
                    }
                }
            }
            Top::Comment(t) => self.comment(t),
            Top::CData(t) => self.cdata(t),
            Top::Text(t) => self.text(t, 0),
            Top::Hostile(h) => match h {
                Hostile::Doctype => self
                    .out
                    .push_str("<!DOCTYPE Objs [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;\">]>"),
                Hostile::Entity => self.out.push_str("<S>&b;&xxe;</S>"),
                Hostile::Pi => self.out.push_str("<?xml-stylesheet href=\"x\"?>"),
                Hostile::StrayEnd => self.out.push_str("</Obj></Props>"),
                Hostile::UnclosedObj => self.out.push_str("<Obj RefId=\"0\"><Props><S N=\"Identity\">"),
                Hostile::Raw(s) => {
                    if s.len() <= 4096 {
                        self.out.push_str(s)
                    }
                }
            },
        }
        self.out.push_str(nl);
    }

    fn comment(&mut self, t: &Txt) {
        self.out.push_str("<!--");
        let mut s = String::new();
        txt(&mut s, t, 0, MAX_DOC.saturating_sub(self.out.len()));
        self.out.push_str(&s.replace("--", "- -"));
        self.out.push_str("-->");
    }

    fn cdata(&mut self, t: &Txt) {
        self.out.push_str("<![CDATA[");
        let mut s = String::new();
        txt(&mut s, t, 0, MAX_DOC.saturating_sub(self.out.len()));
        self.out.push_str(&s.replace("]]>", "]] >"));
        self.out.push_str("]]>");
    }

    fn prop(&mut self, p: &Prop, own: Option<&str>, depth: usize) {
        let name = match &p.name {
            PropName::Known(k) => Some(PROPS[usize::from(*k) % PROPS.len()].to_string()),
            PropName::Missing => None,
            PropName::Free(t) => {
                let mut s = String::new();
                txt(&mut s, t, depth, 1024);
                Some(attr_escape(&s))
            }
        };
        self.val(&p.value, name.as_deref(), own, depth);
        self.out.push_str(self.nl);
    }

    fn n_attr(name: Option<&str>) -> String {
        match name {
            Some(n) => format!(" N=\"{n}\""),
            None => String::new(),
        }
    }

    fn val(&mut self, v: &Val, name: Option<&str>, own: Option<&str>, depth: usize) {
        if !self.room() {
            return;
        }
        self.steps += 1;
        let n = Self::n_attr(name);
        if depth > MAX_RENDER_DEPTH {
            write!(self.out, "<Nil{n} />").unwrap();
            return;
        }
        match v {
            Val::Nil => write!(self.out, "<Nil{n} />").unwrap(),
            Val::Scalar(s, t) => {
                let tag = s.tag();
                write!(self.out, "<{tag}{n}>").unwrap();
                self.text(t, depth);
                write!(self.out, "</{tag}>").unwrap();
            }
            Val::Ref(r) => {
                let id = match r {
                    RefTo::Earlier(k) => Some(if self.next == 0 {
                        "0".to_string()
                    } else {
                        (self.next - 1 - u32::from(*k) % self.next).to_string()
                    }),
                    RefTo::Later(k) => Some((self.next + u32::from(*k)).to_string()),
                    RefTo::Own => Some(own.unwrap_or("0").to_string()),
                    RefTo::Dangling(d) => Some(d.to_string()),
                    RefTo::Raw(t) => {
                        let mut s = String::new();
                        txt(&mut s, t, depth, 256);
                        Some(attr_escape(&s))
                    }
                    RefTo::Missing => None,
                };
                match id {
                    Some(i) => write!(self.out, "<Ref{n} RefId=\"{i}\" />").unwrap(),
                    None => write!(self.out, "<Ref{n} />").unwrap(),
                }
            }
            Val::Ba(t) => {
                write!(self.out, "<BA{n}>").unwrap();
                self.text(t, depth);
                self.out.push_str("</BA>");
            }
            Val::List(l) => {
                let id = self.id(&l.ref_id);
                let inner_own = id.clone();
                match id {
                    Some(i) => write!(self.out, "<Obj{n} RefId=\"{i}\">").unwrap(),
                    None => write!(self.out, "<Obj{n}>").unwrap(),
                }
                self.types(&l.types, depth);
                if let Some(t) = &l.to_string {
                    self.out.push_str("<ToString>");
                    self.text(t, depth);
                    self.out.push_str("</ToString>");
                }
                let tag = l.tag.tag();
                write!(self.out, "<{tag}>").unwrap();
                for item in &l.items {
                    self.val(item, None, inner_own.as_deref().or(own), depth + 1);
                }
                write!(self.out, "</{tag}></Obj>").unwrap();
            }
            Val::Obj(o) => {
                let id = self.id(&o.ref_id);
                let inner_own = id.clone();
                match id {
                    Some(i) => write!(self.out, "<Obj{n} RefId=\"{i}\">").unwrap(),
                    None => write!(self.out, "<Obj{n}>").unwrap(),
                }
                self.types(&o.types, depth);
                if let Some(t) = &o.to_string {
                    self.out.push_str("<ToString>");
                    self.text(t, depth);
                    self.out.push_str("</ToString>");
                }
                if let Some(i) = o.number {
                    write!(self.out, "<I32>{i}</I32>").unwrap();
                }
                if !o.props.is_empty() {
                    let m = if o.ms { "MS" } else { "Props" };
                    write!(self.out, "<{m}>").unwrap();
                    for p in &o.props {
                        self.prop(p, inner_own.as_deref().or(own), depth + 1);
                    }
                    write!(self.out, "</{m}>").unwrap();
                }
                self.out.push_str("</Obj>");
            }
            Val::Repeat(k, inner) => {
                // The first copy carries the name (a property); the rest are items.
                let count = usize::from(*k).min(80);
                for i in 0..count {
                    self.val(inner, if i == 0 { name } else { None }, own, depth + 1);
                    if !self.room() {
                        break;
                    }
                }
            }
            Val::Deep(levels, inner) => {
                let levels = usize::from(*levels) % 600;
                for i in 0..levels {
                    if i == 0 {
                        write!(self.out, "<Obj{n}><LST>").unwrap();
                    } else {
                        self.out.push_str("<Obj><LST>");
                    }
                }
                self.val(inner, if levels == 0 { name } else { None }, own, depth + 1);
                for _ in 0..levels {
                    self.out.push_str("</LST></Obj>");
                }
            }
            Val::Commented(c, inner) => {
                self.comment(c);
                self.val(inner, name, own, depth + 1);
                self.comment(c);
            }
            Val::CData(t) => {
                write!(self.out, "<S{n}>").unwrap();
                self.cdata(t);
                self.out.push_str("</S>");
            }
        }
    }
}

fn attr_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;")
}

fn text_escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

/// Renders text into `out`, adding at most about `budget` bytes.
fn txt(out: &mut String, t: &Txt, depth: usize, budget: usize) {
    if budget == 0 || depth > MAX_RENDER_DEPTH {
        return;
    }
    let start = out.len();
    match t {
        Txt::Word(k) => text_escape(out, WORDS[usize::from(*k) % WORDS.len()]),
        Txt::Free(s) => text_escape(out, s),
        Txt::Ip(ip) => ip_text(out, ip),
        Txt::Escape(c) => write!(out, "_x{c:04X}_").unwrap(),
        Txt::BadEscape(k) => out.push_str(match k % 5 {
            0 => "_x",
            1 => "_xD800_",
            2 => "_xD800__x0041_",
            3 => "_xZZZZ_",
            _ => "_x00e9",
        }),
        Txt::Entity(e) => match e {
            Ent::Amp => out.push_str("&amp;"),
            Ent::Lt => out.push_str("&lt;"),
            Ent::Gt => out.push_str("&gt;"),
            Ent::Quot => out.push_str("&quot;"),
            Ent::Apos => out.push_str("&apos;"),
            Ent::Dec(n) => write!(out, "&#{n};").unwrap(),
            Ent::Hex(n) => write!(out, "&#x{n:X};").unwrap(),
            Ent::Unknown => out.push_str("&nbsp;"),
        },
        Txt::Long(n, inner) => {
            let mut one = String::new();
            txt(&mut one, inner, depth + 1, budget);
            if one.is_empty() {
                one.push('A');
            }
            let times = (*n as usize % (1 << 21)).min(budget / one.len());
            for _ in 0..times {
                out.push_str(&one);
            }
        }
        Txt::Concat(parts) => {
            for p in parts {
                let used = out.len() - start;
                if used >= budget {
                    break;
                }
                txt(out, p, depth + 1, budget - used);
            }
        }
        Txt::Raw(s) => out.push_str(s),
    }
    if out.len() - start > budget {
        let mut cut = start + budget;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
}

fn ip_text(out: &mut String, ip: &Ip) {
    use std::net::{Ipv4Addr, Ipv6Addr};
    match ip {
        Ip::V4(a) => write!(out, "{}", Ipv4Addr::from(*a)).unwrap(),
        Ip::V4Range(a, b) => write!(out, "{}-{}", Ipv4Addr::from(*a), Ipv4Addr::from(*b)).unwrap(),
        Ip::V4Cidr(a, p) => write!(out, "{}/{}", Ipv4Addr::from(*a), p % 40).unwrap(),
        Ip::V6(a) => write!(out, "{}", Ipv6Addr::from(*a)).unwrap(),
        Ip::V6Range(a, b) => write!(out, "{}-{}", Ipv6Addr::from(*a), Ipv6Addr::from(*b)).unwrap(),
        Ip::V6Cidr(a, p) => write!(out, "{}/{}", Ipv6Addr::from(*a), p % 140).unwrap(),
        Ip::Mapped(a) => write!(out, "::ffff:{}", Ipv4Addr::from(*a)).unwrap(),
    }
}

impl Doc {
    fn render(&self) -> (String, Vec<u8>) {
        let mut r = R {
            nl: if self.crlf { "\r\n" } else { "\n" },
            ..R::default()
        };
        if self.decl {
            r.out.push_str("<?xml version=\"1.0\" encoding=\"utf-16\"?>");
            r.out.push_str(r.nl);
        }
        write!(
            r.out,
            "<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">{}",
            r.nl
        )
        .unwrap();
        for item in &self.items {
            r.top(item);
        }
        r.out.push_str("</Objs>");
        let text = r.out;
        let bytes = match self.enc {
            Enc::Utf8 => text.as_bytes().to_vec(),
            Enc::Utf8Bom => [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat(),
            Enc::Utf16LeBom | Enc::Utf16Le => {
                let mut b = Vec::with_capacity(text.len() * 2 + 2);
                if matches!(self.enc, Enc::Utf16LeBom) {
                    b.extend_from_slice(&[0xFF, 0xFE]);
                }
                for u in text.encode_utf16() {
                    b.extend_from_slice(&u.to_le_bytes());
                }
                b
            }
            Enc::Utf16BeBom => {
                let mut b = vec![0xFE, 0xFF];
                for u in text.encode_utf16() {
                    b.extend_from_slice(&u.to_be_bytes());
                }
                b
            }
        };
        (text, bytes)
    }
}

fn rules() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| RuleSet::builtin().expect("built-in rules load"))
}

/// The scan's CliXML path on bytes in memory (scan_file without the file and the thread).
fn pipeline(bytes: &[u8], split: usize, writer: u8) {
    let Ok((_enc, _preview, mut reader)) = decode::decode(bytes, None) else {
        return;
    };
    let mut text = Vec::new();
    if reader.read_to_end(&mut text).is_err() {
        return;
    }
    let mut filtered = Vec::with_capacity(text.len());
    let mut filter = BlobFilter::new();
    let cut = split.min(text.len());
    filter.process(&text[..cut], &mut filtered, false);
    filter.process(&text[cut..], &mut filtered, false);
    filter.process(&[], &mut filtered, true);
    drop(text);

    let name = "fuzz.xml";
    let file: Arc<str> = Arc::from(name);
    let mut builder = ModelBuilder::new();
    // (as the scan reads: only the properties the model reads are built)
    let result = outcome::clixml(&filtered[..], name, Some(relay_audit::model::reads), &mut |rec| {
        builder.add(&file, &rec) != Use::Dropped
    });
    let errors = match result {
        Ok(o) => {
            if let Some(reason) = &o.not_an_export {
                assert!(!reason.is_empty());
            }
            Vec::new()
        }
        Err(e) => vec![e],
    };
    let (model, diagnostics) = builder.finish();
    let rules = rules();
    let findings = scan::audit(&model, rules);
    let report = scan::report(
        Loaded {
            model,
            inputs: Vec::new(),
            diagnostics,
            errors,
        },
        findings,
        rules,
    );
    let _ = report.exit_code(FailOn::At(Severity::High));
    let mut sink = std::io::sink();
    let fail_on = FailOn::At(Severity::High);
    use relay_audit::report as w;
    let _ = match writer % 7 {
        0 => w::json::write(&report, &mut sink),
        1 => w::markdown::write(&report, rules, fail_on, &mut sink),
        2 => w::sarif::write(&report, rules, fail_on, &mut sink),
        3 => w::html::write(&report, rules, fail_on, &mut sink),
        4 => w::junit::write(&report, rules, fail_on, &mut sink),
        5 => w::csv::write(&report, rules, fail_on, &mut sink),
        _ => w::table::write(&report, &mut sink, 100, false),
    };
}

fuzz_target!(|data: &[u8]| {
    let mut u = arbitrary::Unstructured::new(data);
    let doc = match Doc::arbitrary(&mut u) {
        Ok(d) => d,
        Err(e) => {
            if std::env::var_os("CLIXML_STRUCTURED_DUMP").is_some() {
                eprintln!("arbitrary: {e}");
            }
            return;
        }
    };
    let (_text, bytes) = doc.render();
    // `CLIXML_STRUCTURED_DUMP=FILE cargo fuzz run clixml_structured INPUT` writes the rendered
    // document (as the file a user would scan) for a regression test.
    if let Some(path) = std::env::var_os("CLIXML_STRUCTURED_DUMP") {
        std::fs::write(path, &bytes).expect("write the rendered document");
        let tree = format!("{doc:#?}");
        eprintln!("{}", &tree[..tree.len().min(4000)]);
    }
    pipeline(&bytes, usize::from(doc.split), doc.writer);
});
