//! Console transcripts: what an echoed command says about the output that follows it.
//!
//! Pasted console output and `Start-Transcript` files carry the command before its output,
//! after a prompt (`[PS] C:\Windows\system32>Get-ADPermission "EX01\Relay" | ft User,ExtendedRights`).
//! Format-Table output often lacks the one column that says which object a row belongs to
//! (`ft User,ExtendedRights` has no `Identity`); the command does say it when it names one
//! object. This module reads such a command line, without running or evaluating anything:
//!
//! * [`prompt_command`]: the command after a console prompt, if the line is a prompt;
//! * [`context_from_command`]: the kind of object the pipeline outputs (its last
//!   `Get-ReceiveConnector` / `Get-ADPermission` / `Get-AcceptedDomain` / `Get-ExchangeServer`)
//!   and the one connector it is about (the first positional or `-Identity` argument of the
//!   pipeline's first `Get-ReceiveConnector` / `Get-ADPermission`, quotes stripped), when
//!   the argument names a single object (no wildcard, no variable, no list).
//!
//! * [`format_columns`]: the properties a `Format-Table` in the command names, so that a table
//!   whose columns PowerShell removed (they did not fit the console) can say which.
//!
//! Several statements on one line (`$FormatEnumerationLimit=-1; Get-ReceiveConnector | ft`)
//! are read right to left: the last statement that runs one of the four cmdlets decides.
//! Quoting follows PowerShell: `'...'` (with `''` for a quote), `"..."` (with `` ` `` escapes
//! and `""`); `|` and `;` inside quotes, `(...)`, `{...}` or `[...]` do not split.

use crate::input::record::ObjectKind;

/// What an echoed command says about the objects printed after it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandContext {
    /// The kind of the last of the four Exchange cmdlets in the pipeline.
    pub kind: Option<ObjectKind>,
    /// The one object the pipeline's first `Get-ReceiveConnector` / `Get-ADPermission` names
    /// (as typed, quotes removed, Markdown-doubled backslashes collapsed).
    pub identity: Option<String>,
    /// The one principal the pipeline's `Get-ADPermission -User` names (the audit one-liner
    /// `Get-ReceiveConnector | Get-ADPermission -User "NT Authority\Anonymous Logon" | ... |
    /// fl Identity,ExtendedRights` prints no `User`).
    pub user: Option<String>,
}

impl CommandContext {
    /// [`CommandContext::identity`] when it has the form Exchange prints a connector identity
    /// in (`SERVER\Connector Name`), so that it can stand for an `Identity` column. A bare
    /// name (`"Relay"`), a distinguished name or a GUID selects one object too, but would not
    /// match the `Identity` the connector export shows.
    pub fn connector_identity(&self) -> Option<&str> {
        let id = self.identity.as_deref()?;
        let (server, name) = id.split_once('\\')?;
        let ok = !server.trim().is_empty()
            && !name.trim().is_empty()
            && !name.contains('\\')
            && !server.contains(['=', ',', ' ', '/'])
            && server.trim() == server;
        ok.then_some(id)
    }
}

/// The command after a console prompt: `[PS] C:\Windows\system32>cmd`, `PS C:\> cmd`,
/// `PS>cmd`, `[EX01]: PS C:\> cmd`. `Some("")` for a bare prompt, `None` for other lines.
pub fn prompt_command(line: &str) -> Option<&str> {
    let s = line.trim_start();
    let rest = if let Some(r) = s.strip_prefix("[PS]") {
        r
    } else {
        let s = if s.starts_with('[') {
            // Remote session: `[server]: PS ...>`.
            let i = s.find("]: ")?;
            if i > 80 {
                return None;
            }
            &s[i + 3..]
        } else {
            s
        };
        let r = s.strip_prefix("PS")?;
        if !(r.starts_with(' ') || r.starts_with('>')) {
            return None;
        }
        r
    };
    let gt = rest.find('>')?;
    if gt > 300 {
        return None;
    }
    Some(rest[gt + 1..].trim())
}

/// Reads an echoed command line. Never fails: what it cannot read gives `None` fields.
pub fn context_from_command(cmd: &str) -> CommandContext {
    let statements = split_top_level(cmd, ';');
    for st in statements.iter().rev() {
        let ctx = context_of_pipeline(st);
        if ctx.kind.is_some() {
            return ctx;
        }
    }
    CommandContext::default()
}

/// The properties a command's `Format-Table` / `ft` names, in order (`ft User,ExtendedRights`,
/// `Format-Table -Property User, ExtendedRights -AutoSize`). `None` when the command has no
/// Format-Table, names no property (a default view), or names one this module cannot read as
/// a plain name (a wildcard, a calculated property `@{n=...;e={...}}`, a variable).
pub fn format_columns(cmd: &str) -> Option<Vec<String>> {
    let statements = split_top_level(cmd, ';');
    for st in statements.iter().rev() {
        for segment in split_top_level(st, '|').iter().rev() {
            let seg = segment.trim();
            let (name, rest) = seg.split_once(char::is_whitespace).unwrap_or((seg, ""));
            if name.eq_ignore_ascii_case("ft") || name.eq_ignore_ascii_case("Format-Table") {
                return table_properties(rest);
            }
        }
    }
    None
}

/// The property list among Format-Table's arguments.
fn table_properties(args: &str) -> Option<Vec<String>> {
    const VALUE_PARAMS: [&str; 3] = ["groupby", "view", "expand"];
    let words: Vec<&str> = split_top_level(args, ' ')
        .into_iter()
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .collect();
    let mut list: Option<String> = None;
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        if let Some(p) = w.strip_prefix('-') {
            let p = p.split(':').next().unwrap_or("").to_ascii_lowercase();
            if !p.is_empty() && "property".starts_with(&p) && !w.contains(':') {
                // `-Property a,b`: the list follows.
                i += 1;
                continue;
            }
            if VALUE_PARAMS
                .iter()
                .any(|v| !p.is_empty() && v.starts_with(&p))
                && !w.contains(':')
            {
                i += 2;
                continue;
            }
            i += 1;
            continue;
        }
        // The first non-parameter argument, with `a, b` / `a ,b` spellings joined.
        let mut l = w.to_string();
        while l.ends_with(',') || words.get(i + 1).is_some_and(|n| n.starts_with(',')) {
            i += 1;
            match words.get(i) {
                Some(n) => l.push_str(n),
                None => break,
            }
        }
        list = Some(l);
        break;
    }
    let list = list?;
    let mut out = Vec::new();
    for item in split_top_level(&list, ',') {
        let item = item.trim().trim_matches(['"', '\'']);
        let plain = item.starts_with(|c: char| c.is_ascii_alphabetic())
            && item
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !plain {
            return None;
        }
        out.push(item.to_string());
    }
    (!out.is_empty()).then_some(out)
}

/// The four cmdlets and the kinds they output.
fn cmdlet_kind(name: &str) -> Option<ObjectKind> {
    // Module-qualified names (`Microsoft.Exchange.Management.PowerShell.E2010\Get-...`).
    let name = name.rsplit('\\').next().unwrap_or(name);
    const CMDLETS: [(&str, ObjectKind); 4] = [
        ("Get-ReceiveConnector", ObjectKind::ReceiveConnector),
        ("Get-ADPermission", ObjectKind::AdPermission),
        ("Get-AcceptedDomain", ObjectKind::AcceptedDomain),
        ("Get-ExchangeServer", ObjectKind::ExchangeServer),
    ];
    CMDLETS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, k)| *k)
}

/// Parameters of Get-ReceiveConnector / Get-ADPermission (and the common ones) that take no
/// value. Every other `-Name` is assumed to take the next token as its value.
const SWITCHES: [&str; 9] = [
    "Owner",
    "Deny",
    "ReadFromDomainController",
    "Verbose",
    "Debug",
    "WhatIf",
    "Confirm",
    "IncludeInvocationHeader",
    "ShowDetails",
];

fn context_of_pipeline(statement: &str) -> CommandContext {
    let mut ctx = CommandContext::default();
    let mut identity_taken = false;
    for segment in split_top_level(statement, '|') {
        let tokens = tokenize(segment);
        let Some(first) = tokens.first() else {
            continue;
        };
        let Tok::Word(name) = first else {
            continue;
        };
        let Some(kind) = cmdlet_kind(name) else {
            continue;
        };
        ctx.kind = Some(kind);
        if kind == ObjectKind::AdPermission && ctx.user.is_none() {
            ctx.user = user_argument(&tokens[1..]);
        }
        if !identity_taken
            && matches!(
                kind,
                ObjectKind::ReceiveConnector | ObjectKind::AdPermission
            )
        {
            identity_taken = true;
            ctx.identity = identity_argument(&tokens[1..]);
        }
    }
    ctx
}

/// An echoed `Add-ADPermission` / `Remove-ADPermission` of extended rights: the command itself
/// proves the change (`Get-ReceiveConnector "Relay" | Add-ADPermission -User "NT
/// AUTHORITY\ANONYMOUS LOGON" -ExtendedRights ms-Exch-SMTP-Accept-Any-Recipient`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionChange {
    /// True for `Add-ADPermission`, false for `Remove-ADPermission`.
    pub add: bool,
    /// The connector: `-Identity`, the first positional argument, or the one a piped
    /// `Get-ReceiveConnector` names.
    pub identity: Option<String>,
    pub user: Option<String>,
    pub rights: Vec<String>,
    pub deny: bool,
}

/// Reads an `Add-ADPermission` / `Remove-ADPermission` of extended rights in a command line.
/// `None` when the line changes no extended right or names no principal.
pub fn permission_change(cmd: &str) -> Option<PermissionChange> {
    for st in split_top_level(cmd, ';') {
        let mut piped_identity: Option<String> = None;
        for segment in split_top_level(st, '|') {
            let tokens = tokenize(segment);
            let Some(Tok::Word(name)) = tokens.first() else {
                continue;
            };
            let name = name.rsplit('\\').next().unwrap_or(name);
            if cmdlet_kind(name) == Some(ObjectKind::ReceiveConnector) {
                piped_identity = identity_argument(&tokens[1..]);
                continue;
            }
            let add = if name.eq_ignore_ascii_case("Add-ADPermission") {
                true
            } else if name.eq_ignore_ascii_case("Remove-ADPermission") {
                false
            } else {
                continue;
            };
            let (params, _) = split_args(&tokens[1..]);
            // `-Identity` is positional only as the first argument.
            let first = match tokens.get(1) {
                Some(t @ (Tok::Word(_) | Tok::Quoted(_))) => Some(t),
                _ => None,
            };
            let identity = named(&params, "identity", 2)
                .or(first)
                .and_then(one_object)
                .or_else(|| piped_identity.clone());
            let user = named(&params, "user", 2).and_then(one_object)?;
            let lower = segment.to_ascii_lowercase();
            let at = lower.find("-extendedrights")?;
            let after = &segment[at + "-extendedrights".len()..];
            let end = after
                .match_indices(" -")
                .map(|(i, _)| i)
                .find(|&i| after[i + 2..].starts_with(|c: char| c.is_ascii_alphabetic()))
                .unwrap_or(after.len());
            let rights = crate::input::rows::rights_in(&after[..end]);
            if rights.is_empty() {
                return None;
            }
            let deny = params.iter().any(|(n, _)| n.eq_ignore_ascii_case("deny"));
            return Some(PermissionChange {
                add,
                identity,
                user: Some(user),
                rights,
                deny,
            });
        }
    }
    None
}

/// The arguments of one command: `(parameter, its value)` pairs (a switch has none) and the
/// positional arguments, in order.
fn split_args(args: &[Tok]) -> (Vec<(&str, Option<&Tok>)>, Vec<&Tok>) {
    let (mut named, mut positional) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < args.len() {
        match &args[i] {
            Tok::Param { name, inline } => {
                let is_switch = SWITCHES.iter().any(|s| s.eq_ignore_ascii_case(name));
                let value = match inline {
                    Some(v) => Some(v.as_ref()),
                    None if is_switch => None,
                    None => {
                        i += 1;
                        args.get(i)
                    }
                };
                named.push((name.as_str(), value));
            }
            other => positional.push(other),
        }
        i += 1;
    }
    (named, positional)
}

/// The value of parameter `param`, as typed in full or abbreviated to at least `min` letters.
fn named<'a>(named: &[(&str, Option<&'a Tok>)], param: &str, min: usize) -> Option<&'a Tok> {
    named.iter().find_map(|(name, value)| {
        let lower = name.to_ascii_lowercase();
        (lower.len() >= min && param.starts_with(lower.as_str())).then_some(*value)?
    })
}

/// A token as one object's name: quotes removed, Markdown-doubled backslashes collapsed;
/// `None` for a wildcard, a variable, a list or an expression.
fn one_object(tok: &Tok) -> Option<String> {
    let text = match tok {
        Tok::Word(w) => w.clone(),
        Tok::Quoted(q) => q.clone(),
        _ => return None,
    };
    let text = collapse_backslashes(text.trim());
    (!text.is_empty() && !text.contains('*') && !text.starts_with('$')).then_some(text)
}

/// The `-User` argument, if it names one principal.
fn user_argument(args: &[Tok]) -> Option<String> {
    let (params, _) = split_args(args);
    one_object(named(&params, "user", 2)?)
}

/// The `-Identity` argument, or else the first positional one, if it names one object.
fn identity_argument(args: &[Tok]) -> Option<String> {
    let (params, positional) = split_args(args);
    one_object(named(&params, "identity", 2).or(positional.first().copied())?)
}

/// Markdown copies double backslashes (`EX01\\Relay`); an identity never has two in a row.
fn collapse_backslashes(s: &str) -> String {
    let mut out = s.to_string();
    while out.contains("\\\\") {
        out = out.replace("\\\\", "\\");
    }
    out
}

/// A token of a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// A bare word (`Get-ADPermission`, `EX01\Relay`).
    Word(String),
    /// A quoted string, quotes removed and escapes resolved.
    Quoted(String),
    /// `-Name` or `-Name:value`.
    Param {
        name: String,
        inline: Option<Box<Tok>>,
    },
    /// Something evaluated at run time (`$x`, `(...)`, `@(...)`, `{...}`), a list (`a,b`) or
    /// a word glued to a quoted part: not a literal this module reads.
    Other,
}

/// Splits at `sep` outside quotes and brackets.
fn split_top_level(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth: u32 = 0;
    let mut quote: Option<char> = None;
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match quote {
            Some(q) => {
                if c == '`' && q == '"' {
                    chars.next();
                } else if c == q {
                    // `''` / `""` inside a string of the same quote is an escaped quote.
                    if chars.peek().map(|&(_, n)| n) == Some(q) {
                        chars.next();
                    } else {
                        quote = None;
                    }
                }
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                '`' => {
                    chars.next();
                }
                '(' | '{' | '[' => depth = depth.saturating_add(1),
                ')' | '}' | ']' => depth = depth.saturating_sub(1),
                c if c == sep && depth == 0 => {
                    out.push(&s[start..i]);
                    start = i + c.len_utf8();
                }
                _ => {}
            },
        }
    }
    out.push(&s[start..]);
    out
}

/// Reads one quoted string starting at `chars` (after the opening quote).
fn read_quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, q: char) -> String {
    let mut v = String::new();
    while let Some(c) = chars.next() {
        if q == '"' && c == '`' {
            match chars.next() {
                Some('n') => v.push('\n'),
                Some('t') => v.push('\t'),
                Some('0') => {}
                Some(x) => v.push(x),
                None => {}
            }
        } else if c == q {
            if chars.peek() == Some(&q) {
                chars.next();
                v.push(q);
            } else {
                return v;
            }
        } else {
            v.push(c);
        }
    }
    v
}

/// Tokens of one pipeline segment, for the simple commands admins type.
fn tokenize(segment: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut chars = segment.trim().chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else {
            break;
        };
        out.push(read_token(&mut chars, c, true));
    }
    out
}

fn read_token(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    c: char,
    allow_param: bool,
) -> Tok {
    if c == '\'' || c == '"' {
        chars.next();
        let v = read_quoted(chars, c);
        // A quoted part glued to more text (`"a"b`, `"a","b"`) is not a plain literal.
        if chars.peek().is_some_and(|c| !c.is_whitespace()) {
            skip_word(chars);
            return Tok::Other;
        }
        return Tok::Quoted(v);
    }
    if allow_param && (c == '-' || c == '\u{2013}') {
        let mut name = String::new();
        chars.next();
        while let Some(&c) = chars.peek() {
            if c.is_alphanumeric() || c == '_' {
                name.push(c);
                chars.next();
            } else {
                break;
            }
        }
        if name.is_empty() || !name.starts_with(|c: char| c.is_alphabetic()) {
            // `-5`, a lone `-`: a word.
            skip_word(chars);
            return Tok::Other;
        }
        if chars.peek() == Some(&':') {
            chars.next();
            let inline = match chars.peek() {
                Some(&n) if !n.is_whitespace() => Some(Box::new(read_token(chars, n, false))),
                _ => None,
            };
            return Tok::Param { name, inline };
        }
        if chars.peek().is_some_and(|c| !c.is_whitespace()) {
            skip_word(chars);
            return Tok::Other;
        }
        return Tok::Param { name, inline: None };
    }
    if matches!(c, '$' | '(' | '{' | '@' | '[') {
        skip_word(chars);
        return Tok::Other;
    }
    let mut w = String::new();
    let mut other = false;
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            break;
        }
        if matches!(c, '\'' | '"' | ',' | '(' | '{' | '$') {
            other = true;
            skip_word(chars);
            break;
        }
        if c == '`' {
            chars.next();
            if let Some(n) = chars.next() {
                w.push(n);
            }
            continue;
        }
        w.push(c);
        chars.next();
    }
    if other {
        Tok::Other
    } else {
        Tok::Word(w)
    }
}

/// Skips to the next whitespace outside quotes and brackets.
fn skip_word(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    let mut depth: u32 = 0;
    while let Some(&c) = chars.peek() {
        if depth == 0 && c.is_whitespace() {
            return;
        }
        chars.next();
        match c {
            '\'' | '"' => {
                read_quoted(chars, c);
            }
            '`' => {
                chars.next();
            }
            '(' | '{' | '[' => depth = depth.saturating_add(1),
            ')' | '}' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ctx(cmd: &str) -> (Option<ObjectKind>, Option<String>) {
        let c = context_from_command(cmd);
        (c.kind, c.identity)
    }

    fn s(x: &str) -> Option<String> {
        Some(x.to_string())
    }

    #[test]
    fn permissions_of_one_connector() {
        use ObjectKind::*;
        assert_eq!(
            ctx(r#"Get-ADPermission "EX01\Relay""#),
            (Some(AdPermission), s(r"EX01\Relay"))
        );
        assert_eq!(
            ctx(r#"Get-ADPermission -Identity 'EX01\Relay'"#),
            (Some(AdPermission), s(r"EX01\Relay"))
        );
        assert_eq!(
            ctx(r#"Get-ReceiveConnector "EX01\Relay" | Get-ADPermission | ft User,ExtendedRights"#),
            (Some(AdPermission), s(r"EX01\Relay"))
        );
        assert_eq!(
            ctx(
                r#"Get-ADPermission "EX01\Anonymous Relay EX01" | ft User,ExtendedRights,Deny,IsInherited -AutoSize"#
            ),
            (Some(AdPermission), s(r"EX01\Anonymous Relay EX01"))
        );
        assert_eq!(
            ctx(r#"get-adpermission -identity:"EX01\Relay" -User "NT AUTHORITY\ANONYMOUS LOGON""#),
            (Some(AdPermission), s(r"EX01\Relay"))
        );
        // -User before the positional identity: its value is not the identity.
        assert_eq!(
            ctx(r#"Get-ADPermission -User "NT AUTHORITY\ANONYMOUS LOGON" "EX01\Relay""#),
            (Some(AdPermission), s(r"EX01\Relay"))
        );
        // Unquoted, and Markdown-doubled backslashes.
        assert_eq!(
            ctx(r"Get-ADPermission EX01\\Relay | fl"),
            (Some(AdPermission), s(r"EX01\Relay"))
        );
        // Abbreviated -Identity.
        assert_eq!(
            ctx(r#"Get-ReceiveConnector -Id "EX01\Relay" | Get-ADPermission"#),
            (Some(AdPermission), s(r"EX01\Relay"))
        );
    }

    #[test]
    fn the_user_of_the_audit_one_liner() {
        let c = context_from_command(
            r#"Get-ReceiveConnector | Get-ADPermission -User "NT Authority\Anonymous Logon" | Where-Object {$_.ExtendedRights -like "ms-Exch-SMTP-Accept-Any-Recipient"} | Format-List Identity,ExtendedRights"#,
        );
        assert_eq!(c.kind, Some(ObjectKind::AdPermission));
        assert_eq!(c.user.as_deref(), Some(r"NT Authority\Anonymous Logon"));
        assert_eq!(c.identity, None);
        let c = context_from_command(r#"Get-ADPermission 'EX01\Relay' -us:'ANONYMOUS LOGON'"#);
        assert_eq!(c.user.as_deref(), Some("ANONYMOUS LOGON"));
        assert_eq!(
            context_from_command("Get-ADPermission x -User $u").user,
            None
        );
        assert_eq!(
            context_from_command("Get-ADPermission x -User *anon*").user,
            None
        );
    }

    #[test]
    fn connectors_and_others() {
        use ObjectKind::*;
        assert_eq!(
            ctx(r#"Get-ReceiveConnector -Identity "Relay" | fl"#),
            (Some(ReceiveConnector), s("Relay"))
        );
        assert_eq!(
            context_from_command(r#"Get-ReceiveConnector -Identity "Relay" | fl"#)
                .connector_identity(),
            None
        );
        assert_eq!(ctx("Get-AcceptedDomain | ft"), (Some(AcceptedDomain), None));
        assert_eq!(ctx("Get-ExchangeServer"), (Some(ExchangeServer), None));
        assert_eq!(
            ctx("Get-ReceiveConnector | ft Identity,Enabled,Bindings,RemoteIPRanges -AutoSize"),
            (Some(ReceiveConnector), None)
        );
        assert_eq!(
            ctx("Get-ReceiveConnector -Server EX01 | Get-ADPermission | ft User,ExtendedRights"),
            (Some(AdPermission), None)
        );
        assert_eq!(ctx("Get-TransportService | fl"), (None, None));
        assert_eq!(ctx(""), (None, None));
        assert_eq!(
            ctx("$FormatEnumerationLimit = -1; Get-ReceiveConnector \"EX01\\Relay\" | fl"),
            (Some(ReceiveConnector), s(r"EX01\Relay"))
        );
        assert_eq!(
            ctx("Get-ReceiveConnector \"EX01\\Relay\" | fl; Get-Date"),
            (Some(ReceiveConnector), s(r"EX01\Relay"))
        );
    }

    #[test]
    fn several_objects_or_run_time_values_give_no_identity() {
        use ObjectKind::*;
        for cmd in [
            "Get-ReceiveConnector | Get-ADPermission | ft User,ExtendedRights",
            "Get-ReceiveConnector *Relay* | Get-ADPermission",
            "Get-ADPermission \"EX01\\Relay*\"",
            "Get-ADPermission $c.Identity",
            "Get-ADPermission ($c.Identity)",
            "Get-ADPermission \"EX01\\A\",\"EX01\\B\"",
            "Get-ADPermission EX01\\A,EX01\\B",
            "Get-ReceiveConnector | where {$_.Name -eq 'Relay'} | Get-ADPermission \"EX01\\Relay\"",
        ] {
            assert_eq!(ctx(cmd), (Some(AdPermission), None), "{cmd}");
        }
        // A pipe inside a script block does not split the pipeline.
        assert_eq!(
            ctx("Get-ReceiveConnector | ForEach-Object { $_ | Get-ADPermission } | ft"),
            (Some(ReceiveConnector), None)
        );
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(
            ctx(r#"Get-ADPermission "EX01\Relay ""A""" | ft"#).1,
            s(r#"EX01\Relay "A""#)
        );
        assert_eq!(
            ctx(r#"Get-ADPermission 'EX01\Bob''s Relay' | ft"#).1,
            s(r"EX01\Bob's Relay")
        );
        assert_eq!(
            ctx(r#"Get-ADPermission "EX01\Relay `"A`"" | ft"#).1,
            s(r#"EX01\Relay "A""#)
        );
        assert_eq!(
            ctx(r#"Get-ADPermission "EX01\Relay | ft"#).1,
            s(r"EX01\Relay | ft")
        );
    }

    #[test]
    fn format_table_columns() {
        let v = |x: &[&str]| Some(x.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            format_columns("Get-ReceiveConnector | ft Identity,Enabled,Bindings -AutoSize"),
            v(&["Identity", "Enabled", "Bindings"])
        );
        assert_eq!(
            format_columns(
                "Get-ADPermission \"EX01\\Relay\" | Format-Table -AutoSize -Property User, ExtendedRights ,Deny"
            ),
            v(&["User", "ExtendedRights", "Deny"])
        );
        assert_eq!(
            format_columns("Get-ReceiveConnector | ft -GroupBy Server Identity,Enabled -Wrap"),
            v(&["Identity", "Enabled"])
        );
        assert_eq!(
            format_columns(
                "Get-ReceiveConnector | ft Identity,Enabled -AutoSize | Out-String -Width 4096"
            ),
            v(&["Identity", "Enabled"])
        );
        assert_eq!(format_columns("Get-ReceiveConnector | ft"), None);
        assert_eq!(format_columns("Get-ReceiveConnector | ft -AutoSize"), None);
        assert_eq!(format_columns("Get-ReceiveConnector | fl Identity"), None);
        assert_eq!(format_columns("Get-ReceiveConnector | ft *"), None);
        assert_eq!(
            format_columns("Get-ReceiveConnector | ft Identity,@{n='Max';e={$_.MaxMessageSize}}"),
            None
        );
    }

    #[test]
    fn connector_identity_shape() {
        let c = |s: &str| CommandContext {
            kind: None,
            identity: Some(s.to_string()),
            user: None,
        };
        assert_eq!(c(r"EX01\Relay").connector_identity(), Some(r"EX01\Relay"));
        assert_eq!(c("Relay").connector_identity(), None);
        assert_eq!(
            c("CN=Relay,CN=SMTP Receive Connectors,CN=Protocols").connector_identity(),
            None
        );
        assert_eq!(c(r"\Relay").connector_identity(), None);
        assert_eq!(c(r"A\B\C").connector_identity(), None);
    }

    #[test]
    fn prompts() {
        assert_eq!(
            prompt_command("[PS] C:\\Windows\\system32>Get-ADPermission \"EX01\\Relay\""),
            Some("Get-ADPermission \"EX01\\Relay\"")
        );
        assert_eq!(prompt_command("PS C:\\> fl"), Some("fl"));
        assert_eq!(
            prompt_command("PS>Get-ExchangeServer"),
            Some("Get-ExchangeServer")
        );
        assert_eq!(
            prompt_command("[ex01.contoso.com]: PS C:\\> Get-AcceptedDomain"),
            Some("Get-AcceptedDomain")
        );
        assert_eq!(prompt_command("[PS] C:\\Windows\\system32>"), Some(""));
        assert_eq!(prompt_command("PSComputerName : ex01"), None);
        assert_eq!(prompt_command("Identity  User"), None);
    }

    proptest! {
        #[test]
        fn never_panics(s in "[ -~\t'\"`|;(){}\\[\\]$@,:*…é–]{0,200}") {
            let _ = context_from_command(&s);
            let _ = prompt_command(&s);
            let _ = format_columns(&s);
        }
    }
}
