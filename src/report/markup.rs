//! Escaping for every format a report is written into. Any string that came from the
//! user or the target (the run's name, the command's arguments, paths, column names,
//! notes that quote them) goes through one of these before it lands in a report.
//!
//! The tables several renderings draw (checks, metrics, allocation sites, compare) are
//! built once as a [`Table`] (see `rows`) and drawn here per markup.

use crate::analysis::Verdict;
use std::fmt::Write;

/// Which markup a string is written into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Markup {
    /// A terminal: control characters are made visible, nothing else changes.
    Plain,
    /// CommonMark / GitHub-flavoured Markdown (report.md, the step summary).
    Markdown,
    /// HTML element content or a quoted attribute value.
    Html,
}

impl Markup {
    /// `s` as text in this markup.
    pub fn text(self, s: &str) -> String {
        match self {
            Markup::Plain => plain(s),
            Markup::Markdown => md_text(s),
            Markup::Html => html(s),
        }
    }

    /// `s` shown as code (a command line) in this markup.
    pub fn code(self, s: &str) -> String {
        match self {
            Markup::Plain => format!("`{}`", plain(s)),
            Markup::Markdown => md_code(s),
            Markup::Html => format!("<code>{}</code>", html(s)),
        }
    }
}

/// One cell of a [`Table`].
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text from anywhere (a name, an explanation, a formatted figure with brackets):
    /// escaped for the markup.
    Text(String),
    /// A figure soak formatted itself (a count, a size, `+1.5%`): no markup can form in
    /// it, so it is written as it is (a Markdown escape would show a leading `+`).
    Figure(String),
    /// A verdict: a coloured badge in HTML, its word elsewhere.
    Verdict(Verdict),
    /// A backtrace, innermost frame first: one frame per line in HTML, joined by ` ← `
    /// where a cell has no lines (Markdown, a terminal).
    Frames(Vec<String>),
}

/// A table drawn the same way by every rendering that shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Column headers: soak's own words, written as they are (a Markdown escape would
    /// show, e.g. `\[` or `\#`).
    pub headers: Vec<&'static str>,
    /// Whether each column holds figures, right-aligned in HTML (`class="num"`).
    pub numeric: Vec<bool>,
    /// The rows, one cell per header.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table with these headers, no figure columns and no rows yet.
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            numeric: vec![false; headers.len()],
            rows: Vec::new(),
        }
    }

    /// Marks every column but the first `text_columns` as figures.
    pub fn figures_after(mut self, text_columns: usize) -> Table {
        for (i, n) in self.numeric.iter_mut().enumerate() {
            *n = i >= text_columns;
        }
        self
    }

    /// The table in markup `m`: a GFM table (Markdown), a `<table>` (HTML), or columns
    /// padded to their widest cell and indented two spaces (a terminal). Every line of
    /// a Markdown or terminal table ends with a newline; HTML has none.
    pub fn render(&self, m: Markup) -> String {
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|row| row.iter().map(|c| cell(c, m)).collect())
            .collect();
        let headers: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        let mut s = String::new();
        match m {
            Markup::Markdown => {
                let _ = writeln!(s, "| {} |", headers.join(" | "));
                let _ = writeln!(s, "|{}", "---|".repeat(headers.len()));
                for row in &cells {
                    let _ = writeln!(s, "| {} |", row.join(" | "));
                }
            }
            Markup::Html => {
                s.push_str("<table><tr>");
                for h in &headers {
                    let _ = write!(s, "<th>{h}</th>");
                }
                s.push_str("</tr>");
                for row in &cells {
                    s.push_str("<tr>");
                    for (c, numeric) in row.iter().zip(&self.numeric) {
                        let class = if *numeric { " class=\"num\"" } else { "" };
                        let _ = write!(s, "<td{class}>{c}</td>");
                    }
                    s.push_str("</tr>");
                }
                s.push_str("</table>");
            }
            Markup::Plain => {
                let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
                for row in &cells {
                    for (w, c) in widths.iter_mut().zip(row) {
                        *w = (*w).max(c.chars().count());
                    }
                }
                for row in std::iter::once(&headers).chain(&cells) {
                    let mut l = String::from("  ");
                    for (c, w) in row.iter().zip(&widths) {
                        let _ = write!(l, "{c:<w$}  ");
                    }
                    let _ = writeln!(s, "{}", l.trim_end());
                }
            }
        }
        s
    }
}

/// One cell in markup `m`.
fn cell(c: &Cell, m: Markup) -> String {
    match c {
        Cell::Text(t) => m.text(t),
        Cell::Figure(f) => f.clone(),
        Cell::Verdict(v) => match m {
            Markup::Html => format!("<span class=\"badge {v}\">{v}</span>"),
            Markup::Plain | Markup::Markdown => v.to_string(),
        },
        Cell::Frames(f) => match m {
            Markup::Html => f.iter().map(|x| html(x)).collect::<Vec<_>>().join("<br>"),
            Markup::Plain | Markup::Markdown => m.text(&f.join(" ← ")),
        },
    }
}

/// Makes control characters visible (`\u{1b}`), so a target's argument cannot move the
/// cursor or recolour the terminal; everything else is kept.
pub fn plain(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            o.extend(c.escape_default());
        } else {
            o.push(c);
        }
    }
    o
}

/// Escapes text for HTML element content and attribute values.
pub fn html(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Escapes text for Markdown inline content: a heading, a list item or a table cell.
/// `<`, `>` and `&` become entities (no raw HTML can form); the ASCII punctuation
/// that opens inline markup anywhere in a line (emphasis, links, code spans, table
/// pipes, a heading's closing `#`s, strikethrough, math) is backslash-escaped, and so is
/// a leading list, quote or heading marker; line breaks become spaces (one item stays
/// one line).
pub fn md_text(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    let chars: Vec<char> = s.chars().collect();
    // A leading `1.` or `1)` before a space would start an ordered list.
    let digits = chars.iter().take_while(|c| c.is_ascii_digit()).count();
    let list_number = digits > 0 && chars.get(digits + 1).is_none_or(|c| *c == ' ');
    let alnum = |i: Option<usize>| {
        i.and_then(|i| chars.get(i))
            .is_some_and(|c| c.is_alphanumeric())
    };
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            // An underscore inside a word (`rss_bytes`) cannot open emphasis.
            '_' if alnum(i.checked_sub(1)) && alnum(Some(i + 1)) => o.push(c),
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '|' | '~' | '$' => {
                o.push('\\');
                o.push(c);
            }
            '-' | '+' | '=' if i == 0 => {
                o.push('\\');
                o.push(c);
            }
            '.' | ')' if i == digits && list_number => {
                o.push('\\');
                o.push(c);
            }
            '\r' | '\n' => o.push(' '),
            c if c.is_control() => o.extend(c.escape_default()),
            c => o.push(c),
        }
    }
    o
}

/// A Markdown code span holding `s` verbatim: the fence is one backtick longer than the
/// longest run of backticks inside, padded with a space where `s` starts or ends with a
/// backtick or a space (CommonMark strips one such space each side). Line breaks become
/// spaces. For lists and paragraphs only: a pipe is kept as it is, since GFM removes the
/// `\|` escape only inside table cells (elsewhere the backslash would show).
pub fn md_code(s: &str) -> String {
    let body: String = s
        .chars()
        .map(|c| match c {
            '\r' | '\n' => ' ',
            c => c,
        })
        .collect();
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    if body.is_empty() {
        return "` `".into();
    }
    let fence = "`".repeat(longest + 1);
    let pad = body.starts_with(['`', ' ']) || body.ends_with(['`', ' ']);
    let sp = if pad { " " } else { "" };
    format!("{fence}{sp}{body}{sp}{fence}")
}

/// Escapes the message of a GitHub workflow command (`::error ...::MESSAGE`).
pub fn gh_message(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value of a GitHub workflow command (`title=VALUE`): the message's
/// escapes plus `:` and `,`, which would end the property.
pub fn gh_property(s: &str) -> String {
    gh_message(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_everything_that_matters() {
        assert_eq!(
            html(r#"<script>"a"&'b'</script>"#),
            "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn md_text_leaves_no_markup() {
        assert_eq!(md_text("a<b>&c"), "a&lt;b&gt;&amp;c");
        assert_eq!(md_text("x`y` *z* |"), "x\\`y\\` \\*z\\* \\|");
        assert_eq!(md_text("line\nnext"), "line next");
        assert_eq!(md_text("plain words 1.5 (x)"), "plain words 1.5 (x)");
        assert_eq!(md_text("- a"), "\\- a");
        assert_eq!(md_text("12. a"), "12\\. a");
        assert_eq!(md_text("219.7 MB"), "219.7 MB");
        assert_eq!(md_text("rss_bytes _x_"), "rss_bytes \\_x\\_");
        assert_eq!(md_text("x #"), "x \\#");
    }

    #[test]
    fn md_code_fences_past_every_backtick_run() {
        assert_eq!(md_code("ls -l"), "`ls -l`");
        assert_eq!(md_code("a`b"), "``a`b``");
        assert_eq!(md_code("a``b`c"), "```a``b`c```");
        assert_eq!(md_code("`x"), "`` `x ``");
        assert_eq!(md_code(""), "` `");
        assert_eq!(md_code("a|b\nc"), "`a|b c`");
    }

    #[test]
    fn plain_makes_control_characters_visible() {
        assert_eq!(plain("a\u{1b}[31mb\n"), "a\\u{1b}[31mb\\n");
    }

    fn sample_table() -> Table {
        let mut t = Table::new(&["#", "name", "where"]).figures_after(2);
        t.rows = vec![
            vec![
                Cell::Figure("+1".into()),
                Cell::Text("a|<b>".into()),
                Cell::Frames(vec!["f<T>".into(), "main".into()]),
            ],
            vec![
                Cell::Verdict(Verdict::Fail),
                Cell::Text("x".into()),
                Cell::Frames(vec![]),
            ],
        ];
        t
    }

    #[test]
    fn tables_render_per_markup() {
        let t = sample_table();
        assert_eq!(
            t.render(Markup::Markdown),
            "| # | name | where |\n|---|---|---|\n| +1 | a\\|&lt;b&gt; | f&lt;T&gt; ← main |\n| FAIL | x |  |\n"
        );
        assert_eq!(
            t.render(Markup::Html),
            "<table><tr><th>#</th><th>name</th><th>where</th></tr>\
             <tr><td>+1</td><td>a|&lt;b&gt;</td><td class=\"num\">f&lt;T&gt;<br>main</td></tr>\
             <tr><td><span class=\"badge FAIL\">FAIL</span></td><td>x</td><td class=\"num\"></td></tr></table>"
        );
        assert_eq!(
            t.render(Markup::Plain),
            "  #     name   where\n  +1    a|<b>  f<T> ← main\n  FAIL  x\n"
        );
    }

    #[test]
    fn github_escapes() {
        assert_eq!(gh_message("50%\r\nx"), "50%25%0D%0Ax");
        assert_eq!(gh_property("a:b,c%"), "a%3Ab%2Cc%25");
    }
}
