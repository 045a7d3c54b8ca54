//! The plan of a run (by mode), its results, the printed table and the JSON file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::bigroom::BigRoom;
use crate::durable::Durable;
use crate::files::Files;
use crate::load::{Fanout, Idle};
use crate::peer::Kind;
use crate::reconnect::Reconnect;
use crate::search::SearchRun;
use crate::RunArgs;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Smoke,
    Quick,
    Full,
}

/// Sizes and rates of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub rounds: usize,
    /// W1: idle connections.
    pub idle: usize,
    /// W2: receivers in the room, messages/s steps, seconds per step.
    pub receivers: usize,
    pub rates: Vec<u64>,
    pub secs: u64,
    /// W3: rooms (of one sender and 9 receivers), messages/s steps in all.
    pub rooms: usize,
    pub room_rates: Vec<u64>,
    /// W4: messages/s steps into the room of `receivers` spread over two nodes.
    pub cluster_rates: Vec<u64>,
    /// W5: clients coming back at once, messages each room got meanwhile.
    pub reconnecting: usize,
    pub missed: u64,
    /// W6: connections, sends in flight on each.
    pub durable_senders: usize,
    pub durable_window: usize,
    /// W8: the big room's members (50 online), compared with a room of 100.
    pub big_members: usize,
    /// W9: the room's members, all online.
    pub busy_members: usize,
    /// W10: uploads at once, MB each, 12 MP photos, uploads held in flight.
    pub uploaders: usize,
    pub upload_mb: usize,
    pub photos: usize,
    pub uploads_in_flight: usize,
    /// W11: messages in the search corpus.
    pub search_messages: usize,
}

/// The workloads (W2–W4 are the fan-out ones, keyed in `Results::fanout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
pub enum Workload {
    /// Idle connections.
    W1,
    /// One big room.
    W2,
    /// Many rooms of ten.
    W3,
    /// One room over two nodes.
    W4,
    /// A reconnect storm.
    W5,
    /// Durable writes.
    W6,
    /// A room of 10,000 members, 50 online.
    W8,
    /// A room of 1,000 members, all online and reporting.
    W9,
    /// Uploads: throughput, a 12-megapixel photo to ready, memory in flight.
    W10,
    /// Search over a corpus of Korean, English and mixed messages.
    W11,
}

impl Mode {
    pub fn plan(self) -> Plan {
        match self {
            Mode::Smoke => Plan {
                rounds: 1,
                idle: 50,
                receivers: 20,
                rates: vec![20],
                secs: 2,
                rooms: 5,
                room_rates: vec![20],
                cluster_rates: vec![10],
                reconnecting: 100,
                missed: 5,
                durable_senders: 4,
                durable_window: 8,
                big_members: 300,
                busy_members: 40,
                uploaders: 2,
                upload_mb: 2,
                photos: 1,
                uploads_in_flight: 4,
                search_messages: 3_000,
            },
            Mode::Quick => Plan {
                rounds: 1,
                idle: 2_000,
                receivers: 1_000,
                rates: vec![60],
                secs: 5,
                rooms: 1_000,
                room_rates: vec![2_000],
                cluster_rates: vec![30],
                reconnecting: 10_000,
                missed: 10,
                durable_senders: 50,
                durable_window: 20,
                big_members: 10_000,
                busy_members: 1_000,
                uploaders: 4,
                upload_mb: 50,
                photos: 3,
                uploads_in_flight: 50,
                search_messages: 1_000_000,
            },
            Mode::Full => Plan {
                rounds: 2,
                idle: 15_000,
                receivers: 1_000,
                rates: vec![60, 120, 240],
                secs: 10,
                rooms: 1_000,
                room_rates: vec![2_000, 6_000],
                cluster_rates: vec![30, 60],
                reconnecting: 10_000,
                missed: 50,
                durable_senders: 100,
                durable_window: 32,
                big_members: 10_000,
                busy_members: 1_000,
                uploaders: 4,
                upload_mb: 50,
                photos: 5,
                uploads_in_flight: 100,
                search_messages: 1_000_000,
            },
        }
    }
}

/// A p99 above this, or any loss, and a load is not held.
const HELD_P99_MS: f64 = 100.0;

#[derive(Serialize)]
pub struct Results {
    mode: Mode,
    plan: Plan,
    started: String,
    machine: String,
    pub idle: BTreeMap<Kind, Vec<Idle>>,
    #[serde(serialize_with = "pairs")]
    pub fanout: BTreeMap<(Workload, Kind, u64), Vec<Fanout>>,
    pub reconnect: Vec<Reconnect>,
    pub durable: BTreeMap<Kind, Vec<Durable>>,
    /// W8 and W9 runs.
    pub big: Vec<(Workload, BigRoom)>,
    /// W10 runs.
    pub files: Vec<Files>,
    /// W11 runs (one per backend).
    pub search: Vec<SearchRun>,
    failures: Vec<String>,
    workloads: Vec<Workload>,
}

fn pairs<S: serde::Serializer>(
    map: &BTreeMap<(Workload, Kind, u64), Vec<Fanout>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(map.iter().map(|((w, k, rate), runs)| (w, k, rate, runs)))
}

impl Results {
    pub fn new(args: &RunArgs, plan: &Plan) -> Self {
        Self {
            mode: args.mode,
            plan: plan.clone(),
            started: format!("{:?}", std::time::SystemTime::now()),
            machine: machine(),
            idle: BTreeMap::new(),
            fanout: BTreeMap::new(),
            reconnect: Vec::new(),
            durable: BTreeMap::new(),
            big: Vec::new(),
            files: Vec::new(),
            search: Vec::new(),
            failures: Vec::new(),
            workloads: args.workloads.clone(),
        }
    }

    pub fn failed(&mut self, kind: Kind, workload: &str, e: anyhow::Error) {
        tracing::warn!(peer = kind.name(), workload, error = %e, "run failed");
        self.failures.push(format!("{workload} {}: {e:#}", kind.name()));
    }

    pub fn table(&self, peers: &[Kind], plan: &Plan) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "machine: {}", self.machine);
        let ran = |w| self.workloads.contains(&w);
        if ran(Workload::W1) {
            self.idle_rows(&mut t, peers, plan);
        }
        let mut warnings = Vec::new();
        if ran(Workload::W2) {
            let _ = writeln!(
                t,
                "\nW2 one room of {} receivers, one sender, 100-byte bodies ({} s per load)",
                plan.receivers, plan.secs
            );
            self.fanout_rows(&mut t, &mut warnings, Workload::W2, peers, &plan.rates);
            self.held_rows(&mut t, peers, plan);
        }
        if ran(Workload::W3) {
            let _ = writeln!(
                t,
                "\nW3 {} rooms of 10 (one sender, 9 receivers each), messages round the rooms ({} s per load)",
                plan.rooms, plan.secs
            );
            self.fanout_rows(&mut t, &mut warnings, Workload::W3, peers, &plan.room_rates);
        }
        if ran(Workload::W4) {
            self.cluster_rows(&mut t, peers, plan);
        }
        if ran(Workload::W5) {
            self.reconnect_rows(&mut t, plan);
        }
        if ran(Workload::W6) {
            self.durable_rows(&mut t, plan);
        }
        if ran(Workload::W8) || ran(Workload::W9) {
            self.big_rows(&mut t);
        }
        if ran(Workload::W10) {
            self.files_rows(&mut t);
        }
        if ran(Workload::W11) {
            self.search_rows(&mut t);
        }
        for w in warnings {
            let _ = writeln!(t, "warning: {w}");
        }
        for f in &self.failures {
            let _ = writeln!(t, "FAILED: {f}");
        }
        t
    }

    /// W1: memory per idle connection.
    fn idle_rows(&self, t: &mut String, peers: &[Kind], plan: &Plan) {
        let _ = writeln!(
            t,
            "\nW1 idle connections ({}): server memory per connection",
            plan.idle
        );
        let _ = writeln!(t, "| server | KiB per connection | × bare |");
        let _ = writeln!(t, "|---|---|---|");
        let bare_idle = self
            .idle
            .get(&Kind::Bare)
            .and_then(|r| median(r, |i| i.kib_per_connection));
        for &k in peers {
            if let Some(kib) = self
                .idle
                .get(&k)
                .and_then(|r| median(r, |i| i.kib_per_connection))
            {
                let _ = writeln!(t, "| {} | {kib:.1} | {} |", k.name(), ratio(kib, bare_idle));
            }
        }
    }

    /// W2: the highest load each server held, when several were tried.
    fn held_rows(&self, t: &mut String, peers: &[Kind], plan: &Plan) {
        if plan.rates.len() < 2 {
            return;
        }
        let _ = writeln!(t, "\nHighest load held (p99 ≤ {HELD_P99_MS} ms, nothing lost):");
        for &k in peers {
            let held = plan
                .rates
                .iter()
                .filter(|&&rate| {
                    self.fanout
                        .get(&(Workload::W2, k, rate))
                        .and_then(|r| pick(r))
                        .is_some_and(|f| f.lost == 0 && f.p99_ms <= HELD_P99_MS)
                })
                .max();
            let _ = match held {
                Some(rate) => writeln!(t, "- {}: {} deliveries/s", k.name(), rate * plan.receivers as u64),
                None => writeln!(t, "- {}: none of the loads tried", k.name()),
            };
        }
    }

    /// One table row per server and load of a fan-out workload.
    fn fanout_rows(
        &self,
        t: &mut String,
        warnings: &mut Vec<String>,
        w: Workload,
        peers: &[Kind],
        rates: &[u64],
    ) {
        let _ = writeln!(
            t,
            "| server | msgs/s | deliveries/s | p50 ms | p99 ms | p99.9 ms | max ms | lost | dup | reordered | server CPU µs/delivery | × bare | server CPU % | RSS MiB |"
        );
        let _ = writeln!(t, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        for &rate in rates {
            let bare = self
                .fanout
                .get(&(w, Kind::Bare, rate))
                .and_then(|r| pick(r))
                .map(|f| f.server_cpu_us_per_delivery);
            for &k in peers {
                let Some(f) = self.fanout.get(&(w, k, rate)).and_then(|r| pick(r)) else {
                    continue;
                };
                let _ = writeln!(
                    t,
                    "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {:.2} | {} | {:.0} | {:.0} |",
                    k.name(),
                    f.msgs_per_sec,
                    f.offered_deliveries_per_sec,
                    f.p50_ms,
                    f.p99_ms,
                    f.p999_ms,
                    f.max_ms,
                    f.lost,
                    f.duplicated,
                    f.reordered,
                    f.server_cpu_us_per_delivery,
                    ratio(f.server_cpu_us_per_delivery, bare),
                    f.server_cpu_percent,
                    f.server_rss_kib as f64 / 1024.0
                );
                if f.generator_cpu_percent > 90.0 || f.sender_late_ms > 20.0 {
                    warnings.push(format!(
                        "{w:?} {} at {rate} msgs/s: the generator may be the bottleneck (its CPU {:.0} %, sender up to {:.1} ms late)",
                        k.name(),
                        f.generator_cpu_percent,
                        f.sender_late_ms
                    ));
                }
            }
        }
    }

    /// W4: same-node against cross-node latency, per peer with a cluster mode.
    fn cluster_rows(&self, t: &mut String, peers: &[Kind], plan: &Plan) {
        let _ = writeln!(
            t,
            "\nW4 one room of {} receivers over two nodes (half on the sender's node), one sender ({} s per load)",
            plan.receivers, plan.secs
        );
        let _ = writeln!(
            t,
            "| server | msgs/s | deliveries/s | same-node p50 / p99 ms | cross-node p50 / p99 ms | cross ÷ same p99 | lost | dup | server CPU µs/delivery (both nodes) |"
        );
        let _ = writeln!(t, "|---|---|---|---|---|---|---|---|---|");
        for &rate in &plan.cluster_rates {
            for &k in peers {
                let Some(f) = self.fanout.get(&(Workload::W4, k, rate)).and_then(|r| pick(r)) else {
                    continue;
                };
                let (Some(same), Some(cross)) = (&f.same_node, &f.cross_node) else {
                    continue;
                };
                let _ = writeln!(
                    t,
                    "| {} | {} | {} | {:.1} / {:.1} | {:.1} / {:.1} | {} | {} | {} | {:.2} |",
                    k.cluster_name(),
                    f.msgs_per_sec,
                    f.offered_deliveries_per_sec,
                    same.p50_ms,
                    same.p99_ms,
                    cross.p50_ms,
                    cross.p99_ms,
                    ratio(cross.p99_ms, Some(same.p99_ms)),
                    f.lost,
                    f.duplicated,
                    f.server_cpu_us_per_delivery,
                );
            }
        }
    }

    /// W5: the reconnect storm (the product only: the peers keep no history).
    fn reconnect_rows(&self, t: &mut String, plan: &Plan) {
        let _ = writeln!(
            t,
            "\nW5 {} clients (rooms of 10) come back at once and sync the {} messages each room got while they were away (chat only: the peers keep no history)",
            plan.reconnecting, plan.missed
        );
        let _ = writeln!(
            t,
            "| server | all resynced s | per client p50 / p99 s | gaps | gave up | connect retries | server CPU s | RSS MiB |"
        );
        let _ = writeln!(t, "|---|---|---|---|---|---|---|---|");
        let mut runs: Vec<&Reconnect> = self.reconnect.iter().collect();
        runs.sort_by(|a, b| a.all_resynced_ms.total_cmp(&b.all_resynced_ms));
        if let Some(r) = runs.get(runs.len() / 2) {
            let _ = writeln!(
                t,
                "| {} | {:.2} | {:.2} / {:.2} | {} | {} | {} | {:.1} | {:.0} |",
                Kind::Chat.name(),
                r.all_resynced_ms / 1000.0,
                r.resynced.p50_ms / 1000.0,
                r.resynced.p99_ms / 1000.0,
                r.gaps,
                r.unfinished,
                r.retries,
                r.server_cpu_s,
                r.server_rss_kib as f64 / 1024.0
            );
        }
    }

    /// W6: durable acked events a second, per backend.
    fn durable_rows(&self, t: &mut String, plan: &Plan) {
        let _ = writeln!(
            t,
            "\nW6 durable writes: {} connections (a room each) keep {} frames in flight, 70 % messages, 20 % reactions, 10 % edits; acked events/s with fsync on (chat only: the peers store nothing)",
            plan.durable_senders, plan.durable_window
        );
        let _ = writeln!(
            t,
            "| server | acked events/s | of which reactions / edits | ack p50 / p99 / max ms | errors | unanswered | seq holes | server CPU µs/event | server CPU % |"
        );
        let _ = writeln!(t, "|---|---|---|---|---|---|---|---|---|");
        for (k, runs) in &self.durable {
            let mut runs: Vec<&Durable> = runs.iter().collect();
            runs.sort_by(|a, b| a.acked_per_sec.total_cmp(&b.acked_per_sec));
            let Some(d) = runs.get(runs.len() / 2) else {
                continue;
            };
            let _ = writeln!(
                t,
                "| {} | {:.0} | {:.0} % / {:.0} % | {:.1} / {:.1} / {:.1} | {} | {} | {} | {:.1} | {:.0} |",
                k.name(),
                d.acked_per_sec,
                100.0 * d.reactions as f64 / d.acked.max(1) as f64,
                100.0 * d.edits as f64 / d.acked.max(1) as f64,
                d.ack.p50_ms,
                d.ack.p99_ms,
                d.ack.max_ms,
                d.errors,
                d.unanswered,
                d.seq_holes,
                d.server_cpu_us_per_message,
                d.server_cpu_percent
            );
        }
    }

    /// W10: uploads (the product only).
    fn files_rows(&self, t: &mut String) {
        let _ = writeln!(
            t,
            "\nW10 files: tus uploads in 1 MiB parts on SQLite and a directory (chat only)"
        );
        let _ = writeln!(
            t,
            "| uploads at once × MB | upload MB/s | server CPU ms/MB | 12 MP JPEG (MB): last part to ready p50 / max ms | same bytes as a plain file: last part p50 ms | uploads in flight | server KiB per upload in flight |"
        );
        let _ = writeln!(t, "|---|---|---|---|---|---|---|");
        for f in &self.files {
            let _ = writeln!(
                t,
                "| {} × {:.0} | {:.1} | {:.1} | ({:.1}) {:.0} / {:.0} | {:.1} | {} | {:.0} |",
                f.uploaders,
                f.file_mb,
                f.upload_mb_per_sec,
                f.server_cpu_ms_per_mb,
                f.photo_mb,
                f.photo_ready.p50_ms,
                f.photo_ready.max_ms,
                f.plain_last_part.p50_ms,
                f.in_flight,
                f.kib_per_upload_in_flight
            );
        }
    }

    /// W11: search (the product only).
    fn search_rows(&self, t: &mut String) {
        let _ = writeln!(
            t,
            "\nW11 search: 1,000 rooms of 10, Korean / English / mixed messages; the searcher is in 10 rooms (chat only)"
        );
        let _ = writeln!(
            t,
            "| backend | messages | written/s with the index | index bytes/message | query p50 / p95 / max ms (slowest) | in all 1,000 rooms: p50 / p95 / max ms | planted recall (min) | planted precision (min) | common-word precision | hits from others' rooms |"
        );
        let _ = writeln!(t, "|---|---|---|---|---|---|---|---|---|---|");
        for s in &self.search {
            let min = |f: fn(&crate::search::Planted) -> f64| s.planted.iter().map(f).fold(1.0, f64::min);
            let _ = writeln!(
                t,
                "| {} | {} | {:.0} | {:.0} | {:.1} / {:.1} / {:.1} (`{}`) | {:.1} / {:.1} / {:.1} | {:.1} % | {:.1} % | {:.1} % | {} |",
                s.backend,
                s.messages,
                s.write_per_sec,
                s.index_bytes_per_message,
                s.query.p50_ms,
                s.query.p95_ms,
                s.query.max_ms,
                s.slowest,
                s.in_every_room.p50_ms,
                s.in_every_room.p95_ms,
                s.in_every_room.max_ms,
                100.0 * min(|p| p.recall),
                100.0 * min(|p| p.precision),
                100.0 * s.common_precision,
                s.foreign_hits
            );
        }
        let _ = writeln!(t, "| query | backend | expected | found | recall | precision |");
        let _ = writeln!(t, "|---|---|---|---|---|---|");
        for s in &self.search {
            for p in &s.planted {
                let _ = writeln!(
                    t,
                    "| `{}` | {} | {} | {} | {:.1} % | {:.1} % |",
                    p.query,
                    s.backend,
                    p.expected,
                    p.found,
                    100.0 * p.recall,
                    100.0 * p.precision
                );
            }
        }
    }

    /// W8 and W9: big rooms (the product only: the peers have no receipts).
    fn big_rows(&self, t: &mut String) {
        let _ = writeln!(
            t,
            "\nW8/W9 big rooms: one sender; online members report `delivered` at most every 300 ms, one in ten `read` (chat only)"
        );
        let _ = writeln!(
            t,
            "| run | members | online | msg/s | receipt frames per member per message (mean / max) | sender ticks/s | p50 / p99 ms | resyncs | lost | bytes to members per message | server CPU µs/message | server CPU % |"
        );
        let _ = writeln!(t, "|---|---|---|---|---|---|---|---|---|---|---|---|");
        let mut keys: Vec<(Workload, usize)> = self.big.iter().map(|(w, b)| (*w, b.members)).collect();
        keys.sort();
        keys.dedup();
        for (w, members) in keys {
            let runs: Vec<&BigRoom> = self
                .big
                .iter()
                .filter(|(x, b)| *x == w && b.members == members)
                .map(|(_, b)| b)
                .collect();
            let mut sorted = runs.clone();
            sorted.sort_by(|a, b| a.server_cpu_us_per_msg.total_cmp(&b.server_cpu_us_per_msg));
            let Some(b) = sorted.get(sorted.len() / 2) else {
                continue;
            };
            let _ = writeln!(
                t,
                "| {w:?} | {} | {} | {} | {:.2} / {:.2} | {:.2} | {:.1} / {:.1} | {} | {} | {:.0} | {:.0} | {:.0} |",
                b.members,
                b.online,
                b.msgs_per_sec,
                b.receipt_frames_per_member_msg,
                b.receipt_frames_per_member_msg_max,
                b.sender_ticks_per_sec,
                b.latency.p50_ms,
                b.latency.p99_ms,
                b.resyncs,
                b.lost,
                b.bytes_per_msg,
                b.server_cpu_us_per_msg,
                b.server_cpu_percent
            );
        }
    }

    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        if self.mode == Mode::Smoke {
            return Ok(());
        }
        std::fs::create_dir_all(dir)?;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let path = dir.join(format!("{stamp}-{:?}.json", self.mode).to_lowercase());
        std::fs::write(&path, serde_json::to_string_pretty(self)?)?;
        println!("results: {}", path.display());
        Ok(())
    }

    /// Whether every run worked and lost nothing (what the smoke run checks).
    pub fn clean(&self) -> bool {
        self.failures.is_empty()
            && self
                .fanout
                .values()
                .flatten()
                .all(|f| f.lost == 0 && f.duplicated == 0)
            && self.reconnect.iter().all(|r| r.gaps == 0 && r.unfinished == 0)
            && self.big.iter().all(|(_, b)| b.lost == 0 && b.resyncs == 0)
            && self.search.iter().all(|s| {
                s.foreign_hits == 0 && s.planted.iter().all(|p| p.recall == 1.0 && p.precision == 1.0)
            })
            && self
                .durable
                .values()
                .flatten()
                .all(|d| d.errors == 0 && d.unanswered == 0 && d.seq_holes == 0)
    }
}

/// The run with the median CPU per delivery.
fn pick(runs: &[Fanout]) -> Option<&Fanout> {
    let mut sorted: Vec<&Fanout> = runs.iter().collect();
    sorted.sort_by(|a, b| {
        a.server_cpu_us_per_delivery
            .total_cmp(&b.server_cpu_us_per_delivery)
    });
    sorted.get(sorted.len() / 2).copied()
}

fn median<T>(runs: &[T], f: impl Fn(&T) -> f64) -> Option<f64> {
    let mut v: Vec<f64> = runs.iter().map(f).collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

fn ratio(x: f64, bare: Option<f64>) -> String {
    match bare {
        Some(b) if b > 0.0 => format!("{:.2}", x / b),
        _ => "–".into(),
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib / (1 << 20));
    format!("{cpu}, {cores} cores, {mem_gib} GiB")
}
