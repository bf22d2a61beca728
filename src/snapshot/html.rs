//! HTML pasted from a chat window or a web page: elements stripped and entities decoded once,
//! when the text is decoded, so every reader sees the text a person saw.
//!
//! Only text holding real HTML elements is touched (`<code>`, `<br>`, `<p>`, `<div>`, `<span>`,
//! `<pre>`, `<table>`, `<tr>`, `<td>`, `<th>`, `<li>`, `<b>`, `<strong>`): `<unknown>` in a
//! `!poolused` description is text. The marks people rely on are kept: `<code>X</code>` becomes
//! `` `X` `` (a tag's blanks kept), `<b>`/`<strong>` become `**`, table cells become `| ` cells
//! so an HTML table reads as a markdown table, and `<br>`, `</p>`, `</div>`, `</tr>`, `</li>`
//! end a line. One pass, linear in the text.

/// Elements whose presence makes the text HTML.
const MARKERS: [&str; 13] = [
    "code", "br", "p", "div", "span", "pre", "table", "tr", "td", "th", "li", "b", "strong",
];

/// Other elements stripped once the text is HTML.
const OTHERS: [&str; 22] = [
    "i", "em", "u", "a", "ul", "ol", "thead", "tbody", "tfoot", "h1", "h2", "h3", "h4", "h5", "h6",
    "tt", "kbd", "samp", "font", "small", "hr", "caption",
];

/// Elements whose end (or the element itself, for `<br>`) ends a line.
const LINE_ENDS: [&str; 14] = [
    "br", "p", "div", "tr", "li", "pre", "table", "ul", "ol", "h1", "h2", "h3", "h4", "hr",
];

/// The longest element (with attributes) looked at.
const MAX_ELEMENT: usize = 1024;

/// An element at byte `at` (which is `<`): closing or not, its lower-cased name, and the byte
/// after its `>`. The scan stops at the next `<`, so the text is walked once in all.
fn element_at(bytes: &[u8], at: usize) -> Option<(bool, String, usize)> {
    let mut j = at + 1;
    let closing = bytes.get(j) == Some(&b'/');
    j += usize::from(closing);
    let start = j;
    while j < bytes.len() && bytes[j].is_ascii_alphanumeric() {
        j += 1;
    }
    if j == start || j - start > 8 {
        return None;
    }
    let name = std::str::from_utf8(&bytes[start..j])
        .ok()?
        .to_ascii_lowercase();
    if !MARKERS.contains(&name.as_str()) && !OTHERS.contains(&name.as_str()) {
        return None;
    }
    match bytes.get(j) {
        Some(b'>') => return Some((closing, name, j + 1)),
        Some(b) if b.is_ascii_whitespace() || *b == b'/' => {}
        _ => return None,
    }
    let limit = bytes.len().min(at + MAX_ELEMENT);
    let end = (j..limit).find(|&k| matches!(bytes[k], b'>' | b'<'))?;
    (bytes[end] == b'>').then_some((closing, name, end + 1))
}

/// Does the text hold a real HTML element?
fn has_elements(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memchr_iter(b'<', bytes)
        .any(|i| element_at(bytes, i).is_some_and(|(_, name, _)| MARKERS.contains(&name.as_str())))
}

/// The character an entity at byte `at` (which is `&`) stands for, and the byte after it.
fn entity_at(text: &str, at: usize) -> Option<(char, usize)> {
    let rest = &text[at + 1..];
    let end = rest.bytes().take(10).position(|b| b == b';')?;
    let name = &rest[..end];
    let c = match name {
        "gt" => '>',
        "lt" => '<',
        "amp" => '&',
        "quot" => '"',
        "apos" | "#39" => '\'',
        "nbsp" => ' ',
        _ => {
            let code =
                if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                    u32::from_str_radix(hex, 16).ok()?
                } else {
                    name.strip_prefix('#')?.parse().ok()?
                };
            char::from_u32(code)?
        }
    };
    Some((c, at + 1 + end + 1))
}

/// The text without its HTML, or `None` when it holds no real element.
pub(crate) fn strip(text: &str) -> Option<String> {
    if memchr::memchr(b'<', text.as_bytes()).is_none() || !has_elements(text) {
        return None;
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut in_row = false;
    let mut copied = 0;
    let mut i = 0;
    while let Some(k) = memchr::memchr3(b'<', b'&', b'\n', &bytes[i..]) {
        let at = i + k;
        out.push_str(&text[copied..at]);
        copied = at;
        i = at + 1;
        match bytes[at] {
            // Inside a table row, a line break in the HTML source is no line of the table.
            b'\n' if in_row => {
                out.push(' ');
                copied = at + 1;
            }
            b'&' => {
                if let Some((c, next)) = entity_at(text, at) {
                    out.push(c);
                    copied = next;
                    i = next;
                }
            }
            b'<' => {
                let Some((closing, name, next)) = element_at(bytes, at) else {
                    continue;
                };
                let followed_by_break = matches!(bytes.get(next), Some(b'\n' | b'\r'));
                match name.as_str() {
                    "code" | "tt" | "kbd" | "samp" => out.push('`'),
                    "b" | "strong" => out.push_str("**"),
                    "td" | "th" if !closing => out.push_str("| "),
                    "td" | "th" => out.push(' '),
                    "tr" => {
                        in_row = !closing;
                        if closing {
                            out.push('|');
                            if !followed_by_break {
                                out.push('\n');
                            }
                        }
                    }
                    n if LINE_ENDS.contains(&n)
                        && (closing || matches!(n, "br" | "hr"))
                        && !in_row
                        && !followed_by_break =>
                    {
                        out.push('\n');
                    }
                    _ => {}
                }
                copied = next;
                i = next;
            }
            _ => {}
        }
    }
    out.push_str(&text[copied..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_paste_keeps_marks_and_decodes_entities() {
        let html = "<p>Top tag is <code>Qzfc</code> &gt; 8 GB &amp; growing<br>\
                    <b>Nonpaged</b>: 9,612,440,064&nbsp;bytes &#40;&#x7e;8.9 GiB)</p>";
        assert_eq!(
            strip(html).unwrap(),
            "Top tag is `Qzfc` > 8 GB & growing\n**Nonpaged**: 9,612,440,064 bytes (~8.9 GiB)\n"
        );
    }

    #[test]
    fn tables_become_pipe_tables() {
        let html = "<table>\n<tr><th>Tag</th><th>Bytes</th></tr>\n<tr>\n  <td><code>Ab  </code></td>\n  <td>12 MB</td>\n</tr>\n</table>";
        assert_eq!(
            strip(html).unwrap(),
            "\n| Tag | Bytes |\n   | `Ab  `    | 12 MB  |\n\n"
        );
    }

    #[test]
    fn text_without_real_elements_is_left_alone() {
        assert_eq!(strip("Abcd Nonp 1 2 3 <unknown> driver"), None);
        assert_eq!(strip("a < b and c > d, x &gt; y"), None);
        assert_eq!(strip("<br"), None);
        // Long or unclosed element text is text.
        let long = format!("<p {}", "x".repeat(5000));
        assert_eq!(strip(&long), None);
    }
}
