//! The plan of a run (by mode), its results, the printed table and the JSON file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::load::{Fanout, Idle};
use crate::peer::Kind;
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
}

/// The fan-out workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Workload {
    /// One big room.
    W2,
    /// Many rooms of ten.
    W3,
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
            },
            Mode::Quick => Plan {
                rounds: 1,
                idle: 2_000,
                receivers: 1_000,
                rates: vec![60],
                secs: 5,
                rooms: 1_000,
                room_rates: vec![2_000],
            },
            Mode::Full => Plan {
                rounds: 2,
                idle: 15_000,
                receivers: 1_000,
                rates: vec![60, 120, 180, 240],
                secs: 10,
                rooms: 1_000,
                room_rates: vec![2_000, 6_000],
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
    failures: Vec<String>,
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
            failures: Vec::new(),
        }
    }

    pub fn failed(&mut self, kind: Kind, workload: &str, e: anyhow::Error) {
        tracing::warn!(peer = kind.name(), workload, error = %e, "run failed");
        self.failures.push(format!("{workload} {}: {e:#}", kind.name()));
    }

    pub fn table(&self, peers: &[Kind], plan: &Plan) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "machine: {}", self.machine);
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
        let mut warnings = Vec::new();
        let _ = writeln!(
            t,
            "\nW2 one room of {} receivers, one sender, 100-byte bodies ({} s per load)",
            plan.receivers, plan.secs
        );
        self.fanout_rows(&mut t, &mut warnings, Workload::W2, peers, &plan.rates);
        let _ = writeln!(
            t,
            "\nW3 {} rooms of 10 (one sender, 9 receivers each), messages round the rooms ({} s per load)",
            plan.rooms, plan.secs
        );
        self.fanout_rows(&mut t, &mut warnings, Workload::W3, peers, &plan.room_rates);
        if plan.rates.len() > 1 {
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
                    Some(rate) => {
                        writeln!(t, "- {}: {} deliveries/s", k.name(), rate * plan.receivers as u64)
                    }
                    None => writeln!(t, "- {}: none of the loads tried", k.name()),
                };
            }
        }
        for w in warnings {
            let _ = writeln!(t, "warning: {w}");
        }
        for f in &self.failures {
            let _ = writeln!(t, "FAILED: {f}");
        }
        t
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
