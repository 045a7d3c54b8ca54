//! The people directory's work: a search by the prefix of a name's word or
//! a handle (folded as names are: case, accents and width do not matter,
//! Korean syllables are matched as typed), a page at a time; and the task
//! that indexes, at start-up, the people stored before the directory.
//! The handler (`accounts::find_people`) limits searches per person.

use std::time::Duration;

use super::storage::{DynStore, StoreError};
use super::tasks::NodeTask;
use super::text::name_words;
use crate::model::{PeoplePage, UserId, PEOPLE_PAGE};

/// The people `query` finds for `me`, after user `after`: each of them has
/// a key starting with the query's first word, and every further word of
/// the query starts a word of their name or is their handle's start.
pub async fn find(
    store: &DynStore,
    me: UserId,
    query: &str,
    after: Option<UserId>,
) -> Result<PeoplePage, StoreError> {
    let words = name_words(query);
    let Some(first) = words.first() else {
        return Ok(PeoplePage::default());
    };
    let mut people = Vec::new();
    let mut after = after.unwrap_or(0);
    // Later words filter in memory: a few pages of the first word's at most.
    for _ in 0..5 {
        let page = store.find_people(first, me, after, PEOPLE_PAGE + 1).await?;
        let full = page.len() > PEOPLE_PAGE as usize;
        for p in page.into_iter().take(PEOPLE_PAGE as usize) {
            after = p.user.id;
            let mut keys = name_words(&p.user.display_name);
            keys.push(p.user.handle.clone());
            if words[1..]
                .iter()
                .all(|w| keys.iter().any(|k| k.starts_with(w.as_str())))
            {
                people.push(p);
            }
            if people.len() == PEOPLE_PAGE as usize {
                return Ok(PeoplePage {
                    people,
                    next: Some(after),
                });
            }
        }
        if !full {
            return Ok(PeoplePage { people, next: None });
        }
    }
    Ok(PeoplePage {
        people,
        next: Some(after),
    })
}

/// The task that indexes the people stored before the directory existed
/// (after an upgrade); it ends when none is left.
pub fn backlog(store: DynStore) -> NodeTask {
    NodeTask::new("people backlog", async move {
        let mut done = 0usize;
        loop {
            match store.people_backlog(500).await {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) => {
                    tracing::warn!("indexing people for the directory: {e}; trying again in 10 s");
                    tokio::time::sleep(Duration::from_secs(10)).await;
                }
            }
            tokio::task::yield_now().await;
        }
        if done > 0 {
            tracing::info!(people = done, "people indexed for the directory");
        }
    })
}
