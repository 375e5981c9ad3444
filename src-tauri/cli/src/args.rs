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
    /// What Twitcher found on this machine: ffmpeg, ffprobe, keyring, data dir, schema version.
    Doctor,
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
