//! A message body on screen: its formatting tree (`format`; the server's
//! parse, or `format::plain` for a body without formatting), as elements.
//! Only the elements named here can appear in a body; text is always text.
//! Links open in a new tab and tell the site nothing of where they came from.
//! The `@Name`s of the members a message mentions are highlighted (mine
//! more so).

use leptos::prelude::*;

use super::mentions::{split, Piece};
use crate::format::{plain, Block, Inline};

/// The mentioned members' names, and whether each is me.
type Names<'a> = &'a [(String, bool)];

/// The body's blocks as elements.
pub fn body_view(body: &str, fmt: Option<Vec<Block>>, names: Names) -> Vec<AnyView> {
    fmt.unwrap_or_else(|| plain(body))
        .into_iter()
        .map(|b| block(b, names))
        .collect()
}

fn block(b: Block, names: Names) -> AnyView {
    let blocks = |v: Vec<Block>| v.into_iter().map(|b| block(b, names)).collect_view();
    match b {
        Block::Para(inlines) => view! { <p>{inlines_view(inlines, names)}</p> }.into_any(),
        Block::Code(text) => view! { <pre><code>{text}</code></pre> }.into_any(),
        Block::Quote(v) => view! { <blockquote>{blocks(v)}</blockquote> }.into_any(),
        Block::List { start: None, items } => {
            view! { <ul>{items.into_iter().map(|v| view! { <li>{blocks(v)}</li> }).collect_view()}</ul> }
                .into_any()
        }
        Block::List {
            start: Some(start),
            items,
        } => view! {
            <ol start=start>{items.into_iter().map(|v| view! { <li>{blocks(v)}</li> }).collect_view()}</ol>
        }
        .into_any(),
    }
}

fn inlines_view(inlines: Vec<Inline>, names: Names) -> Vec<AnyView> {
    inlines.into_iter().map(|i| inline(i, names)).collect()
}

fn inline(i: Inline, names: Names) -> AnyView {
    match i {
        Inline::Text(text) if names.is_empty() => text.into_any(),
        Inline::Text(text) => split(&text, names)
            .into_iter()
            .map(|p| match p {
                Piece::Text(t) => t.into_any(),
                Piece::Mention { text, me } => {
                    view! { <span class="mention" class:to-me=me>{text}</span> }.into_any()
                }
            })
            .collect_view()
            .into_any(),
        Inline::Strong(v) => view! { <strong>{inlines_view(v, names)}</strong> }.into_any(),
        Inline::Em(v) => view! { <em>{inlines_view(v, names)}</em> }.into_any(),
        Inline::Strike(v) => view! { <s>{inlines_view(v, names)}</s> }.into_any(),
        Inline::Code(text) => view! { <code>{text}</code> }.into_any(),
        Inline::Link { url, label } => view! {
            <a href=url target="_blank" rel="noopener noreferrer">{inlines_view(label, names)}</a>
        }
        .into_any(),
        // A line break as typed: the body keeps white space (`pre-wrap`), so
        // its text, copied or read, is the text as typed.
        Inline::Break => "\n".into_any(),
    }
}
