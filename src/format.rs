//! How a message body is formatted, as data every client can draw: blocks
//! (paragraphs, code, quotes, lists) of inline runs (text, bold, italic,
//! struck, code, links, line breaks). The server parses bodies into this
//! tree (`server::format`) and sends it with each message that has any
//! formatting (`Message::fmt`); a body without it is drawn by `plain`. The
//! types are the allow-list: there is no variant for raw HTML, images or
//! scripts, and a `Link` only ever holds an `http(s)://` or `mailto:`
//! address. Pure data and functions, compiled into both builds.

pub mod links;

use serde::{Deserialize, Serialize};

use links::{pieces, Piece};

/// A block of a body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Block {
    Para(Vec<Inline>),
    /// A code block, its text as typed.
    Code(String),
    Quote(Vec<Block>),
    /// A list: `start` is the first number of an ordered one.
    List {
        start: Option<u64>,
        items: Vec<Vec<Block>>,
    },
}

/// A run of text in a block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Inline {
    Text(String),
    Strong(Vec<Inline>),
    Em(Vec<Inline>),
    Strike(Vec<Inline>),
    Code(String),
    Link { url: String, label: Vec<Inline> },
    Break,
}

/// A body with no formatting: one paragraph, its line breaks kept and its
/// bare web addresses made links.
pub fn plain(body: &str) -> Vec<Block> {
    let mut inlines = Vec::new();
    for (i, line) in body.split('\n').enumerate() {
        if i > 0 {
            inlines.push(Inline::Break);
        }
        inlines.extend(pieces(line).into_iter().map(|piece| match piece {
            Piece::Text(t) => Inline::Text(t),
            Piece::Link(url) => Inline::Link {
                label: vec![Inline::Text(url.clone())],
                url,
            },
        }));
    }
    if inlines.is_empty() {
        return Vec::new();
    }
    vec![Block::Para(inlines)]
}

/// What a message deleted for everyone shows in its place.
pub const DELETED: &str = "Message deleted";

/// A body as one line of text, for the room list and notifications: its
/// formatting dropped (a link shows its label), blocks and line breaks as
/// spaces.
pub fn preview(body: &str, fmt: Option<&[Block]>) -> String {
    fn inlines(v: &[Inline], out: &mut String) {
        for i in v {
            match i {
                Inline::Text(t) | Inline::Code(t) => out.push_str(t),
                Inline::Strong(v) | Inline::Em(v) | Inline::Strike(v) => inlines(v, out),
                Inline::Link { label, .. } => inlines(label, out),
                Inline::Break => out.push(' '),
            }
        }
    }
    fn blocks(v: &[Block], out: &mut String) {
        for b in v {
            out.push(' '); // blocks apart; the spaces are collapsed at the end
            match b {
                Block::Para(v) => inlines(v, out),
                Block::Code(t) => out.push_str(t),
                Block::Quote(v) => blocks(v, out),
                Block::List { items, .. } => items.iter().for_each(|item| blocks(item, out)),
            }
        }
    }
    let text = match fmt {
        Some(fmt) => {
            let mut out = String::new();
            blocks(fmt, &mut out);
            out
        }
        None => body.to_string(),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preview_is_the_text_on_one_line() {
        assert_eq!(preview("a\n  b", None), "a b");
        let fmt = vec![
            Block::Para(vec![
                Inline::Strong(vec![Inline::Text("hi".into())]),
                Inline::Text(" see ".into()),
                Inline::Link {
                    url: "https://x.y".into(),
                    label: vec![Inline::Text("docs".into())],
                },
            ]),
            Block::List {
                start: None,
                items: vec![vec![Block::Para(vec![Inline::Text("one".into())])]],
            },
        ];
        assert_eq!(
            preview("**hi** see [docs](https://x.y)\n- one", Some(&fmt)),
            "hi see docs one"
        );
    }

    #[test]
    fn plain_bodies_are_one_paragraph_with_breaks_and_links() {
        assert_eq!(plain(""), []);
        assert_eq!(
            plain("see https://x.org\nbye"),
            [Block::Para(vec![
                Inline::Text("see ".into()),
                Inline::Link {
                    url: "https://x.org".into(),
                    label: vec![Inline::Text("https://x.org".into())],
                },
                Inline::Break,
                Inline::Text("bye".into()),
            ])]
        );
    }

    #[test]
    fn the_tree_travels_as_compact_json() {
        let tree = vec![Block::Para(vec![Inline::Strong(vec![Inline::Text("hi".into())])])];
        let json = serde_json::to_string(&tree).unwrap();
        assert_eq!(json, r#"[{"para":[{"strong":[{"text":"hi"}]}]}]"#);
        assert_eq!(serde_json::from_str::<Vec<Block>>(&json).unwrap(), tree);
    }
}
