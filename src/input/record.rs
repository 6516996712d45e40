//! Records: the one shape every input format is parsed into.
//!
//! A [`Record`] is an ordered bag of `property -> value` pairs, as close to the export as
//! possible (original property names and spelling), with the line each came from. Parsers
//! know nothing of the model; `crate::model` turns records into typed objects, one place
//! per kind. M formats x N kinds costs M + N pieces of code.

use serde::{Deserialize, Serialize};

/// The kinds of Exchange object relay-audit reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectKind {
    /// `Get-ReceiveConnector`
    ReceiveConnector,
    /// `Get-ADPermission` (one access-control entry per record)
    AdPermission,
    /// `Get-AcceptedDomain`
    AcceptedDomain,
    /// `Get-ExchangeServer` (or a `[[server]]` of a settings file, for legacy versions)
    ExchangeServer,
    /// Exchange 4.0/5.0/5.5 Internet Mail Service (Internet Mail Connector)
    Imc,
    /// Exchange 2000/2003 SMTP virtual server (`protocolCfgSMTPServer`)
    SmtpVirtualServer,
    /// Exchange 2000/2003 SMTP connector (`msExchRoutingSMTPConnector`)
    SmtpConnector,
    /// An input file itself, for what it shows but relay-audit could not read
    /// (`INPUT-NOT-UNDERSTOOD`). No record has this kind.
    Input,
    /// `Get-TransportService`, `Get-FrontEndTransportService`, `Get-TransportServer`: the
    /// protocol-log retention.
    TransportService,
    /// A receive connector (or SMTP virtual server) as the SMTP logs show it: who used it
    /// and who relayed. No record has this kind.
    RelayUsage,
    /// A live relay probe of one host (`relay-audit probe`). No record has this kind.
    Probe,
}

impl ObjectKind {
    /// The kebab-case name used in JSON (`object.kind`) and in rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::ReceiveConnector => "receive-connector",
            ObjectKind::AdPermission => "ad-permission",
            ObjectKind::AcceptedDomain => "accepted-domain",
            ObjectKind::ExchangeServer => "exchange-server",
            ObjectKind::Imc => "imc",
            ObjectKind::SmtpVirtualServer => "smtp-virtual-server",
            ObjectKind::SmtpConnector => "smtp-connector",
            ObjectKind::Input => "input",
            ObjectKind::RelayUsage => "relay-usage",
            ObjectKind::TransportService => "transport-service",
            ObjectKind::Probe => "probe",
        }
    }

    /// Parses the kebab-case name.
    pub fn parse(s: &str) -> Option<ObjectKind> {
        Some(match s {
            "receive-connector" => ObjectKind::ReceiveConnector,
            "ad-permission" => ObjectKind::AdPermission,
            "accepted-domain" => ObjectKind::AcceptedDomain,
            "exchange-server" => ObjectKind::ExchangeServer,
            "imc" => ObjectKind::Imc,
            "smtp-virtual-server" => ObjectKind::SmtpVirtualServer,
            "smtp-connector" => ObjectKind::SmtpConnector,
            "input" => ObjectKind::Input,
            "relay-usage" => ObjectKind::RelayUsage,
            "transport-service" => ObjectKind::TransportService,
            "probe" => ObjectKind::Probe,
            _ => return None,
        })
    }

    /// Every kind, in report order.
    pub const ALL: [ObjectKind; 7] = [
        ObjectKind::ExchangeServer,
        ObjectKind::ReceiveConnector,
        ObjectKind::AdPermission,
        ObjectKind::AcceptedDomain,
        ObjectKind::Imc,
        ObjectKind::SmtpVirtualServer,
        ObjectKind::SmtpConnector,
    ];

    /// The legacy (Exchange 4.0-2003) kinds, read from settings files.
    pub fn is_legacy(self) -> bool {
        matches!(
            self,
            ObjectKind::Imc | ObjectKind::SmtpVirtualServer | ObjectKind::SmtpConnector
        )
    }
}

/// A property value as the export shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `<Nil/>` in CliXML, an empty value in text forms.
    Null,
    /// A scalar, or a flag enum as its display text (`AnonymousUsers, ExchangeServers`).
    Text(String),
    /// A collection. `truncated` is true when the export cut it off (`{a, b, c, d...}`):
    /// the items shown are only the first ones and the rest is unknown.
    List { items: Vec<String>, truncated: bool },
    /// A scalar the export cut off (a Format-Table cell ending in `...`): only the shown
    /// prefix (without the dots) is known, and it must never be matched as if whole.
    Cut(String),
    /// The export wrote the value's .NET type name instead of the value (`Export-Csv` of a
    /// multi-valued property without `-join`:
    /// ``Microsoft.Exchange.Data.MultiValuedProperty`1[...]``): the data is missing.
    Missing(String),
    /// The export holds the property, but its value could not be read (a `<Ref>` to an
    /// object never defined or defined twice, an expansion over the budget): unknown
    /// evidence, judged as cut, never as empty.
    Unreadable(String),
}

impl Value {
    /// The scalar text, if this is a non-empty scalar.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// True when the export did not carry the whole value (cut list or cell, type name).
    pub fn is_incomplete(&self) -> bool {
        matches!(
            self,
            Value::List {
                truncated: true,
                ..
            } | Value::Cut(_)
                | Value::Missing(_)
                | Value::Unreadable(_)
        )
    }

    /// The value rendered the way Format-List would print it (for evidence).
    pub fn display(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Text(s) => s.clone(),
            Value::List { items, truncated } => {
                let mut s = items.join(", ");
                if *truncated {
                    s.push_str("...");
                }
                s
            }
            Value::Cut(s) => format!("{s}..."),
            Value::Missing(t) => format!("(not exported: only the type name {t})"),
            Value::Unreadable(why) => format!("(unreadable: {why})"),
        }
    }
}

/// One property of a record, with the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prop {
    pub name: String,
    pub value: Value,
    pub line: u32,
}

/// One exported object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub kind: ObjectKind,
    /// 1-based line where the object starts in the decoded text.
    pub line: u32,
    pub props: Vec<Prop>,
}

impl Record {
    pub fn new(kind: ObjectKind, line: u32) -> Record {
        Record {
            kind,
            line,
            props: Vec::new(),
        }
    }

    /// The property by name (case-insensitive, as PowerShell property names are).
    pub fn get(&self, name: &str) -> Option<&Prop> {
        self.props
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The property's value by name.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.get(name).map(|p| &p.value)
    }

    /// Appends a property.
    pub fn push(&mut self, name: impl Into<String>, value: Value, line: u32) {
        self.props.push(Prop {
            name: name.into(),
            value,
            line,
        });
    }
}
