//! Formatting a message body: a safe subset of Markdown — bold, italic,
//! strikethrough, inline code and code blocks, links, quotes and lists —
//! parsed by `pulldown-cmark` (a CommonMark parser) into `format::Block`s,
//! the only nodes a page shows. Nothing here produces HTML: clients build
//! elements from the tree, so raw HTML in a body stays text and the tree's
//! types are the allow-list. Links go only to `http(s)://` and `mailto:`;
//! images show their description (a body never makes a browser fetch
//! anything); a single line break stays a line break, as people expect of
//! a chat. The parser runs here, on the server, once per message read or
//! stored, so the browser bundle does not carry it (it would add 60 KB,
//! brotli). A body with no formatting character gets no tree at all: it is
//! shown as `format::plain` shows it.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::format::links::{pieces, Piece};
use crate::format::{Block, Inline};

/// The tree of a body, or None when it is plain text (shown by `format::plain`).
pub fn formatted(body: &str) -> Option<Vec<Block>> {
    may_be_formatted(body).then(|| blocks(body))
}

/// Whether anything in `body` could make Markdown other than plain text
/// with line breaks: a character that starts inline formatting, an escape
/// or entity anywhere, or a line that starts a quote, heading, list, rule
/// or code block. Most chat messages have none and are not parsed.
fn may_be_formatted(body: &str) -> bool {
    if body.contains(['*', '_', '~', '`', '[', '<', '&', '\\']) {
        return true;
    }
    body.lines().any(|line| {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let rest = line.trim_start_matches(' ');
        if indent >= 4 || rest.starts_with('\t') {
            return !rest.trim().is_empty();
        }
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        rest.starts_with(['>', '#', '-', '+', '=']) || (digits > 0 && rest[digits..].starts_with(['.', ')']))
    })
}

/// What is being built: the open containers, innermost last.
enum Open {
    Blocks(Vec<Block>),
    Quote(Vec<Block>),
    List(Option<u64>, Vec<Vec<Block>>),
    Item(Vec<Block>),
    Para(Vec<Inline>),
    /// A paragraph the parser did not mark (text directly in a tight list
    /// item): it ends with its item, or where a block starts.
    Tight(Vec<Inline>),
    Heading(Vec<Inline>),
    Code(String),
    Span(Span, Vec<Inline>),
}

#[derive(Clone, Copy)]
enum Span {
    Strong,
    Em,
    Strike,
    /// A link to where a body may point (the index of its address); `None`
    /// for one it may not (its label stays, as text).
    Link(Option<usize>),
}

/// The body's blocks, in order.
fn blocks(body: &str) -> Vec<Block> {
    let mut b = Builder {
        stack: vec![Open::Blocks(Vec::new())],
        urls: Vec::new(),
    };
    for event in Parser::new_ext(body, Options::ENABLE_STRIKETHROUGH) {
        b.event(event);
    }
    while b.stack.len() > 1 {
        b.close();
    }
    match b.stack.pop() {
        Some(Open::Blocks(blocks)) => blocks,
        _ => Vec::new(),
    }
}

struct Builder {
    stack: Vec<Open>,
    /// The destinations of the open links (a `Span::Link` names its index).
    urls: Vec<String>,
}

impl Builder {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(TagEnd::Image) => {} // its description was kept as text
            Event::End(_) => {
                if matches!(self.stack.last(), Some(Open::Tight(_))) {
                    self.close();
                }
                self.close();
            }
            Event::Text(text) => self.text(&text),
            Event::Code(code) => self.inline(Inline::Code(code.into_string())),
            // Markup typed into a body is shown as typed.
            Event::Html(html) | Event::InlineHtml(html) => {
                self.text(html.trim_end_matches('\n'));
            }
            Event::SoftBreak | Event::HardBreak => self.inline(Inline::Break),
            Event::Rule => self.block(Block::Para(vec![Inline::Text("———".into())])),
            _ => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        let open = match tag {
            Tag::Paragraph => Open::Para(Vec::new()),
            Tag::Heading { .. } => Open::Heading(Vec::new()),
            Tag::BlockQuote(_) => Open::Quote(Vec::new()),
            Tag::CodeBlock(_) => Open::Code(String::new()),
            Tag::List(start) => Open::List(start, Vec::new()),
            Tag::Item => Open::Item(Vec::new()),
            Tag::Emphasis => Open::Span(Span::Em, Vec::new()),
            Tag::Strong => Open::Span(Span::Strong, Vec::new()),
            Tag::Strikethrough => Open::Span(Span::Strike, Vec::new()),
            Tag::Link { dest_url, .. } => {
                let allowed = allowed_url(&dest_url).then(|| {
                    self.urls.push(dest_url.into_string());
                    self.urls.len() - 1
                });
                Open::Span(Span::Link(allowed), Vec::new())
            }
            // An image shows its description; no End is closed for it.
            Tag::Image { .. } => return,
            _ => return,
        };
        // Text directly in a list item (a tight list) gets a paragraph.
        if matches!(open, Open::Span(..)) {
            self.ensure_inline_container();
        }
        self.stack.push(open);
    }

    /// Closes the innermost container and puts what it made in its parent.
    fn close(&mut self) {
        let Some(open) = self.stack.pop() else { return };
        match open {
            Open::Blocks(blocks) => self.stack.push(Open::Blocks(blocks)),
            Open::Quote(blocks) => self.block(Block::Quote(blocks)),
            Open::List(start, items) => self.block(Block::List { start, items }),
            Open::Item(blocks) => match self.stack.last_mut() {
                Some(Open::List(_, items)) => items.push(blocks),
                _ => self.blocks_into_parent(blocks),
            },
            Open::Para(inlines) | Open::Tight(inlines) => self.block(Block::Para(inlines)),
            Open::Heading(inlines) => self.block(Block::Para(vec![Inline::Strong(inlines)])),
            Open::Code(text) => self.block(Block::Code(text.trim_end_matches('\n').to_string())),
            Open::Span(span, inlines) => {
                let inline = match span {
                    Span::Strong => Inline::Strong(inlines),
                    Span::Em => Inline::Em(inlines),
                    Span::Strike => Inline::Strike(inlines),
                    Span::Link(Some(i)) => Inline::Link {
                        url: self.urls.get(i).cloned().unwrap_or_default(),
                        label: inlines,
                    },
                    Span::Link(None) => {
                        for inline in inlines {
                            self.inline(inline);
                        }
                        return;
                    }
                };
                self.inline(inline);
            }
        }
    }

    /// Text: in a code block as typed; in a link as a label; elsewhere with
    /// the bare web addresses in it made links.
    fn text(&mut self, text: &str) {
        if let Some(Open::Code(code)) = self.stack.last_mut() {
            code.push_str(text);
            return;
        }
        let in_link = self
            .stack
            .iter()
            .any(|o| matches!(o, Open::Span(Span::Link(_), _)));
        if in_link {
            self.inline(Inline::Text(text.to_string()));
            return;
        }
        for piece in pieces(text) {
            self.inline(match piece {
                Piece::Text(t) => Inline::Text(t),
                Piece::Link(url) => Inline::Link {
                    label: vec![Inline::Text(url.clone())],
                    url,
                },
            });
        }
    }

    fn inline(&mut self, inline: Inline) {
        self.ensure_inline_container();
        match self.stack.last_mut() {
            Some(Open::Para(v) | Open::Tight(v) | Open::Heading(v) | Open::Span(_, v)) => {
                match (v.last_mut(), inline) {
                    // Adjacent text (the parser splits it at some characters) is one run.
                    (Some(Inline::Text(last)), Inline::Text(t)) => last.push_str(&t),
                    (_, inline) => v.push(inline),
                }
            }
            Some(Open::Code(code)) => {
                if let Inline::Text(t) | Inline::Code(t) = inline {
                    code.push_str(&t);
                }
            }
            _ => {}
        }
    }

    /// Inline content needs a paragraph around it where the parser gave
    /// none (the items of a tight list).
    fn ensure_inline_container(&mut self) {
        if matches!(
            self.stack.last(),
            Some(Open::Blocks(_) | Open::Quote(_) | Open::Item(_) | Open::List(..))
        ) {
            self.stack.push(Open::Tight(Vec::new()));
        }
    }

    fn block(&mut self, block: Block) {
        // A tight item's text ends where a block starts.
        if matches!(self.stack.last(), Some(Open::Tight(_))) {
            self.close();
        }
        match self.stack.last_mut() {
            Some(Open::Blocks(v) | Open::Quote(v) | Open::Item(v)) => v.push(block),
            Some(Open::List(_, items)) => items.push(vec![block]),
            _ => {}
        }
    }

    fn blocks_into_parent(&mut self, blocks: Vec<Block>) {
        for block in blocks {
            self.block(block);
        }
    }
}

/// Where a link in a body may point: the web and e-mail, nothing that runs
/// or embeds (`javascript:`, `data:`, …) and nothing relative to this site.
fn allowed_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    let after = |scheme: &str| lower.strip_prefix(scheme).is_some_and(|rest| !rest.is_empty());
    after("https://") || after("http://") || after("mailto:")
}

#[cfg(test)]
mod tests {
    use super::Block::{List, Para, Quote};
    use super::Inline::{Break, Em, Link, Strike, Strong, Text};
    use super::*;

    fn t(s: &str) -> Inline {
        Text(s.into())
    }
    fn para(inlines: Vec<Inline>) -> Block {
        Para(inlines)
    }

    #[test]
    fn plain_text_is_one_paragraph_and_line_breaks_stay() {
        assert_eq!(blocks("hello there"), [para(vec![t("hello there")])]);
        assert_eq!(blocks(""), []);
        assert_eq!(blocks("one\ntwo"), [para(vec![t("one"), Break, t("two")])]);
        assert_eq!(blocks("one\n\ntwo"), [para(vec![t("one")]), para(vec![t("two")])]);
    }

    #[test]
    fn the_subset_is_formatted() {
        assert_eq!(
            blocks("**bold** *it* ~~gone~~ `x < y`"),
            [para(vec![
                Strong(vec![t("bold")]),
                t(" "),
                Em(vec![t("it")]),
                t(" "),
                Strike(vec![t("gone")]),
                t(" "),
                Inline::Code("x < y".into()),
            ])]
        );
        assert_eq!(
            blocks("```\nfn main() {}\n<b>\n```"),
            [Block::Code("fn main() {}\n<b>".into())]
        );
        assert_eq!(
            blocks("> quoted\n\nafter"),
            [Quote(vec![para(vec![t("quoted")])]), para(vec![t("after")])]
        );
        assert_eq!(
            blocks("- a\n- **b**"),
            [List {
                start: None,
                items: vec![vec![para(vec![t("a")])], vec![para(vec![Strong(vec![t("b")])])]],
            }]
        );
        assert_eq!(
            blocks("3. c\n4. d"),
            [List {
                start: Some(3),
                items: vec![vec![para(vec![t("c")])], vec![para(vec![t("d")])]],
            }]
        );
        assert_eq!(blocks("# Title"), [para(vec![Strong(vec![t("Title")])])]);
    }

    #[test]
    fn nested_and_tight_lists_keep_their_shape() {
        assert_eq!(
            blocks("- a *x*\n  - b\n- c"),
            [List {
                start: None,
                items: vec![
                    vec![
                        para(vec![t("a "), Em(vec![t("x")])]),
                        List {
                            start: None,
                            items: vec![vec![para(vec![t("b")])]],
                        },
                    ],
                    vec![para(vec![t("c")])],
                ],
            }]
        );
        assert_eq!(
            blocks("> - q\n> - r"),
            [Quote(vec![List {
                start: None,
                items: vec![vec![para(vec![t("q")])], vec![para(vec![t("r")])]],
            }])]
        );
    }

    #[test]
    fn links_go_to_the_web_and_mail_only() {
        let link = |url: &str, label: &str| Link {
            url: url.into(),
            label: vec![t(label)],
        };
        assert_eq!(
            blocks("[docs](https://example.com/a) and https://x.org."),
            [para(vec![
                link("https://example.com/a", "docs"),
                t(" and "),
                link("https://x.org", "https://x.org"),
                t("."),
            ])]
        );
        assert_eq!(
            blocks("<https://auto.link> [mail](mailto:a@b.c)"),
            [para(vec![
                link("https://auto.link", "https://auto.link"),
                t(" "),
                link("mailto:a@b.c", "mail"),
            ])]
        );
        for evil in [
            "[click](javascript:alert(1))",
            "[click](JavaScript:alert(1))",
            "[click](data:text/html,<script>alert(1)</script>)",
            "[click](/logout)",
            "[click](//evil.example)",
        ] {
            assert_eq!(blocks(evil), [para(vec![t("click")])], "{evil}");
        }
    }

    #[test]
    fn markup_and_images_stay_text() {
        for evil in [
            "<img src=x onerror=alert(1)>",
            "<script>window.pwned = 1</script>",
            "\"><svg onload=alert(2)>",
            "a <b onclick=x>b</b>",
        ] {
            let shown: String = blocks(evil)
                .iter()
                .map(|b| match b {
                    Para(inlines) => inlines
                        .iter()
                        .map(|i| match i {
                            Text(s) => s.clone(),
                            other => panic!("{evil}: {other:?}"),
                        })
                        .collect::<String>(),
                    other => panic!("{evil}: {other:?}"),
                })
                .collect();
            assert_eq!(shown, evil);
        }
        assert_eq!(
            blocks("![a cat](https://tracker.example/pixel.png)"),
            [para(vec![t("a cat")])]
        );
    }

    #[test]
    fn chat_text_is_not_mangled() {
        for text in ["snake_case_name", "2 * 3 = 6", "회의는 내일", "a_b_c and x*y"] {
            assert_eq!(blocks(text), [para(vec![t(text)])], "{text}");
        }
    }

    fn links(blocks: &[Block], out: &mut Vec<String>) {
        fn inl(v: &[Inline], out: &mut Vec<String>) {
            for i in v {
                match i {
                    Link { url, label } => {
                        out.push(url.clone());
                        inl(label, out);
                    }
                    Strong(v) | Em(v) | Strike(v) => inl(v, out),
                    _ => {}
                }
            }
        }
        for b in blocks {
            match b {
                Para(v) => inl(v, out),
                Quote(v) => links(v, out),
                List { items, .. } => items.iter().for_each(|i| links(i, out)),
                Block::Code(_) => {}
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_body_parses_and_links_only_where_allowed(
            body in r"([a-z ]{0,6}|\*{1,2}|_|~~|`{1,3}|> |- |1\. |\n{1,2}|\[|\]|\(|\)|<|>|!|#|https?://x\.y|javascript:|data:|mailto:a@b){0,40}",
        ) {
            let mut urls = Vec::new();
            links(&blocks(&body), &mut urls);
            for url in urls {
                proptest::prop_assert!(allowed_url(&url), "{url:?} from {body:?}");
            }
        }
    }

    #[test]
    fn plain_bodies_are_not_parsed() {
        for plain in [
            "hi!",
            "see you at 5.30",
            "well-known",
            "a\nb",
            "회의는 내일",
            "1 apple.",
            "x = 1",
        ] {
            assert_eq!(formatted(plain), None, "{plain:?}");
        }
        for marked in [
            "*x*",
            "a_b",
            "`c`",
            "[l](https://x.y)",
            "<b>",
            "&amp;",
            "a\\*",
            "> q",
            "# h",
            "- i",
            "+ i",
            "1. i",
            "2) i",
            "a\n===",
            "    code",
        ] {
            assert!(formatted(marked).is_some(), "{marked:?}");
        }
    }

    proptest::proptest! {
        /// What is not parsed draws as the parser would have drawn it.
        #[test]
        fn unparsed_bodies_draw_as_parsed(
            lines in proptest::collection::vec(r"[a-z0-9][a-z0-9 .,!?:/=+-]{0,20}[a-z0-9]|https?://x\.y/[a-z]{1,4}", 1..4),
        ) {
            let body = lines.join("\n");
            if !may_be_formatted(&body) {
                proptest::prop_assert_eq!(blocks(&body), crate::format::plain(&body), "{:?}", body);
            }
        }
    }
}
