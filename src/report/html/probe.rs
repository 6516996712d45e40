//! The HTML report's section for one live probe: verdicts per form and the conversation.

use super::esc;

/// The HTML rendering (a `<section>`); every value escaped.
pub(super) fn probe_section(run: &crate::probe::ProbeRun) -> String {
    let e = esc;
    let view = crate::report::probe::view(run);
    let mut s = format!(
        "<section class=\"probe\">\n<h2>{}</h2>\n<dl>\n",
        e(&view.title)
    );
    for (k, val) in &view.facts {
        s.push_str(&format!("<dt>{}</dt><dd>{}</dd>\n", e(k), e(val)));
    }
    s.push_str("</dl>\n<table>\n<thead><tr><th>Form</th><th>MAIL FROM → RCPT TO</th><th>Answer</th><th>Verdict</th></tr></thead>\n<tbody>\n");
    for r in &view.forms {
        s.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            if i == 3 {
                s.push_str(&format!("<td class=\"verdict {}\">{}</td>", e(c), e(c)));
            } else {
                s.push_str(&format!("<td><code>{}</code></td>", e(c)));
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>\n");
    if let Some(c) = &view.compare {
        s.push_str(&format!(
            "<h3>Against the export: {}</h3>\n<table class=\"side-by-side\">\n<thead><tr><th>{}</th><th>{}</th></tr></thead>\n<tbody>\n<tr><td><strong>{}</strong></td><td><strong>{}</strong></td></tr>\n",
            e(&c.outcome),
            e(&c.heads[0]),
            e(&c.heads[1]),
            e(&c.verdicts[0]),
            e(&c.verdicts[1])
        ));
        for r in &c.rows {
            s.push_str(&format!(
                "<tr><td><code>{}</code></td><td><code>{}</code></td></tr>\n",
                e(&r[0]),
                e(&r[1])
            ));
        }
        s.push_str("</tbody>\n</table>\n<ul>\n");
        for x in &c.explanations {
            s.push_str(&format!("<li>{}</li>\n", e(x)));
        }
        s.push_str("</ul>\n");
    }
    for n in &view.notes {
        s.push_str(&format!("<p class=\"note\">{}</p>\n", e(n)));
    }
    s.push_str("</section>\n");
    s
}
