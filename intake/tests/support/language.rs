//! The check that a screen speaks Vietnamese where a person reads: no English words, no
//! snake_case codes, no kebab-case ids outside what people typed themselves. English may follow,
//! second, after " / ". Shared by the centre's page test and the app's end-to-end test.
#![allow(dead_code)]

/// English words that no Vietnamese sentence contains.
const ENGLISH: &[&str] = &[
    "the",
    "and",
    "of",
    "is",
    "are",
    "was",
    "not",
    "for",
    "with",
    "from",
    "by",
    "this",
    "that",
    "household",
    "households",
    "enumerator",
    "village",
    "form",
    "forms",
    "error",
    "request",
    "found",
    "none",
    "bad",
    "page",
    "event",
    "events",
    "rejected",
    "assigned",
    "serial",
    "passphrase",
    "password",
    "wrong",
    "open",
    "opens",
    "campaign",
    "tick",
    "box",
    "choose",
    "minimum",
    "please",
    "invalid",
    "unknown",
    "decision",
    "required",
    "cannot",
    "must",
    "does",
    "already",
    "resolved",
    "only",
    "your",
    "you",
    "on",
    "at",
    "it",
    "or",
    "if",
    "too",
    "large",
    "at",
    "least",
    "characters",
    "account",
    "accounts",
    "login",
    "logged",
    "district",
    "province",
    "commune",
    "answers",
    "answer",
    "key",
    "keys",
    "date",
    "from",
    "until",
    "read",
    "page_read",
    "transcribed",
    "distributed",
    "collected",
    "verified",
];

/// Proper nouns and words of other tongues that Vietnamese pages use as they are.
const PROPER: &[&str] = &[
    "Fieldpost",
    "SIPAS",
    "CSV",
    "XLSX",
    "QR",
    "Zalo",
    "Facebook",
    "Internet",
    "UTC",
    "PAR",
    "Index",
    "TP",
    "TX",
    "KP",
    "THCS",
    "THPT",
    "CNTT",
];

/// The visible text of a page, without markup, scripts, styles or drawings.
pub fn visible_text(html: &str) -> String {
    let mut text = html.to_string();
    for tag in ["script", "style", "svg", "title"] {
        while let (Some(start), Some(end)) = (
            text.find(&format!("<{tag}")),
            text.find(&format!("</{tag}>")),
        ) {
            if end < start {
                break;
            }
            text.replace_range(start..end + tag.len() + 3, " ");
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push('\n');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

/// The page without the cells that open with `opening`.
pub fn without_cells(html: &str, opening: &str) -> String {
    let mut html = html.to_string();
    while let Some(start) = html.find(opening) {
        let end = html[start..]
            .find("</td>")
            .map(|e| start + e + 5)
            .unwrap_or(html.len());
        html.replace_range(start..end, "");
    }
    html
}

/// What in a page is not Vietnamese: English words, snake_case codes, kebab-case ids.
pub fn problems(html: &str, allowed: &[&str]) -> Vec<String> {
    problems_in_text(&visible_text(html), allowed)
}

/// The same for text already rendered (a webview's `innerText`).
pub fn problems_in_text(text: &str, allowed: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        // Vietnamese only: English is not appended any more.
        let mut line = line.to_string();
        for a in allowed {
            line = line.replace(a, " ");
        }
        // JSON, and dates written as a machine writes them (2024-11-23, 2024-11-23T09:00).
        if line.contains("{\"") || line.contains("\":") {
            found.push(format!("JSON in {:?}", line.trim()));
        }
        let bytes = line.as_bytes();
        for i in 0..bytes.len().saturating_sub(9) {
            let d = |k: usize| bytes[i + k].is_ascii_digit();
            if d(0)
                && d(1)
                && d(2)
                && d(3)
                && bytes[i + 4] == b'-'
                && d(5)
                && d(6)
                && bytes[i + 7] == b'-'
                && d(8)
                && d(9)
            {
                found.push(format!("a machine's date in {:?}", line.trim()));
                break;
            }
        }
        for p in PROPER {
            line = line.replace(p, " ");
        }
        for token in line
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .filter(|t| !t.is_empty())
        {
            let lower = token.to_lowercase();
            let code_like = token.contains('_')
                || (token.contains('-')
                    && token.chars().any(|c| c.is_ascii_lowercase())
                    && token.split('-').filter(|p| !p.is_empty()).count() >= 2
                    && token.is_ascii());
            if code_like || ENGLISH.contains(&lower.as_str()) {
                found.push(format!("{token:?} in {:?}", line.trim()));
            }
        }
    }
    found
}
