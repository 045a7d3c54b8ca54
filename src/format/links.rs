//! The bare web addresses in a run of a body's text, made links (the
//! formatting around them is the parser's, `server::format`). Pure functions, shared by the
//! server render and the browser; nothing here touches the DOM. Only
//! `http://` and `https://` addresses become links (never `javascript:` or
//! `data:`); everything else stays text.

/// A piece of a body: plain text, or an address to link to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Link(String),
}

/// Splits a body into text and links, in order; joined again they give the body.
pub fn pieces(body: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut text_from = 0;
    let mut at = 0;
    while let Some(found) = next_scheme(body, at) {
        let len = link_len(&body[found..]);
        if len == 0 {
            at = found + 1;
            continue;
        }
        if text_from < found {
            out.push(Piece::Text(body[text_from..found].to_string()));
        }
        out.push(Piece::Link(body[found..found + len].to_string()));
        text_from = found + len;
        at = text_from;
    }
    if text_from < body.len() {
        out.push(Piece::Text(body[text_from..].to_string()));
    }
    out
}

/// Where the next `http://` or `https://` (any case) starts at or after
/// `from`, at the start of a word.
fn next_scheme(body: &str, from: usize) -> Option<usize> {
    let lower = body.get(from..)?.to_ascii_lowercase();
    let mut search = 0;
    while let Some(i) = lower[search..].find("http") {
        let start = search + i;
        let rest = &lower[start..];
        let word_start = body[..from + start]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        if word_start && (rest.starts_with("http://") || rest.starts_with("https://")) {
            return Some(from + start);
        }
        search = start + 4;
    }
    None
}

/// How long the address at the start of `s` is (0: not an address). It
/// ends at white space or a character that cannot be in one; trailing
/// punctuation is the sentence's, not the address's, and a closing bracket
/// is the address's only if it opened one.
fn link_len(s: &str) -> usize {
    let scheme = if s[..5].eq_ignore_ascii_case("https") {
        8
    } else {
        7
    };
    let end = s
        .char_indices()
        .find(|(_, c)| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '`'))
        .map_or(s.len(), |(i, _)| i);
    let mut url = &s[..end];
    while let Some(last) = url.chars().next_back() {
        let unbalanced = |open: char| url.matches(open).count() < url.matches(last).count();
        let trailing = match last {
            '.' | ',' | ';' | ':' | '!' | '?' | '\'' | '*' => true,
            ')' => unbalanced('('),
            ']' => unbalanced('['),
            '}' => unbalanced('{'),
            _ => false,
        };
        if !trailing {
            break;
        }
        url = &url[..url.len() - last.len_utf8()];
    }
    // A host must follow the scheme.
    let host = url.get(scheme..).unwrap_or("");
    if host.is_empty() || host.starts_with(['/', '.', ':', '@']) {
        return 0;
    }
    url.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(s: &str) -> Piece {
        Piece::Link(s.into())
    }
    fn text(s: &str) -> Piece {
        Piece::Text(s.into())
    }

    #[test]
    fn plain_text_stays_text() {
        assert_eq!(pieces("hello there"), [text("hello there")]);
        assert_eq!(pieces(""), []);
        assert_eq!(
            pieces("http is a protocol; https too"),
            [text("http is a protocol; https too")]
        );
    }

    #[test]
    fn addresses_become_links_and_the_rest_stays() {
        assert_eq!(
            pieces("see https://example.com/a?b=1#c, then"),
            [text("see "), link("https://example.com/a?b=1#c"), text(", then")]
        );
        assert_eq!(
            pieces("HTTP://EXAMPLE.COM."),
            [link("HTTP://EXAMPLE.COM"), text(".")]
        );
        assert_eq!(
            pieces("(https://en.wikipedia.org/wiki/Rust_(language))"),
            [
                text("("),
                link("https://en.wikipedia.org/wiki/Rust_(language)"),
                text(")")
            ]
        );
        assert_eq!(
            pieces("a http://x.org\nb https://y.org"),
            [
                text("a "),
                link("http://x.org"),
                text("\nb "),
                link("https://y.org")
            ]
        );
        assert_eq!(
            pieces("회의 https://예시.kr/자료!"),
            [text("회의 "), link("https://예시.kr/자료"), text("!")]
        );
    }

    #[test]
    fn only_http_and_https_at_a_word_start() {
        assert_eq!(pieces("javascript:alert(1)"), [text("javascript:alert(1)")]);
        assert_eq!(
            pieces("data:text/html,<b>x</b>"),
            [text("data:text/html,<b>x</b>")]
        );
        assert_eq!(pieces("xhttps://evil.com"), [text("xhttps://evil.com")]);
        assert_eq!(pieces("https://"), [text("https://")]);
        assert_eq!(pieces("https:///x http://"), [text("https:///x http://")]);
        assert_eq!(
            pieces("<https://a.b/\"onmouseover=x>"),
            [text("<"), link("https://a.b/"), text("\"onmouseover=x>")]
        );
    }

    #[test]
    fn the_pieces_join_to_the_body() {
        for body in [
            "x https://a.b/c. y",
            "https://a.b",
            "((http://a.b))",
            "émoji 🎉 http://ü.de 🎉",
        ] {
            let joined: String = pieces(body)
                .into_iter()
                .map(|p| match p {
                    Piece::Text(t) | Piece::Link(t) => t,
                })
                .collect();
            assert_eq!(joined, body);
        }
    }
}
