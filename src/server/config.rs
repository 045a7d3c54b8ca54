//! Start-up settings: command-line flags, each with an environment fallback.
//! Parsing and checking only; nothing here opens a connection.

use std::net::SocketAddr;

use clap::{builder::BoolishValueParser, Parser};

#[derive(Clone, Debug, Parser)]
#[command(name = "chat", version, about = "A real-time messenger server")]
pub struct Config {
    /// Address to listen on. Falls back to LEPTOS_SITE_ADDR (set by cargo-leptos), then 127.0.0.1:3000.
    #[arg(long, env = "CHAT_BIND")]
    pub bind: Option<SocketAddr>,

    /// sqlite://PATH (embedded, the default) or postgres://USER:PASSWORD@HOST:PORT/DB (cluster).
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/chat.db")]
    pub database_url: String,

    /// redis://HOST:PORT — Pub/Sub, cache and presence between nodes (cluster shape).
    /// Several URLs, comma-separated, are the seed nodes of a Redis Cluster.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// REDIS_URL names a Redis Cluster even if it lists one node.
    #[arg(long, env = "CHAT_REDIS_CLUSTER", default_value_t = false)]
    pub redis_cluster: bool,

    /// Prefix of every Redis key and channel (clusters sharing a Redis use different ones).
    #[arg(long, env = "CHAT_REDIS_PREFIX", default_value = "chat")]
    pub redis_prefix: String,

    /// Origins allowed to call the API and open the socket, comma-separated
    /// (default: http://127.0.0.1:PORT and http://localhost:PORT of --bind).
    #[arg(long, env = "CHAT_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Database connections per node.
    #[arg(long, env = "CHAT_DB_POOL", default_value_t = 8)]
    pub db_pool: u32,

    /// Members a group may have.
    #[arg(long, env = "CHAT_MAX_ROOM_MEMBERS", default_value_t = 10_000)]
    pub max_room_members: u32,

    /// Rooms a user may be in.
    #[arg(long, env = "CHAT_MAX_ROOMS_PER_USER", default_value_t = 1_000)]
    pub max_rooms_per_user: u32,

    /// Characters a message body may have.
    #[arg(long, env = "CHAT_MAX_BODY_CHARS", default_value_t = 4_000)]
    pub max_body_chars: usize,

    /// How long after sending a person may edit or delete their message
    /// (seconds; a group's owners delete any message at any time).
    #[arg(long, env = "CHAT_EDIT_WINDOW_SECS", default_value_t = crate::model::EDIT_WINDOW_SECS)]
    pub edit_window_secs: u64,

    /// Bytes a WebSocket frame may have (larger ones get a `too_large` error).
    #[arg(long, env = "CHAT_MAX_FRAME_BYTES", default_value_t = 65_536)]
    pub max_frame_bytes: usize,

    /// Live frames a connection may have waiting before it is told to resync.
    #[arg(long, env = "CHAT_SEND_QUEUE", default_value_t = 256)]
    pub send_queue: usize,

    /// Milliseconds between WebSocket pings.
    #[arg(long, env = "CHAT_HEARTBEAT_MS", default_value_t = 30_000)]
    pub heartbeat_ms: u64,

    /// A connection silent this long (ms) is closed.
    #[arg(long, env = "CHAT_HEARTBEAT_TIMEOUT_MS", default_value_t = 45_000)]
    pub heartbeat_timeout_ms: u64,

    /// Browsers keep the newest rows of this many rooms (the ones opened
    /// last) for offline use and a fast start; 0 keeps only the room list.
    #[arg(long, env = "CHAT_OFFLINE_ROOMS", default_value_t = 20)]
    pub offline_rooms: usize,

    /// How many of each such room's newest rows browsers keep.
    #[arg(long, env = "CHAT_OFFLINE_ROWS", default_value_t = 200)]
    pub offline_rows: usize,

    /// Groups with at most this many members share their members' presence
    /// (direct rooms always do); larger ones would cost more than messages.
    #[arg(long, env = "CHAT_PRESENCE_MAX_MEMBERS", default_value_t = 100)]
    pub presence_max_members: u32,

    /// Messages one connection may send per second on average…
    #[arg(long, env = "CHAT_SEND_RATE", default_value_t = 20)]
    pub send_rate: u32,

    /// …and in a burst (more get `rate_limited`; the client sends them again).
    #[arg(long, env = "CHAT_SEND_BURST", default_value_t = 60)]
    pub send_burst: u32,

    /// Searches one person may make per second on average…
    #[arg(long, env = "CHAT_SEARCH_RATE", default_value_t = 4)]
    pub search_rate: u32,

    /// …and in a burst (more are answered 429 with `Retry-After`).
    #[arg(long, env = "CHAT_SEARCH_BURST", default_value_t = 20)]
    pub search_burst: u32,

    /// Failed log-ins allowed per handle (then one more per minute) and per
    /// address (then one more per 15 s), to slow down password guessing.
    #[arg(long, env = "CHAT_LOGIN_FAILURES", default_value_t = 5)]
    pub login_failures: u32,

    /// Accounts one address may create at once (then one more a minute).
    #[arg(long, env = "CHAT_SIGNUP_BURST", default_value_t = 10)]
    pub signup_burst: u32,

    /// Groups one person may create in an hour (all at once if they like;
    /// the allowance refills evenly over the hour). Past it: 429 with Retry-After.
    #[arg(long, env = "CHAT_GROUPS_PER_HOUR", default_value_t = 20)]
    pub groups_per_hour: u32,

    /// Direct rooms one person may open in an hour (opening one that exists counts).
    #[arg(long, env = "CHAT_DIRECTS_PER_HOUR", default_value_t = 60)]
    pub directs_per_hour: u32,

    /// People one person may add to groups in an hour.
    #[arg(long, env = "CHAT_ADDS_PER_HOUR", default_value_t = 200)]
    pub adds_per_hour: u32,

    /// Password checks that may wait for a core (as many as there are cores
    /// run at once); past that, sign-up and log-in answer 503 with Retry-After.
    #[arg(long, env = "CHAT_HASH_QUEUE", default_value_t = 16)]
    pub hash_queue: usize,

    /// Who runs this deployment, for push services (the VAPID `sub` claim):
    /// a `mailto:` or `https:` URL they can write to about problems.
    #[arg(long, env = "CHAT_PUSH_CONTACT", default_value = "mailto:admin@localhost")]
    pub push_contact: String,

    /// Messages in one room within this many ms make one notification more
    /// (the first goes at once, the latest of the rest when the window ends).
    #[arg(long, env = "CHAT_PUSH_COLLAPSE_MS", default_value_t = 4_000)]
    pub push_collapse_ms: u64,

    /// When a person deletes their account, erase the text of their
    /// messages too (they show as deleted to everyone); by default the
    /// messages stay, under "Deleted account".
    #[arg(long, env = "CHAT_ERASE_DELETED_ACCOUNTS", default_value_t = false, value_parser = BoolishValueParser::new())]
    pub erase_deleted_accounts: bool,

    /// Accept plain-http push endpoints (browsers' push services are all
    /// https; this is for a push service on loopback in tests).
    #[arg(long, env = "CHAT_PUSH_ALLOW_HTTP", default_value_t = false, value_parser = BoolishValueParser::new())]
    pub push_allow_http: bool,

    /// Where uploaded files are kept: a directory, or s3://BUCKET for an
    /// S3-compatible store (credentials and region from AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_REGION; see CHAT_S3_ENDPOINT). Default: a
    /// `files` directory beside the SQLite file (`data/files` with PostgreSQL).
    #[arg(long, env = "CHAT_FILES")]
    pub files: Option<String>,

    /// The S3 endpoint of s3:// files when it is not AWS (for example
    /// http://127.0.0.1:9000); plain http is allowed only here.
    #[arg(long, env = "CHAT_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    /// Bytes one uploaded file may have.
    #[arg(long, env = "CHAT_FILE_MAX_BYTES", default_value_t = 50 * 1024 * 1024)]
    pub file_max_bytes: u64,

    /// Bytes one person may upload in 24 hours.
    #[arg(long, env = "CHAT_UPLOAD_BYTES_PER_DAY", default_value_t = 1024 * 1024 * 1024)]
    pub upload_bytes_per_day: u64,

    /// Unfinished uploads one person may have at once.
    #[arg(long, env = "CHAT_UPLOADS_OPEN", default_value_t = 20)]
    pub uploads_open: u64,

    /// Pixels an uploaded image may have (width × height; per frame for a GIF).
    #[arg(long, env = "CHAT_IMAGE_MAX_PIXELS", default_value_t = 50_000_000)]
    pub image_max_pixels: u64,

    /// Images decoded at once (each takes a core and up to ~4 bytes a pixel);
    /// 0: one per core.
    #[arg(long, env = "CHAT_IMAGE_WORKERS", default_value_t = 0)]
    pub image_workers: usize,

    /// Seconds an upload that was never sent is kept.
    #[arg(long, env = "CHAT_UPLOAD_TTL_SECS", default_value_t = 86_400)]
    pub upload_ttl_secs: u64,

    /// Seconds between sweeps that remove the bytes of deleted messages'
    /// files and of expired uploads.
    #[arg(long, env = "CHAT_FILE_SWEEP_SECS", default_value_t = 60)]
    pub file_sweep_secs: u64,

    /// On SIGTERM, how long (ms) open connections get to finish their
    /// sends and close before the process exits anyway.
    #[arg(long, env = "CHAT_SHUTDOWN_GRACE_MS", default_value_t = 10_000)]
    pub shutdown_grace_ms: u64,

    /// At start, how long (ms) to keep trying to reach PostgreSQL and Redis:
    /// a node started while they restart waits for them instead of exiting.
    #[arg(long, env = "CHAT_START_WAIT_MS", default_value_t = 30_000)]
    pub start_wait_ms: u64,

    /// Days a log-in stays valid.
    #[arg(long, env = "CHAT_SESSION_DAYS", default_value_t = 30)]
    pub session_days: u32,

    /// Mark the session cookie `Secure` (set this when serving over HTTPS).
    #[arg(long, env = "CHAT_SECURE_COOKIE", default_value_t = false, value_parser = BoolishValueParser::new())]
    pub secure_cookie: bool,

    /// Log as JSON lines instead of text.
    #[arg(long, env = "CHAT_LOG_JSON", default_value_t = false, value_parser = BoolishValueParser::new())]
    pub log_json: bool,

    /// Where the built site (pkg/, assets) lives; set by cargo-leptos.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,

    /// Sub-directory of the site root with the WASM, JS and CSS bundle.
    #[arg(long, env = "LEPTOS_SITE_PKG_DIR", default_value = "pkg")]
    pub site_pkg_dir: String,

    /// The file naming the bundle's content hashes (cargo-leptos writes
    /// `hash.txt` next to the binary); a relative name is next to the binary.
    #[arg(long, env = "LEPTOS_HASH_FILE_NAME", default_value = "hash.txt")]
    pub hash_file: String,

    /// Port of cargo-leptos' live-reload socket (developer loop only).
    #[arg(long, env = "LEPTOS_RELOAD_PORT", default_value_t = 3001)]
    pub reload_port: u32,
}

impl Config {
    /// The address to listen on, after the fallbacks.
    pub fn bind_addr(&self) -> Result<SocketAddr, String> {
        if let Some(addr) = self.bind {
            return Ok(addr);
        }
        match std::env::var("LEPTOS_SITE_ADDR") {
            Ok(s) => s
                .parse()
                .map_err(|_| format!("LEPTOS_SITE_ADDR ({s}) is not an address such as 127.0.0.1:3000")),
            Err(_) => Ok(SocketAddr::from(([127, 0, 0, 1], 3000))),
        }
    }

    /// The allowed origins, defaulting to the loopback names of the port.
    pub fn origins(&self, port: u16) -> Vec<String> {
        if self.allowed_origins.is_empty() {
            vec![
                format!("http://127.0.0.1:{port}"),
                format!("http://localhost:{port}"),
            ]
        } else {
            self.allowed_origins
                .iter()
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .collect()
        }
    }

    /// Checks what clap cannot: one message naming the setting.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(urls) = &self.redis_url {
            for url in urls.split(',').map(str::trim) {
                if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                    return Err(format!(
                        "REDIS_URL ({}) must be redis:// or rediss:// URLs, comma-separated",
                        redact(urls)
                    ));
                }
            }
        }
        for origin in &self.allowed_origins {
            let o = origin.trim();
            if !(o.starts_with("http://") || o.starts_with("https://")) || o.matches('/').count() > 3 {
                return Err(format!(
                    "CHAT_ALLOWED_ORIGINS: {o:?} is not an origin such as https://chat.example.com"
                ));
            }
        }
        if self.db_pool == 0 {
            return Err("CHAT_DB_POOL must be at least 1".into());
        }
        if self.max_room_members < 2 {
            return Err("CHAT_MAX_ROOM_MEMBERS must be at least 2".into());
        }
        if self.heartbeat_ms == 0 || self.heartbeat_timeout_ms <= self.heartbeat_ms {
            return Err("CHAT_HEARTBEAT_TIMEOUT_MS must be longer than CHAT_HEARTBEAT_MS (> 0)".into());
        }
        if self.max_body_chars == 0 || self.max_frame_bytes < 1024 || self.send_queue == 0 {
            return Err(
                "CHAT_MAX_BODY_CHARS, CHAT_MAX_FRAME_BYTES (>= 1024) and CHAT_SEND_QUEUE must be positive"
                    .into(),
            );
        }
        if !(self.push_contact.starts_with("mailto:") || self.push_contact.starts_with("https://")) {
            return Err("CHAT_PUSH_CONTACT must be a mailto: or https:// URL".into());
        }
        if [
            self.send_rate,
            self.send_burst,
            self.search_rate,
            self.search_burst,
            self.login_failures,
            self.signup_burst,
            self.groups_per_hour,
            self.directs_per_hour,
            self.adds_per_hour,
        ]
        .contains(&0)
        {
            return Err(
                "CHAT_SEND_RATE, CHAT_SEND_BURST, CHAT_LOGIN_FAILURES, CHAT_SIGNUP_BURST, \
                 CHAT_GROUPS_PER_HOUR, CHAT_DIRECTS_PER_HOUR and CHAT_ADDS_PER_HOUR must be at least 1"
                    .into(),
            );
        }
        if self.file_max_bytes == 0 || self.image_max_pixels == 0 || self.file_sweep_secs == 0 {
            return Err(
                "CHAT_FILE_MAX_BYTES, CHAT_IMAGE_MAX_PIXELS and CHAT_FILE_SWEEP_SECS must be at least 1"
                    .into(),
            );
        }
        if let Some(endpoint) = &self.s3_endpoint {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                return Err(format!(
                    "CHAT_S3_ENDPOINT ({endpoint}) must be an http:// or https:// URL"
                ));
            }
        }
        if self.session_days == 0 {
            return Err("CHAT_SESSION_DAYS must be at least 1".into());
        }
        Ok(())
    }

    /// Where files are kept (see `files`): its setting, or the default.
    pub fn files_location(&self) -> String {
        if let Some(files) = &self.files {
            return files.clone();
        }
        let db = self
            .database_url
            .strip_prefix("sqlite://")
            .map(|p| p.split('?').next().unwrap_or(p));
        match db.map(std::path::Path::new).and_then(|p| p.parent()) {
            Some(dir) if !dir.as_os_str().is_empty() => dir.join("files").to_string_lossy().into_owned(),
            _ => "data/files".into(),
        }
    }

    /// The defaults with a given database, for tests and tools.
    pub fn for_database(database_url: &str) -> Self {
        let mut config = Config::parse_from(["chat"]);
        config.database_url = database_url.to_string();
        config
    }
}

/// The URL with its password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    if url.contains(',') {
        // A Redis Cluster's seeds: each URL on its own.
        return url.split(',').map(redact).collect::<Vec<_>>().join(",");
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            format!("{scheme}://{masked}@{host}{path}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(
            redact("postgres://chat:s3cret@db:5432/chat"),
            "postgres://chat:***@db:5432/chat"
        );
        assert_eq!(redact("postgres://chat@db/chat"), "postgres://chat@db/chat");
        assert_eq!(redact("sqlite://data/chat.db"), "sqlite://data/chat.db");
        assert_eq!(redact("redis://:pw@host:6379"), "redis://:***@host:6379");
        assert_eq!(
            redact("redis://:pw@a:7000,redis://:pw@b:7001"),
            "redis://:***@a:7000,redis://:***@b:7001"
        );
    }
}
