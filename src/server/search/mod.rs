//! Search, the work behind the request: the query language (`query`) read
//! and its names (`from:`, `in:`) looked up into a `SearchQuery`, the
//! store asked (it looks only in the searcher's rooms), and each hit's text
//! cut to a snippet with the matched words marked. Also the start-up task that indexes messages
//! stored before the index existed. No HTTP here; no SQL either.
//!
//! Whatever a person types is either searched for literally or answered
//! with a sentence that says why it cannot be (`SearchPage::problem`): the
//! index's own syntax never sees it.

mod query;

use std::ops::Range;
use std::time::Duration;

use super::storage::{DynStore, SearchQuery, StoreError};
use super::tasks::NodeTask;
use super::text::{self, Phrase};
use crate::model::SEARCH_PAGE;
use crate::model::{RoomId, SearchCursor, SearchHit, SearchPage, SnippetPart, UserId};
use crate::protocol::Message;
use query::parse;

/// A snippet's length in characters, and how much of the text before the
/// first match it keeps.
const SNIPPET_CHARS: usize = 160;
const SNIPPET_LEAD: usize = 40;

/// One search: `typed` in `me`'s rooms (only `room` when given), the page
/// after `next`; `offset_min` is the searcher's time zone (for dates). A
/// search that cannot be made is answered with its `problem`.
pub async fn find(
    store: &DynStore,
    me: UserId,
    typed: &str,
    room: Option<RoomId>,
    next: Option<SearchCursor>,
    offset_min: i32,
) -> Result<SearchPage, StoreError> {
    let q = match resolve(store, me, typed, room, offset_min).await? {
        Ok(q) => q,
        Err(problem) => {
            return Ok(SearchPage {
                problem: Some(problem),
                ..SearchPage::default()
            })
        }
    };
    let q = SearchQuery {
        older_than: next,
        limit: SEARCH_PAGE + 1,
        ..q
    };
    let mut found = store.search(&q).await?;
    let more = found.len() > SEARCH_PAGE as usize;
    found.truncate(SEARCH_PAGE as usize);
    let next = more
        .then(|| found.last().map(|m| (m.ts, m.room, m.seq)))
        .flatten();
    let hits = found.iter().map(|m| hit(m, &q.phrases)).collect();
    Ok(SearchPage {
        hits,
        next,
        problem: None,
    })
}

/// `typed` read and its names looked up: the query, or why there is none.
async fn resolve(
    store: &DynStore,
    me: UserId,
    typed: &str,
    room: Option<RoomId>,
    offset_min: i32,
) -> Result<Result<SearchQuery, String>, StoreError> {
    let parsed = match parse(typed) {
        Ok(p) => p,
        Err(problem) => return Ok(Err(problem)),
    };
    let from = match &parsed.from {
        Some(handle) => match store.user_by_handle(handle).await? {
            Some(user) => Some(user.id),
            None => return Ok(Err(format!("No one has the handle @{handle}."))),
        },
        None => None,
    };
    let rooms = match &parsed.room {
        Some(name) => {
            let want = name.to_lowercase();
            let named: Vec<RoomId> = store
                .rooms_of(me)
                .await?
                .into_iter()
                .filter(|r| room.is_none_or(|only| only == r.id))
                .filter(|r| {
                    r.name.to_lowercase().contains(&want)
                        || r.peer_handle
                            .as_deref()
                            .is_some_and(|h| h.to_lowercase().contains(&want))
                })
                .map(|r| r.id)
                .collect();
            if named.is_empty() {
                return Ok(Err(format!("None of your rooms is called “{name}”.")));
            }
            Some(named)
        }
        None => room.map(|r| vec![r]),
    };
    Ok(Ok(SearchQuery {
        user: me,
        rooms,
        phrases: parsed.phrases,
        from,
        has_file: parsed.has_file,
        after: parsed.after.map_or(0, |d| d.start_ms(offset_min) + 86_400_000),
        before: parsed.before.map_or(i64::MAX, |d| d.start_ms(offset_min)),
        older_than: None,
        limit: SEARCH_PAGE,
    }))
}

fn hit(m: &Message, phrases: &[Phrase]) -> SearchHit {
    let text = super::storage::text_of(m);
    SearchHit {
        room: m.room,
        seq: m.seq,
        sender: m.sender,
        from: m.from.clone(),
        ts: m.ts,
        parts: snippet(&text, &text::matches(&text, phrases)),
    }
}

/// `text` around its first match, at most `SNIPPET_CHARS` long, in parts;
/// an ellipsis where it was cut.
pub fn snippet(text: &str, hits: &[Range<usize>]) -> Vec<SnippetPart> {
    let chars: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
    let total = chars.len() - 1;
    let first = hits
        .first()
        .map_or(0, |h| chars.partition_point(|&i| i < h.start));
    let from = first
        .saturating_sub(SNIPPET_LEAD)
        .min(total.saturating_sub(SNIPPET_CHARS));
    let to = (from + SNIPPET_CHARS).min(total);
    let (start, end) = (chars[from], chars[to]);
    let mut parts = Vec::new();
    let mut push = |s: &str, hit: bool| {
        let s = s.replace(['\n', '\r', '\t'], " ");
        if !s.is_empty() {
            parts.push(SnippetPart { text: s, hit });
        }
    };
    if from > 0 {
        push("…", false);
    }
    let mut at = start;
    for h in hits {
        let (a, b) = (h.start.max(at), h.end.min(end));
        if a >= b {
            continue;
        }
        push(&text[at..a], false);
        push(&text[a..b], true);
        at = b;
    }
    push(&text[at..end], false);
    if end < text.len() {
        push("…", false);
    }
    parts
}

/// The task that indexes, a batch at a time, the messages stored before
/// the search index existed (after an upgrade); it ends when none is left.
pub fn backlog(store: DynStore) -> NodeTask {
    NodeTask::new("search backlog", async move {
        let mut done = 0u64;
        loop {
            match store.index_backlog(500).await {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) => {
                    tracing::warn!("indexing earlier messages for search: {e}; trying again in 10 s");
                    tokio::time::sleep(Duration::from_secs(10)).await;
                }
            }
            // Leave room for the writer between batches.
            tokio::task::yield_now().await;
        }
        if done > 0 {
            tracing::info!(messages = done, "earlier messages indexed for search");
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snippet_keeps_the_text_around_the_first_match() {
        let show = |parts: Vec<SnippetPart>| {
            parts
                .iter()
                .map(|p| {
                    if p.hit {
                        format!("[{}]", p.text)
                    } else {
                        p.text.clone()
                    }
                })
                .collect::<String>()
        };
        let text = "내일회의는 3시";
        let phrases = [text::phrase("회의", false).unwrap()];
        assert_eq!(
            show(snippet(text, &text::matches(text, &phrases))),
            "내일[회의]는 3시"
        );
        let long = format!("{} needle {}", "a ".repeat(100), "b ".repeat(100));
        let phrases = [text::phrase("needle", false).unwrap()];
        let cut = show(snippet(&long, &text::matches(&long, &phrases)));
        assert!(cut.starts_with('…') && cut.ends_with('…'), "{cut}");
        assert!(cut.contains("[needle]"));
        assert_eq!(cut.chars().count(), SNIPPET_CHARS + 4);
        assert_eq!(show(snippet("short\ntext", &[])), "short text");
    }
}
