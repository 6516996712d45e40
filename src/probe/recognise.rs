//! Stub: replaced by the recognition module.
use serde::Serialize;
pub struct Seen<'a> {
    pub banner: &'a [String],
    pub ehlo: &'a [String],
    pub replies: &'a [(&'a str, &'a [String])],
}
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Recognition {
    pub server: &'static str,
    pub label: String,
    pub version: Option<String>,
    pub confidence: &'static str,
    pub clues: Vec<String>,
}
pub fn recognise(seen: &Seen<'_>) -> Recognition {
    let b = seen.banner.join(" ");
    let server = if b.contains("Microsoft ESMTP MAIL Service, Version:") {
        "exchange-2000-2003"
    } else if b.contains("Microsoft ESMTP MAIL Service ready at") {
        "exchange-2013+"
    } else if b.contains("Exim") {
        "exim"
    } else {
        "unknown"
    };
    Recognition {
        server,
        label: server.into(),
        version: None,
        confidence: "low",
        clues: vec![],
    }
}
pub fn agrees_with_product(r: &Recognition, product: &str) -> Option<bool> {
    let family: &[&str] = match r.server {
        "exchange-5.5" => &["4.0", "5.0", "5.5"],
        "exchange-2000-2003" => &["2000", "2003"],
        "exchange-2007-2010" => &["2007", "2010"],
        "exchange-2013+" => &["2013", "2016", "2019", "SE"],
        _ => return None,
    };
    Some(family.contains(&product))
}
