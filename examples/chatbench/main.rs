//! chatbench: one load generator for every server under test, so the
//! comparison is fair. `chatbench run` starts each server in turn (pinned to
//! the server cores with `taskset`; run the bench itself on another core),
//! runs the workloads against it, interleaving servers round by round, and
//! prints a table of figures and ratios against the bare peer, writing
//! the same as JSON under `bench/results/`. `make bench-quick` and
//! `make bench` are the ways in; docs/BENCHMARKS.md explains the method.
//!
//! Workloads: W1 idle connections (server memory per connection); W2 one
//! room, one sender, W3 many rooms of ten and W4 one room over two nodes
//! (latency from the intended send time, loss, duplicates, order, server CPU
//! per delivery); W5 a reconnect storm, W6 durable writes, W8 and W9 big
//! rooms with receipts, W10 uploads, W11 search (the product only: the peers
//! keep nothing).

mod bare;
mod bigroom;
mod durable;
mod files;
mod load;
mod peer;
mod procstat;
mod reconnect;
mod report;
mod search;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use load::Shape;
use peer::{Kind, Paths};
use report::Workload;

#[derive(Parser)]
#[command(about = "Load generator and comparison for the chat server and its peers")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the workloads against the servers and print the table.
    Run(Box<RunArgs>),
    /// Serve the bare broadcast peer (started by `run`).
    Bare {
        #[arg(long)]
        port: u16,
    },
}

#[derive(clap::Args, Clone)]
pub struct RunArgs {
    /// quick (about 3 minutes), full (up to 20), or smoke (seconds: keeps the harness alive in `make test`).
    #[arg(long, value_enum, default_value = "quick")]
    pub mode: report::Mode,
    /// The servers, in the order of the first round.
    #[arg(long, value_enum, value_delimiter = ',', env = "BENCH_PEERS", default_values = ["chat", "bare", "ws", "sio"])]
    pub peers: Vec<Kind>,
    /// The product's server binary (a release build).
    #[arg(long, env = "CHAT_BIN")]
    pub chat_bin: PathBuf,
    /// Where the Node peers are, with their node_modules installed.
    #[arg(long, default_value = "bench/node")]
    pub node_dir: PathBuf,
    /// The cores the servers run on (taskset -c).
    #[arg(long, default_value = "0")]
    pub server_cores: String,
    /// The workloads to run (all by default).
    #[arg(long, value_enum, value_delimiter = ',', env = "BENCH_WORKLOADS",
          default_values = ["w1", "w2", "w3", "w4", "w5", "w6", "w8", "w9", "w10", "w11"])]
    pub workloads: Vec<Workload>,
    /// Where the JSON results go (none in smoke mode).
    #[arg(long, default_value = "bench/results")]
    pub out: PathBuf,
    /// A PostgreSQL server whose role may create databases (W4, W6); one database per run.
    #[arg(long, env = "BENCH_POSTGRES_URL")]
    pub postgres_url: Option<String>,
    /// W11's corpus size, instead of the mode's.
    #[arg(long, env = "BENCH_SEARCH_MESSAGES")]
    pub search_messages: Option<usize>,
    /// A Redis for the two-node runs (W4); each run has a key prefix of its own.
    #[arg(long, env = "BENCH_REDIS_URL")]
    pub redis_url: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    // The generator is one thread-pool on its own core(s); see the Makefile's taskset.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Cmd::Bare { port } => runtime.block_on(bare::serve(port)),
        Cmd::Run(args) => runtime.block_on(run(*args)),
    }
}

/// W8 (a 10,000-member room with 50 online, against one of 100) and W9
/// (1,000 members all online), each `plan.rounds` times.
async fn big_rooms(args: &RunArgs, paths: &Paths, plan: &report::Plan, results: &mut report::Results) {
    let secs = plan.secs.max(5);
    let mut runs = Vec::new();
    if args.workloads.contains(&Workload::W8) {
        runs.extend([
            (Workload::W8, plan.big_members, 50, 20),
            (Workload::W8, 100, 50, 20),
        ]);
    }
    if args.workloads.contains(&Workload::W9) {
        runs.push((Workload::W9, plan.busy_members, plan.busy_members, 5));
    }
    for round in 0..plan.rounds {
        for &(w, members, online, rate) in &runs {
            tracing::info!(round, members, online, rate, "{w:?} big room");
            match bigroom::big_room(paths, members, online, rate, secs).await {
                Ok(b) => results.big.push((w, b)),
                Err(e) => results.failed(Kind::Chat, &format!("{w:?}"), e),
            }
        }
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let paths = Paths {
        chat_bin: args.chat_bin.clone(),
        node_dir: args.node_dir.clone(),
        server_cores: args.server_cores.clone(),
        postgres: args.postgres_url.clone(),
        redis: args.redis_url.clone(),
    };
    let mut plan = args.mode.plan();
    if let Some(n) = args.search_messages {
        plan.search_messages = n;
    }
    let mut results = report::Results::new(&args, &plan);
    let one = |rooms, receivers, nodes| Shape {
        rooms,
        receivers,
        nodes,
    };
    let fanouts: Vec<(Workload, Shape, u64)> = (plan
        .rates
        .iter()
        .map(|&r| (Workload::W2, one(1, plan.receivers, 1), r)))
    .chain(
        plan.room_rates
            .iter()
            .map(|&r| (Workload::W3, one(plan.rooms, 9, 1), r)),
    )
    .chain(
        plan.cluster_rates
            .iter()
            .map(|&r| (Workload::W4, one(1, plan.receivers, 2), r)),
    )
    .filter(|(w, ..)| args.workloads.contains(w))
    .collect();
    for round in 0..plan.rounds {
        // Interleaved: the servers take turns at each load, and each round
        // starts with the next server, so drift on the machine hits all alike.
        let mut order = args.peers.clone();
        let turn = round % order.len().max(1);
        order.rotate_left(turn);
        if args.workloads.contains(&Workload::W1) {
            for &kind in &order {
                tracing::info!(peer = kind.name(), round, "W1 idle connections");
                match load::idle(kind, &paths, plan.idle).await {
                    Ok(r) => results.idle.entry(kind).or_default().push(r),
                    Err(e) => results.failed(kind, "W1", e),
                }
            }
        }
        for &(w, shape, rate) in &fanouts {
            // Two nodes: the peers that have a cluster mode.
            let peers = order
                .iter()
                .filter(|k| shape.nodes == 1 || matches!(k, Kind::Chat | Kind::Sio));
            for &kind in peers {
                tracing::info!(peer = kind.name(), round, rate, "{w:?} fan-out");
                match load::fanout(kind, &paths, shape, rate, plan.secs).await {
                    Ok(r) => results.fanout.entry((w, kind, rate)).or_default().push(r),
                    Err(e) => results.failed(kind, &format!("{w:?}"), e),
                }
            }
        }
        // The product alone: the reconnect storm, and durable writes on both backends.
        if !args.peers.contains(&Kind::Chat) {
            continue;
        }
        if args.workloads.contains(&Workload::W5) {
            tracing::info!(round, clients = plan.reconnecting, "W5 reconnect storm");
            match reconnect::reconnect(&paths, plan.reconnecting, plan.missed).await {
                Ok(r) => results.reconnect.push(r),
                Err(e) => results.failed(Kind::Chat, "W5", e),
            }
        }
        if args.workloads.contains(&Workload::W6) {
            for kind in [Kind::Chat, Kind::ChatPg] {
                tracing::info!(peer = kind.name(), round, "W6 durable writes");
                match durable::durable(kind, &paths, plan.durable_senders, plan.durable_window, plan.secs)
                    .await
                {
                    Ok(d) => results.durable.entry(kind).or_default().push(d),
                    Err(e) => results.failed(kind, "W6", e),
                }
            }
        }
    }
    if args.peers.contains(&Kind::Chat) {
        big_rooms(&args, &paths, &plan, &mut results).await;
        if args.workloads.contains(&Workload::W10) {
            tracing::info!(uploaders = plan.uploaders, mb = plan.upload_mb, "W10 files");
            match files::files(
                &paths,
                plan.uploaders,
                plan.upload_mb,
                plan.photos,
                plan.uploads_in_flight,
            )
            .await
            {
                Ok(f) => results.files.push(f),
                Err(e) => results.failed(Kind::Chat, "W10", e),
            }
        }
        if args.workloads.contains(&Workload::W11) {
            for kind in [Kind::Chat, Kind::ChatPg] {
                tracing::info!(peer = kind.name(), messages = plan.search_messages, "W11 search");
                match search::search(kind, &paths, plan.search_messages).await {
                    Ok(s) => results.search.push(s),
                    Err(e) => results.failed(kind, "W11", e),
                }
            }
        }
    }
    println!("{}", results.table(&args.peers, &plan));
    results.write(&args.out)?;
    if args.mode == report::Mode::Smoke {
        // The smoke run (in `make test`) keeps the harness honest; loads too
        // high for a server are findings of the real runs, not failures.
        anyhow::ensure!(results.clean(), "a run failed or lost messages (see above)");
    }
    Ok(())
}
