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
    /// What Twitcher found on this machine: ffmpeg, ffprobe, keyring, data dir, schema version.
    Doctor,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Link a Twitch account. The stream key is read from stdin (or a prompt that does not echo),
    /// never from the command line, where other users could read it.
    Add {
        /// Display name shown in Twitcher.
        #[arg(long)]
        name: String,
        /// Twitch's numeric user id of the channel.
        #[arg(long)]
        channel_id: String,
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
    /// Forget the active profile on this data dir.
    Logout,
}
