//! Escaping for every format a report is written into. Any string that came from the
//! user or the target (the run's name, the command's arguments, paths, column names,
//! notes that quote them) goes through one of these before it lands in a report.

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
    let list_number = digits > 0 && chars.get(digits + 1).map_or(true, |c| *c == ' ');
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

    #[test]
    fn github_escapes() {
        assert_eq!(gh_message("50%\r\nx"), "50%25%0D%0Ax");
        assert_eq!(gh_property("a:b,c%"), "a%3Ab%2Cc%25");
    }
}
