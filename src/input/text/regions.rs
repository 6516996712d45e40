//! Regions: a transcript split at its echoed commands.
//!
//! A region is the run of lines after one command (after a prompt, or a bare `Get-…` / `Set-…`
//! / `Add-…` command line, or `$Variable = …`). A command a mail client wrapped onto the next
//! line is joined again first.

use crate::input::paste::Line;
use crate::input::transcript::prompt_command;

/// A run of lines after one command.
pub(super) struct Region {
    pub(super) command: Option<(u32, String)>,
    pub(super) lines: Vec<Line>,
}

/// A command line without a prompt: `Get-ReceiveConnector ...`, `Add-ADPermission ...`,
/// `$FormatEnumerationLimit = -1`.
pub(super) fn bare_command(line: &str) -> Option<&str> {
    let t = line.trim();
    if let Some(var) = t.strip_prefix('$') {
        let name_end = var
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(var.len());
        return (name_end > 0 && var[name_end..].trim_start().starts_with('=')).then_some(t);
    }
    let word = t.split_whitespace().next()?;
    let word = word.rsplit('\\').next().unwrap_or(word);
    let (verb, noun) = word.split_once('-')?;
    const VERBS: [&str; 10] = [
        "Get", "Set", "Add", "Remove", "New", "Enable", "Disable", "Export", "Import", "Test",
    ];
    let ok = VERBS.iter().any(|v| v.eq_ignore_ascii_case(verb))
        && noun.len() >= 3
        && noun.chars().all(|c| c.is_ascii_alphanumeric())
        && noun.starts_with(|c: char| c.is_ascii_uppercase())
        && !t.contains(" : ");
    ok.then_some(t)
}

/// Quotes or brackets left open: the command goes on on the next line.
pub(super) fn unbalanced(cmd: &str) -> bool {
    let (mut dq, mut sq, mut depth) = (false, false, 0i32);
    for c in cmd.chars() {
        match c {
            '"' if !sq => dq = !dq,
            '\'' if !dq => sq = !sq,
            '(' | '{' if !dq && !sq => depth += 1,
            ')' | '}' if !dq && !sq => depth -= 1,
            _ => {}
        }
    }
    dq || sq || depth > 0
}

/// Whether `next` continues a command that a mail client wrapped.
pub(super) fn continues(cmd: &str, next: &str, after: Option<&str>) -> bool {
    let n = next.trim_start();
    if n.is_empty() || prompt_command(next).is_some() || bare_command(next).is_some() {
        return false;
    }
    if after.is_some_and(is_dash_row) || is_list_line(next) {
        return false;
    }
    let c = cmd.trim_end();
    // `... | fl` / `select` / `-Property` at the end of the line: the property list follows.
    let last = c.rsplit(char::is_whitespace).next().unwrap_or("");
    let wants_list = [
        "fl",
        "ft",
        "select",
        "Format-List",
        "Format-Table",
        "Select-Object",
        "-Property",
    ]
    .iter()
    .any(|w| w.eq_ignore_ascii_case(last));
    let first = n.split_whitespace().next().unwrap_or("");
    let property_list = !first.is_empty()
        && first
            .split(',')
            .all(|p| !p.is_empty() && p.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '*'));
    (wants_list && property_list)
        || c.ends_with('|')
        || c.ends_with(',')
        || unbalanced(c)
        || n.starts_with('|')
        || (n.starts_with('-') && n[1..].starts_with(|ch: char| ch.is_ascii_alphabetic()))
        || (n.contains(" | ") || n.contains(" -") && n.contains(','))
        || n.starts_with(">>")
}

pub(super) fn regions(lines: Vec<Line>) -> Vec<Region> {
    let mut out = vec![Region {
        command: None,
        lines: Vec::new(),
    }];
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        let cmd = prompt_command(&line.text).or_else(|| bare_command(&line.text));
        match cmd {
            Some(cmd) => {
                let mut cmd = cmd.to_string();
                let no = line.no;
                while let Some(next) = lines.get(i + 1) {
                    let after = lines.get(i + 2).map(|l| l.text.as_str());
                    if !continues(&cmd, &next.text, after) {
                        break;
                    }
                    let more = next.text.trim();
                    let more = more.strip_prefix(">>").unwrap_or(more).trim();
                    cmd.push(' ');
                    cmd.push_str(more);
                    i += 1;
                }
                out.push(Region {
                    command: (!cmd.is_empty()).then_some((no, cmd)),
                    lines: Vec::new(),
                });
            }
            None => out.last_mut().expect("one region").lines.push(line.clone()),
        }
        i += 1;
    }
    out
}

pub(super) fn is_dash_row(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && t.contains('-') && t.chars().all(|c| c == '-' || c == ' ')
}

/// `Name : Value` (or `Name :`), a Format-List line.
pub(super) fn is_list_line(line: &str) -> bool {
    let Some((name, _)) = line.split_once(':') else {
        return false;
    };
    let name = name.trim();
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}
