//! A message body on screen: its formatting tree (`format`; the server's
//! parse, or `format::plain` for a body without formatting), as elements.
//! Only the elements named here can appear in a body; text is always text.
//! Links open in a new tab and tell the site nothing of where they came from.

use leptos::prelude::*;

use crate::format::{plain, Block, Inline};

/// The body's blocks as elements.
pub fn body_view(body: &str, fmt: Option<Vec<Block>>) -> Vec<AnyView> {
    fmt.unwrap_or_else(|| plain(body))
        .into_iter()
        .map(block)
        .collect()
}

fn block(b: Block) -> AnyView {
    match b {
        Block::Para(inlines) => view! { <p>{inlines_view(inlines)}</p> }.into_any(),
        Block::Code(text) => view! { <pre><code>{text}</code></pre> }.into_any(),
        Block::Quote(blocks) => {
            view! { <blockquote>{blocks.into_iter().map(block).collect_view()}</blockquote> }.into_any()
        }
        Block::List { start: None, items } => view! { <ul>{list_items(items)}</ul> }.into_any(),
        Block::List {
            start: Some(start),
            items,
        } => view! { <ol start=start>{list_items(items)}</ol> }.into_any(),
    }
}

fn list_items(items: Vec<Vec<Block>>) -> impl IntoView {
    items
        .into_iter()
        .map(|blocks| view! { <li>{blocks.into_iter().map(block).collect_view()}</li> })
        .collect_view()
}

fn inlines_view(inlines: Vec<Inline>) -> Vec<AnyView> {
    inlines.into_iter().map(inline).collect()
}

fn inline(i: Inline) -> AnyView {
    match i {
        Inline::Text(text) => text.into_any(),
        Inline::Strong(v) => view! { <strong>{inlines_view(v)}</strong> }.into_any(),
        Inline::Em(v) => view! { <em>{inlines_view(v)}</em> }.into_any(),
        Inline::Strike(v) => view! { <s>{inlines_view(v)}</s> }.into_any(),
        Inline::Code(text) => view! { <code>{text}</code> }.into_any(),
        Inline::Link { url, label } => view! {
            <a href=url target="_blank" rel="noopener noreferrer">{inlines_view(label)}</a>
        }
        .into_any(),
        // A line break as typed: the body keeps white space (`pre-wrap`), so
        // its text, copied or read, is the text as typed.
        Inline::Break => "\n".into_any(),
    }
}
