//! W11, search (the product only): a corpus of Korean, English and mixed
//! messages in 1,000 rooms of ten, made from the word lists in `words/`,
//! with known phrases planted in known messages, written through the
//! store's own `append` (so the index is written as in production); then a
//! searcher in ten of the rooms asks the query set through the search
//! service (`server::search::find`: the query language, the store, the
//! snippets; no HTTP). Reported per backend: the corpus' write rate with
//! the index, the index's size per message, recall and precision against
//! what the texts say (an oracle that does not use the index or the
//! tokenizer), results from rooms the searcher is not in, and query time.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use anyhow::Context;
use chat::model::{Kind as RowKind, RoomId, UserId};
use chat::server::search::find;
use chat::server::storage::{self, Appended, DynStore, NewMessage};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use uuid::Uuid;

use crate::load::histogram;
use crate::peer::{Kind, Paths};

const KO_NOUNS: &str = include_str!("words/ko-nouns.txt");
const KO_VERBS: &str = include_str!("words/ko-verbs.txt");
const EN: &str = include_str!("words/en.txt");
const PARTICLES: [&str; 12] = [
    "은", "는", "이", "가", "을", "를", "에", "에서", "도", "로", "와", "의",
];

const ROOMS: usize = 1_000;
const USERS: usize = 1_000;
const MEMBERS: usize = 10;
/// The searcher is in this many rooms (1 % of the messages).
const SEARCHER_ROOMS: usize = 10;
/// Messages written per `append`.
const BATCH: usize = 500;

#[derive(Clone, Debug, Serialize)]
pub struct SearchRun {
    pub backend: String,
    pub messages: usize,
    /// Messages written per second through `append`, the index with them.
    pub write_per_sec: f64,
    pub index_bytes_per_message: f64,
    /// Planted queries: recall and precision against the oracle (all pages).
    pub planted: Vec<Planted>,
    /// Common words and prefixes: precision of the first page.
    pub common_queries: usize,
    pub common_precision: f64,
    /// Hits from rooms the searcher is not in, over every query.
    pub foreign_hits: usize,
    /// First-page time of every query, and the slowest query.
    pub query: QueryTime,
    /// The common queries' time for someone in all 1,000 rooms (a query
    /// names every room of the searcher's: this is its largest).
    pub in_every_room: QueryTime,
    pub slowest: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct QueryTime {
    pub queries: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
}

impl QueryTime {
    fn of(h: &hdrhistogram::Histogram<u64>) -> Self {
        QueryTime {
            queries: h.len(),
            p50_ms: h.value_at_quantile(0.5) as f64 / 1000.0,
            p95_ms: h.value_at_quantile(0.95) as f64 / 1000.0,
            max_ms: h.max() as f64 / 1000.0,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Planted {
    pub query: String,
    pub expected: usize,
    pub found: usize,
    pub recall: f64,
    pub precision: f64,
}

fn words(list: &str) -> Vec<&str> {
    list.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// One message of the corpus.
struct Text {
    room: usize,
    sender: usize,
    body: String,
}

/// What a planted query wants, for the oracle: a test on a message's text
/// (lower-cased), and on its sender and room.
struct Want {
    query: String,
    text: fn(&str) -> bool,
    sender: Option<usize>,
    room: Option<usize>,
}

fn wants(sender: usize) -> Vec<Want> {
    let w = |query: &str, text: fn(&str) -> bool| Want {
        query: query.into(),
        text,
        sender: None,
        room: None,
    };
    vec![
        w("결재", |t| t.contains("결재")),
        w("\"실적 보고서\"", |t| t.contains("실적 보고서")),
        w("zephyr", |t| {
            t.split(|c: char| !c.is_alphanumeric())
                .any(|w| w.starts_with("zephyr"))
        }),
        w("kubernetes로", |t| t.contains("kubernetes로")),
        w("タワー", |t| t.contains("タワー")),
        Want {
            sender: Some(sender),
            ..w(&format!("결재 from:@bench{sender}"), |t| t.contains("결재"))
        },
        Want {
            room: Some(3),
            ..w("zephyr in:\"team 3\"", |t| {
                t.split(|c: char| !c.is_alphanumeric())
                    .any(|w| w.starts_with("zephyr"))
            })
        },
    ]
}

/// The planted phrases, one sentence each (several forms of the Korean
/// word inside longer eojeol).
const PLANTED: [&str; 7] = [
    "전자결재로 올려 주세요",
    "결재는 내일 받을게요",
    "결재서류를 확인했어요",
    "분기 실적 보고서를 올렸어요",
    "the zephyrine build is green",
    "Kubernetes로 배포했어요",
    "東京タワーで会いましょう",
];

struct Corpus {
    members: Vec<Vec<usize>>,
    texts: Vec<Text>,
}

fn corpus(messages: usize, rng: &mut StdRng) -> Corpus {
    let (nouns, verbs, en) = (words(KO_NOUNS), words(KO_VERBS), words(EN));
    // The searcher (user 0) is in the first rooms; the rest are random tens.
    let members: Vec<Vec<usize>> = (0..ROOMS)
        .map(|r| {
            let mut m: Vec<usize> = Vec::with_capacity(MEMBERS);
            if r < SEARCHER_ROOMS {
                m.push(0);
            }
            while m.len() < MEMBERS {
                let u = rng.gen_range(1..USERS);
                if !m.contains(&u) {
                    m.push(u);
                }
            }
            m
        })
        .collect();
    let korean = |rng: &mut StdRng| {
        let n = rng.gen_range(3..8);
        let mut s: Vec<String> = (0..n)
            .map(|_| {
                let noun = nouns[rng.gen_range(0..nouns.len())];
                match rng.gen_bool(0.7) {
                    true => format!("{noun}{}", PARTICLES[rng.gen_range(0..PARTICLES.len())]),
                    false => noun.to_string(),
                }
            })
            .collect();
        s.push(verbs[rng.gen_range(0..verbs.len())].to_string());
        s.join(" ")
    };
    let english = |rng: &mut StdRng| {
        let n = rng.gen_range(5..12);
        (0..n)
            .map(|_| en[rng.gen_range(0..en.len())])
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut texts: Vec<Text> = (0..messages)
        .map(|_| {
            let room = rng.gen_range(0..ROOMS);
            let sender = members[room][rng.gen_range(0..MEMBERS)];
            let body = match rng.gen_range(0..100) {
                0..45 => korean(rng),
                45..85 => english(rng),
                _ => {
                    let word = en[rng.gen_range(0..en.len())];
                    format!(
                        "{word}{} {}",
                        PARTICLES[rng.gen_range(0..PARTICLES.len())],
                        korean(rng)
                    )
                }
            };
            Text { room, sender, body }
        })
        .collect();
    // Each planted sentence in 40 messages spread over the corpus: half in
    // the searcher's rooms (some sent by one member, for `from:`), half not.
    for (p, phrase) in PLANTED.iter().enumerate() {
        for k in 0..40 {
            let at = rng.gen_range(0..texts.len());
            let room = match (p, k % 4) {
                (0..3, 0) => 0,
                (_, 0 | 2) => rng.gen_range(0..SEARCHER_ROOMS),
                _ => rng.gen_range(SEARCHER_ROOMS..ROOMS),
            };
            let sender = match (p, k % 4) {
                (0..3, 0) => members[0][1],
                _ => members[room][rng.gen_range(0..MEMBERS)],
            };
            texts[at] = Text {
                room,
                sender,
                body: format!("{} {phrase}", korean(rng)),
            };
        }
    }
    Corpus { members, texts }
}

pub async fn search(kind: Kind, paths: &Paths, messages: usize) -> anyhow::Result<SearchRun> {
    let dir = tempfile::tempdir()?;
    let url = match kind {
        Kind::ChatPg => {
            crate::peer::fresh_database(
                paths
                    .postgres
                    .as_deref()
                    .context("W11 on PostgreSQL needs --postgres-url")?,
            )
            .await?
        }
        _ => format!("sqlite://{}/search.db", dir.path().display()),
    };
    let store = storage::open(&url, 4).await?;
    let mut rng = StdRng::seed_from_u64(11);
    let Corpus { members, texts } = corpus(messages, &mut rng);
    let mut users = Vec::with_capacity(USERS);
    for i in 0..USERS {
        users.push(store.create_user(&format!("bench{i}"), "", "-", 1).await?.id);
    }
    let mut rooms: Vec<RoomId> = Vec::with_capacity(ROOMS);
    for (i, m) in members.iter().enumerate() {
        let name = if i < SEARCHER_ROOMS {
            format!("team {i}")
        } else {
            format!("room {i}")
        };
        let others: Vec<UserId> = m[1..].iter().map(|&u| users[u]).collect();
        rooms.push(store.create_group(users[m[0]], &name, &others, 1).await?);
    }

    // The corpus, through `append` as the writer sends it: the searcher's
    // rooms' messages are kept for the oracle.
    let started = Instant::now();
    let base = 1_700_000_000_000i64;
    let mut seen: HashMap<(RoomId, i64), usize> = HashMap::new();
    for (b, chunk) in texts.chunks(BATCH).enumerate() {
        let batch: Vec<NewMessage> = chunk
            .iter()
            .enumerate()
            .map(|(i, t)| NewMessage {
                room: rooms[t.room],
                sender: users[t.sender],
                from: String::new(),
                cid: Uuid::new_v4(),
                body: t.body.clone(),
                id: Uuid::new_v4(),
                ts: base + (b * BATCH + i) as i64,
                fmt: None,
                kind: RowKind::Message,
                target: None,
                reply_to: None,
                mentions: Vec::new(),
                files: Vec::new(),
                since: 0,
            })
            .collect();
        for (i, out) in store.append(&batch).await?.into_iter().enumerate() {
            let Appended::Stored(m) = out else {
                anyhow::bail!("a corpus message was not stored: {out:?}");
            };
            if chunk[i].room < SEARCHER_ROOMS {
                seen.insert((m.room, m.seq), b * BATCH + i);
            }
        }
    }
    let write_per_sec = texts.len() as f64 / started.elapsed().as_secs_f64();
    let index_bytes = settle(&store, &url).await?;
    let mine: HashSet<RoomId> = rooms[..SEARCHER_ROOMS].iter().copied().collect();
    let searcher = users[0];

    let mut h = histogram();
    let mut slowest = (std::time::Duration::ZERO, String::new());
    let mut foreign = 0;
    let timed = |store: DynStore, q: String| async move {
        let t = Instant::now();
        let page = find(&store, searcher, &q, None, None, 0).await?;
        anyhow::Ok((t.elapsed(), page))
    };
    // Planted: every page, against the oracle.
    let mut planted = Vec::new();
    for want in wants(members[0][1]) {
        let expected: HashSet<(RoomId, i64)> = seen
            .iter()
            .filter(|(_, &i)| {
                let t = &texts[i];
                (want.text)(&t.body.to_lowercase())
                    && want.sender.is_none_or(|s| s == t.sender)
                    && want.room.is_none_or(|r| r == t.room)
            })
            .map(|(k, _)| *k)
            .collect();
        let (took, mut page) = timed(store.clone(), want.query.clone()).await?;
        let _ = h.record(took.as_micros() as u64);
        slowest = slowest.max((took, want.query.clone()));
        anyhow::ensure!(page.problem.is_none(), "{}: {:?}", want.query, page.problem);
        let mut found: Vec<(RoomId, i64)> = Vec::new();
        loop {
            found.extend(page.hits.iter().map(|h| (h.room, h.seq)));
            let Some(next) = page.next else { break };
            page = find(&store, searcher, &want.query, None, Some(next), 0).await?;
        }
        foreign += found.iter().filter(|(r, _)| !mine.contains(r)).count();
        let right = found.iter().filter(|k| expected.contains(k)).count();
        planted.push(Planted {
            query: want.query,
            expected: expected.len(),
            found: found.len(),
            recall: right as f64 / expected.len().max(1) as f64,
            precision: right as f64 / found.len().max(1) as f64,
        });
    }
    // Common words and prefixes: the first page, its precision.
    let (nouns, en) = (words(KO_NOUNS), words(EN));
    let mut queries: Vec<(String, String)> = Vec::new();
    for _ in 0..100 {
        let n = nouns[rng.gen_range(0..nouns.len())];
        queries.push((n.to_string(), n.to_string()));
    }
    for _ in 0..60 {
        let w = en[rng.gen_range(0..en.len())];
        queries.push((w.to_string(), w.to_string()));
    }
    for _ in 0..40 {
        let w = en.choose(&mut rng).copied().unwrap_or("apple");
        queries.push((w[..3].to_string(), w[..3].to_string()));
    }
    let (mut hits, mut right) = (0usize, 0usize);
    for (q, want) in &queries {
        let (took, page) = timed(store.clone(), q.clone()).await?;
        let _ = h.record(took.as_micros() as u64);
        slowest = slowest.max((took, q.clone()));
        for hit in &page.hits {
            if !mine.contains(&hit.room) {
                foreign += 1;
            }
            hits += 1;
            let Some(&i) = seen.get(&(hit.room, hit.seq)) else {
                continue;
            };
            let text = texts[i].body.to_lowercase();
            let ok = match want.chars().next().is_some_and(|c| c.is_ascii()) {
                true => text
                    .split(|c: char| !c.is_alphanumeric())
                    .any(|w| w.starts_with(want.as_str())),
                false => text.contains(want.as_str()),
            };
            right += usize::from(ok);
        }
    }
    // Someone in every room (all of the corpus is theirs to search): the
    // same common queries, timed.
    let everywhere = users[USERS - 1];
    for &room in &rooms {
        store.add_members(room, &[everywhere], 2).await?;
    }
    let mut wide = histogram();
    for (q, _) in &queries {
        let t = Instant::now();
        let page = find(&store, everywhere, q, None, None, 0).await?;
        anyhow::ensure!(page.problem.is_none(), "{q}: {:?}", page.problem);
        let _ = wide.record(t.elapsed().as_micros() as u64);
    }
    store.close().await;
    Ok(SearchRun {
        in_every_room: QueryTime::of(&wide),
        backend: kind.name().into(),
        messages: texts.len(),
        write_per_sec,
        index_bytes_per_message: index_bytes as f64 / texts.len() as f64,
        planted,
        common_queries: queries.len(),
        common_precision: right as f64 / hits.max(1) as f64,
        foreign_hits: foreign,
        slowest: slowest.1,
        query: QueryTime::of(&h),
    })
}

/// Lets the database settle as a long-running one is (statistics
/// gathered, the write-ahead log written back), as autovacuum and SQLite's
/// own checkpoints do over a day of such writes; then the bytes the
/// search index takes on disk: PostgreSQL's table with its indexes and
/// TOAST, SQLite's FTS5 shadow tables' pages.
async fn settle(store: &DynStore, url: &str) -> anyhow::Result<i64> {
    use sqlx::{Connection, Executor};
    if store.backend() == "postgres" {
        let mut db = sqlx::PgConnection::connect(url).await?;
        db.execute("VACUUM ANALYZE search, messages, members, users, rooms")
            .await?;
        let (n,): (i64,) = sqlx::query_as("SELECT pg_total_relation_size('search')")
            .fetch_one(&mut db)
            .await?;
        return Ok(n);
    }
    let mut db = sqlx::SqliteConnection::connect(url).await?;
    db.execute("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA optimize;")
        .await?;
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name LIKE 'search%' AND name <> 'search_todo'",
    )
    .fetch_one(&mut db)
    .await?;
    Ok(n)
}
