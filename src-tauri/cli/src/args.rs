//! The command line's shape. Names are a contract with scripts (CLI.md): add, never rename.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "twitcher", version, about = "Broadcast pre-recorded videos to several Twitch channels at once")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Data dir (else TWITCHER_DATA_DIR, else the platform's data dir); shared with the desktop app.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Machine output: one JSON document on stdout; errors as {"error":{"code","message"}} on stderr.
    #[arg(long, global = true)]
    pub json: bool,
    /// Act as this profile (else TWITCHER_PROFILE, else the profile that last signed in). Prefer the
    /// environment variable: other local users can read a process's arguments.
    #[arg(long, global = true, value_name = "UUID", env = "TWITCHER_PROFILE", hide_env_values = true)]
    pub profile: Option<String>,
    /// A PostgreSQL database shared by the nodes of a fleet (postgres://user:password@host:port/db;
    /// else TWITCHER_DATABASE_URL, and for `serve` also DATABASE_URL), instead of SQLite in the
    /// data dir. Prefer the environment variable: the URL holds a password.
    #[arg(long, global = true, value_name = "URL", env = "TWITCHER_DATABASE_URL", hide_env_values = true)]
    pub database: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, sign in to, list profiles; change plans (ADMIN).
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Link, list, change and remove Twitch accounts. Stream keys are read from stdin or a prompt.
    #[command(subcommand)]
    Account(AccountCommand),
    /// The key that protects stored secrets.
    #[command(subcommand)]
    Vault(VaultCommand),
    /// Import, find, edit and remove videos in the library.
    #[command(subcommand)]
    Video(VideoCommand),
    /// Where videos are stored: S3-compatible storage settings.
    #[command(subcommand)]
    Storage(StorageCommand),
    /// Recurring starts: a video or playlist at a local time in a time zone, on chosen weekdays,
    /// for a duration or until a local time (DST-correct).
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Named, ordered lists of library videos that a broadcast plays in turn (`stream start
    /// --playlist`): loop, shuffle, an insert every N items, a title per item.
    #[command(subcommand)]
    Playlist(PlaylistCommand),
    /// Go live: stream a video to several accounts; list past streams and read their logs.
    #[command(subcommand)]
    Stream(StreamCommand),
    /// Connect Twitch accounts (no key to paste) and read their followers, live status and viewers.
    #[command(subcommand)]
    Twitch(TwitchCommand),
    /// What Twitcher found on this machine: ffmpeg, ffprobe, keyring, data dir, schema version.
    Doctor,
    /// Alerts (a destination lost, failed or back; a scheduled start; a broadcast's end) POSTed as
    /// JSON to a webhook by `serve`, `stream start` and the desktop app.
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// Run the HTTP API (and the scheduler, job worker and streaming engine) until Ctrl-C or
    /// SIGTERM. Binds loopback unless told otherwise: put a TLS proxy in front to expose it.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8787", value_name = "ADDR:PORT")]
        listen: std::net::SocketAddr,
        /// Reverse proxies (an address or a CIDR block, as the API sees them) whose
        /// X-Forwarded-For names the client: sign-in and registration limits then count per
        /// client, read from the right past every trusted proxy. Repeatable.
        #[arg(long = "trust-proxy", value_name = "ADDR|CIDR", value_parser = twitcher_server::auth::parse_proxy)]
        trust_proxy: Vec<ipnet::IpNet>,
        /// A host name this server is reached by (its proxy's public name): requests naming
        /// another host are refused (`wrong_host`), so no web page can rebind its own name to
        /// this server. Loopback names, address literals and this machine's name always work.
        /// Repeatable.
        #[arg(long = "public-host", value_name = "NAME")]
        public_host: Vec<String>,
        /// Who may create profiles through the API: anyone (open), a signed-in ADMIN (admin), or
        /// nobody (closed: `twitcher profile create` on this machine). The first profile can
        /// always be made.
        #[arg(long, value_enum, default_value = "admin")]
        registration: RegistrationArg,
        /// An ingest host (and port) accounts may publish to besides Twitch's own, like a relay
        /// on this network. Repeatable. Without it, only Twitch's ingest servers.
        #[arg(long = "allow-ingest", value_name = "HOST[:PORT]", value_parser = twitcher_core::outbound::OutboundPolicy::parse_allowed)]
        allow_ingest: Vec<(String, Option<u16>)>,
        /// This server's upload budget in Mb/s, shown to the fleet (`node list`).
        #[arg(long = "upload-mbps", value_name = "N", value_parser = parse_upload_mbps)]
        upload_mbps: Option<f64>,
    },
    /// The `twitcher serve` processes on this database (the nodes of a fleet): address, upload
    /// budget, destinations held, heartbeat. ADMIN.
    #[command(subcommand)]
    Node(NodeCommand),
}

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Every node with what it carries.
    List,
}

fn parse_upload_mbps(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok(n),
        _ => Err(format!("'{text}' is not a positive number of Mb/s")),
    }
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// A recurring start. Whichever Twitcher runs on the data dir then (the window or `serve`)
    /// starts each occurrence.
    Create(ScheduleArgs),
    /// Your schedules, each with its next 7 starts.
    List,
    /// Change a schedule in place (give all of it, as to create): booked occurrences not
    /// started yet are cancelled, and its Twitch schedule segments replaced.
    Update {
        id: i64,
        #[command(flatten)]
        schedule: ScheduleArgs,
    },
    /// Start nothing from it until resumed; booked occurrences not started yet are cancelled
    /// and it leaves the channels' Twitch schedules.
    Pause { id: i64 },
    /// Start it again from its next time (never one missed while it was paused).
    Resume { id: i64 },
    /// Delete a schedule; its occurrences not started yet are cancelled.
    Delete { id: i64 },
}

/// What a schedule starts and when: `schedule create` and `schedule update`.
#[derive(Debug, clap::Args)]
pub struct ScheduleArgs {
    #[command(flatten)]
    pub program: ProgramArgs,
    /// Local start time, 24-hour.
    #[arg(long, value_name = "HH:MM")]
    pub at: String,
    /// IANA time zone, like Europe/Berlin.
    #[arg(long, value_name = "ZONE")]
    pub tz: String,
    /// Weekdays (mon,tue,…); every day when omitted.
    #[arg(long, value_delimiter = ',', value_name = "DAYS")]
    pub days: Vec<String>,
    /// End each occurrence after this long (2h, 90m, 1h 30m)…
    #[arg(long, conflicts_with = "until", value_parser = humantime::parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// …or at this local time.
    #[arg(long, value_name = "HH:MM")]
    pub until: Option<String>,
    /// Also put it on the connected channels' Twitch schedule (removed with it).
    #[arg(long)]
    pub twitch_schedule: bool,
}

#[derive(Debug, Subcommand)]
pub enum PlaylistCommand {
    /// A new, empty playlist.
    Create {
        #[arg(long)]
        name: String,
        /// Start over after the last item, until stopped.
        #[arg(long = "loop")]
        looped: bool,
        /// Each round in a new order (every item once per round, never twice in a row).
        #[arg(long)]
        shuffle: bool,
        /// Play the --insert video after every N items.
        #[arg(long, value_name = "N", requires = "insert")]
        every: Option<u32>,
        #[arg(long, value_name = "VIDEO_ID", requires = "every")]
        insert: Option<i64>,
        /// A library video to play in place of an item that cannot play (default: a card with
        /// the channel's title and "back soon").
        #[arg(long, value_name = "VIDEO_ID")]
        slate: Option<i64>,
    },
    /// Append library videos (in the order given), each with the title, category and tags the
    /// channels get when it starts.
    Add {
        id: i64,
        #[arg(required = true, value_name = "VIDEO_ID")]
        video_ids: Vec<i64>,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        category: Option<String>,
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
    },
    /// Move an item (by its id, see `show`) to a position (1 is first).
    Move { id: i64, item_id: i64, position: u32 },
    /// Remove an item (by its id).
    Remove { id: i64, item_id: i64 },
    Show { id: i64 },
    List,
    /// Delete a playlist (not its videos). Refused while a broadcast plays it.
    Delete { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Show the webhook URL, or set it ("" clears it).
    Webhook { url: Option<String> },
}

#[derive(Debug, Subcommand)]
pub enum TwitchCommand {
    /// Link an account with Twitch's device login: prints a URL and a code, waits until you
    /// approve on Twitch, then creates (or updates) the account with its stream key.
    Connect,
    /// Followers, live status, viewers, title and category of one account or all of them
    /// (cached for a minute; --refresh asks Twitch again).
    Stats {
        account_id: Option<i64>,
        #[arg(long)]
        refresh: bool,
    },
    /// Set the Twitch client id this data dir uses (TWITCHER_TWITCH_CLIENT_ID overrides it);
    /// an empty value clears it.
    ClientId { client_id: String },
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Link a Twitch account. The stream key is read from stdin (or a prompt that does not echo),
    /// never from the command line, where other users could read it.
    Add {
        /// Display name shown in Twitcher.
        #[arg(long)]
        name: String,
        /// Twitch's numeric user id of the channel. Optional: left out with --login, it is
        /// looked up on Twitch when a connected account can ask; else the account has none.
        #[arg(long)]
        channel_id: Option<String>,
        /// Twitch login (user name).
        #[arg(long)]
        login: Option<String>,
        /// "auto" (Twitch's default server, the default) or an rtmp:// / rtmps:// server URL.
        #[arg(long, value_name = "URL")]
        ingest: Option<String>,
    },
    /// Linked accounts, stream keys masked.
    List,
    /// Change an account's name, channel id, login or ingest; omitted options stay as they are.
    Update {
        id: i64,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        channel_id: Option<String>,
        /// An empty value clears the login.
        #[arg(long)]
        login: Option<String>,
        #[arg(long, value_name = "URL")]
        ingest: Option<String>,
    },
    /// Unlink an account (its sealed key is deleted with it).
    Remove { id: i64 },
    /// Replace an account's stream key, read from stdin or a prompt.
    SetKey { id: i64 },
    /// Twitch's ingest servers to choose from (fetched, cached, or the built-in default).
    Ingests,
    /// Check the stream key with Twitch's bandwidth test, without going live. Exit 1 if refused.
    Test { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Re-seal every stored secret under a new key, in one transaction. With TWITCHER_KEYRING=os or
    /// file, this also moves the key to that store.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Create a profile and print its UUID, once. The first profile on a data dir is ADMIN.
    Create {
        #[arg(long)]
        name: Option<String>,
    },
    /// Sign in: make the profile active on this data dir. Without UUID (or with "-") the UUID is
    /// read from stdin, which keeps it out of the process list.
    Login { uuid: Option<String> },
    /// Profiles on this data dir (an ADMIN sees all, others themselves).
    List,
    /// Change a profile's plan (ADMIN only). UUID "-" reads it from stdin.
    SetPlan { uuid: String, plan: String },
    /// What each plan allows: accounts, storage, broadcasts and live encodes at once.
    Plans,
    /// Change what a plan allows (ADMIN only). Each limit is a number or "unlimited"; an option
    /// left out keeps its value.
    SetLimits {
        plan: String,
        #[arg(long, value_name = "N|unlimited", value_parser = parse_limit)]
        accounts: Option<Limit>,
        /// GiB (1024³ bytes), as the plans count storage.
        #[arg(long = "storage-gb", value_name = "N|unlimited", value_parser = parse_limit)]
        storage_gb: Option<Limit>,
        /// Broadcasts running at once.
        #[arg(long, value_name = "N|unlimited", value_parser = parse_limit)]
        broadcasts: Option<Limit>,
        /// Broadcasts going live on a real-time encode (their video not prepared yet) at once.
        #[arg(long = "live-encodes", value_name = "N|unlimited", value_parser = parse_limit)]
        live_encodes: Option<Limit>,
        /// Playlists a profile keeps.
        #[arg(long, value_name = "N|unlimited", value_parser = parse_limit)]
        playlists: Option<Limit>,
        /// Recurring schedules a profile keeps.
        #[arg(long, value_name = "N|unlimited", value_parser = parse_limit)]
        schedules: Option<Limit>,
        /// One-off broadcasts a profile has scheduled ahead, not started yet.
        #[arg(long, value_name = "N|unlimited", value_parser = parse_limit)]
        scheduled: Option<Limit>,
    },
    /// Forget the active profile on this data dir.
    Logout,
    /// A new login UUID for the signed-in profile, shown once (as at creation); the old one stops
    /// working and every API session of the profile ends. For a UUID that may have leaked.
    RotateUuid,
    /// The profile's API sessions (tokens of `twitcher serve`).
    #[command(subcommand)]
    Sessions(SessionsCommand),
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// End every API session of the signed-in profile: its tokens are refused from now on.
    Revoke,
}

#[derive(Debug, Subcommand)]
pub enum VideoCommand {
    /// Import files (MP4, WebM, OGG, AVI, MOV, WMV, FLV, recognized by content): each is checked,
    /// copied into the library and thumbnailed. Exits 1 if any file failed; the others still import.
    Import {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<std::path::PathBuf>,
    },
    /// Videos in the library, newest first unless --sort says otherwise.
    List {
        /// Words in the title or description.
        #[arg(long)]
        search: Option<String>,
        /// mp4, webm, ogg, avi, mov, wmv or flv.
        #[arg(long, value_name = "EXT")]
        format: Option<String>,
        #[arg(long, value_name = "SECONDS")]
        min_duration: Option<f64>,
        #[arg(long, value_name = "SECONDS")]
        max_duration: Option<f64>,
        /// Only videos at least this tall (720 for HD, 1080 for full HD).
        #[arg(long, value_name = "PIXELS")]
        min_height: Option<i64>,
        #[arg(long, value_enum, default_value = "date")]
        sort: SortArg,
        /// Ascending order (default: descending).
        #[arg(long)]
        asc: bool,
        /// How many (50 unless said, at most 500 a page).
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long, default_value_t = 0)]
        offset: i64,
    },
    /// One video with all its metadata.
    Show { id: i64 },
    /// Change a video's title or description.
    Edit {
        id: i64,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// Remove a video: its row, file and thumbnail, and its S3 object (refused while a stream uses it).
    Remove { id: i64 },
    /// Move a video to S3 storage (multipart, resumable: run it again after an interruption).
    /// Ctrl-C stops between parts.
    Upload { id: i64 },
    /// Make sure a video stored in S3 has a local copy (downloaded into the cache).
    Fetch { id: i64 },
    /// Make the Twitch-ready copy for a quality now (streams reuse it), with progress.
    Prepare {
        id: i64,
        #[command(flatten)]
        quality: QualityArgs,
    },
}

/// What a broadcast plays, where, and how: shared by `stream start` and `schedule create`.
#[derive(Debug, Clone, Args)]
pub struct ProgramArgs {
    #[arg(long, required_unless_present = "playlist", conflicts_with = "playlist")]
    pub video: Option<i64>,
    /// Play a playlist instead of one video (every item is prepared first).
    #[arg(long, value_name = "ID")]
    pub playlist: Option<i64>,
    #[arg(long = "account", required = true, value_name = "ID")]
    pub accounts: Vec<i64>,
    #[arg(long)]
    pub title: Option<String>,
    #[arg(long)]
    pub category: Option<String>,
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    #[command(flatten)]
    pub quality: QualityArgs,
    /// Start again from the beginning when the video (or playlist) ends, with no gap, until stopped.
    #[arg(long = "loop")]
    pub looped: bool,
}

/// The quality of a prepared copy and of a stream. What is left out is the core's default:
/// 1080p30 as Twitch suggests (30 fps, 4500 kbps video, 160 kbps audio, 1920x1080).
#[derive(Debug, Clone, Args)]
pub struct QualityArgs {
    /// Frames per second (default 30).
    #[arg(long)]
    pub fps: Option<u32>,
    /// kbps (default 4500; Twitch allows up to 6000).
    #[arg(long, value_name = "K")]
    pub video_bitrate: Option<u32>,
    /// kbps (default 160).
    #[arg(long, value_name = "K")]
    pub audio_bitrate: Option<u32>,
    /// Default 1920x1080.
    #[arg(long, value_name = "WxH")]
    pub resolution: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum StreamCommand {
    /// Stream a video to one or more accounts. Runs in the foreground until every destination has
    /// ended; Ctrl-C or SIGTERM stops gracefully. Exit 0 when all ended normally.
    Start {
        #[command(flatten)]
        program: ProgramArgs,
        /// If the video is not prepared for this quality yet, go live at once with a real-time
        /// encode instead of preparing first.
        #[arg(long)]
        live_encode: bool,
        /// Go live at this time (RFC 3339, e.g. 2026-11-27T20:00:00Z). The schedule is saved: if
        /// this command is stopped, the desktop app (or another `stream start --at`) starts it.
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
    },
    /// Cancel a scheduled broadcast (its id is printed when it is scheduled).
    Cancel { broadcast_id: String },
    /// Stop a running broadcast (or one destination of it, or every broadcast of the profile),
    /// whichever process runs it: the window, `serve` or another `twitcher`. Returns once the
    /// order is written; the process running it stops within about a second.
    Stop {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        broadcast_id: Option<String>,
        /// Only the destination going to this account.
        #[arg(long = "account", value_name = "ID", requires = "broadcast_id")]
        account: Option<i64>,
        /// Every running broadcast of the profile.
        #[arg(long)]
        all: bool,
    },
    /// Past and current streams, newest first (200 unless --limit says, at most 1000 a page).
    List {
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long, default_value_t = 0)]
        offset: u32,
    },
    /// The log of one stream (redacted).
    Logs { id: i64 },
    /// What happens at the next launch to broadcasts a crash interrupted: `fail` (the default) or
    /// `restart` (scheduled again for at once; the app or `serve` starts them). No value: show it.
    AfterCrash {
        #[arg(value_parser = ["fail", "restart"])]
        policy: Option<String>,
    },
    /// The loudness every video is normalised to when prepared (EBU R128 integrated, LUFS;
    /// default -16), so a playlist's items play at one level. No value: show it.
    Loudness {
        #[arg(allow_hyphen_values = true, value_name = "LUFS")]
        target: Option<f64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    #[command(subcommand)]
    S3(S3Command),
    /// The most this machine keeps of videos fetched from S3 (`DATA_DIR/cache/`): the least
    /// recently used go first past it. Shows it; with GB, sets it.
    CacheLimit {
        #[arg(value_name = "GB", value_parser = parse_cache_gb)]
        gb: Option<f64>,
    },
    /// What the data dir holds (library, prepared copies, S3 cache, logs, uploads arriving) and
    /// what its disk has free.
    Usage,
    /// The most the prepared copies (Twitch-ready files, made once per video and quality) may
    /// take in all; past it the least recently used go, never one a broadcast plays. Shows it;
    /// with GB (at least 1), sets it (ADMIN).
    PreparedBudget {
        #[arg(value_name = "GB", value_parser = parse_cache_gb)]
        gb: Option<f64>,
    },
}

fn parse_cache_gb(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok(n),
        _ => Err(format!("'{text}' is not a positive number of GB")),
    }
}

#[derive(Debug, Subcommand)]
pub enum S3Command {
    /// The S3 settings in use (the secret key is never shown).
    Show,
    /// Save S3 settings for this data dir. The secret key is read from stdin (or a prompt);
    /// an empty one keeps the saved key.
    Set {
        /// e.g. http://127.0.0.1:9000 (MinIO); omit for AWS.
        #[arg(long)]
        endpoint: Option<String>,
        #[arg(long)]
        bucket: String,
        #[arg(long, default_value = "us-east-1")]
        region: String,
        #[arg(long)]
        access_key: String,
        /// Virtual-hosted-style addressing (bucket.host) instead of path-style (host/bucket).
        #[arg(long)]
        virtual_hosted: bool,
    },
    /// Check that the bucket can be reached with the saved credentials.
    Test,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SortArg {
    Date,
    Title,
    Duration,
    Size,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RegistrationArg {
    Open,
    Admin,
    Closed,
}

impl From<RegistrationArg> for twitcher_core::profiles::Registration {
    fn from(r: RegistrationArg) -> Self {
        match r {
            RegistrationArg::Open => Self::Open,
            RegistrationArg::Admin => Self::Admin,
            RegistrationArg::Closed => Self::Closed,
        }
    }
}

/// A plan limit: a count, or "unlimited" (`None`).
#[derive(Debug, Clone, Copy)]
pub struct Limit(pub Option<u32>);

fn parse_limit(text: &str) -> Result<Limit, String> {
    match text.trim() {
        t if t.eq_ignore_ascii_case("unlimited") || t.eq_ignore_ascii_case("none") => Ok(Limit(None)),
        t => t.parse::<u32>().map(|n| Limit(Some(n))).map_err(|_| format!("'{text}' is not a count (0 to 4294967295) or \"unlimited\"")),
    }
}
