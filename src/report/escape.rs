//! Text from a report made safe for the page it goes into. A report.json is untrusted
//! input (`iomodels report F` renders what it is given), and its free text (an error,
//! what a server said, the command) reaches the pages as it is: escaped here, it reads
//! as text and never as markup, a link or a table's column.

/// `text` for HTML, in an element or a double- or single-quoted attribute.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The characters Markdown (CommonMark with GitHub's tables and strikethrough) reads as
/// markup inside a line: emphasis, code, links and images, raw HTML and entities, table
/// columns.
const MARKDOWN_INLINE: &str = "\\`*_[]<>|&~";

/// `text` for a line of Markdown: every character it could read as markup
/// backslash-escaped (`\<script\>`, `a\|b`), and line breaks as spaces, so the text
/// stays on its list item or table row.
pub fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if MARKDOWN_INLINE.contains(c) {
            out.push('\\');
            out.push(c);
        } else if c.is_control() {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` as a Markdown code span: fenced by more backticks than it holds in a row, so
/// none of its own can close the span.
pub fn markdown_code(text: &str) -> String {
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    if longest == 0 {
        format!("{fence}{text}{fence}")
    } else {
        format!("{fence} {text} {fence}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_text_cannot_open_a_tag_or_leave_an_attribute() {
        assert_eq!(
            html(r#"<img src=x onerror="alert(1)"> & 'q'"#),
            "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &#39;q&#39;"
        );
    }

    #[test]
    fn markdown_text_cannot_make_a_link_raw_html_or_a_column() {
        assert_eq!(
            markdown("[x](javascript:alert(1)) <b>a|b</b>"),
            "\\[x\\](javascript:alert(1)) \\<b\\>a\\|b\\</b\\>"
        );
        assert_eq!(markdown("one\ntwo"), "one two");
        assert_eq!(markdown("epoll-threads 1.2x"), "epoll-threads 1.2x");
        assert_eq!(markdown_code("iomodels compare"), "`iomodels compare`");
        assert_eq!(markdown_code("a `b` c"), "`` a `b` c ``");
    }
}
