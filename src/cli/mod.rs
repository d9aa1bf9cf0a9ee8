//! The admin command `twostep`: argument parsing and dispatch. One file per
//! command; what they share is in files of its own: [`Context`] (`context.rs`),
//! [`CliError`] (`error.rs`), what is printed (`output.rs`).
//! `src/bin/twostep.rs` only calls [`main`].
//!
//! Exit codes: 0 success, 1 error (one line on stderr saying what and how to
//! fix it), 2 usage error (clap). Every change is also one syslog line
//! (authpriv, ident `twostep`) so that admins can audit who changed what.
//!
//! Everything printed goes through `say!` (stdout), [`say_json`] or the error
//! line in [`main`] (stderr), which escape what could drive the terminal
//! ([`crate::user::for_terminal`]): user names decoded from file names, file
//! contents, addresses and paths cannot send escape sequences to root's terminal.

/// `println!` for the CLI: each line escaped for the terminal ([`emit`]).
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::emit(&mut std::io::stdout().lock(), format_args!($($arg)*))
    };
}

mod backup;
mod batch;
mod batch_input;
mod bypass;
mod check;
mod context;
mod duration;
mod email;
mod enable;
mod enroll;
mod error;
/// Public for the fuzz targets (`fuzz/`): [`google::GaFile::parse`] reads a file the user owns.
pub mod google;
mod last_step;
mod migrate;
mod output;
mod phone;
mod reset;
mod status;
mod unenrolled;
mod unlock;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{self, Config};
use crate::config_warnings;

pub use context::{Context, check_user_arg};
pub use error::CliError;
pub use output::{emit, say_json};

/// twostep: manage two-step verification (authenticator-app codes) for Linux logins.
#[derive(Debug, Parser)]
#[command(name = "twostep", version, about, long_about = None)]
struct Cli {
    /// Configuration file
    #[arg(long, global = true, value_name = "PATH", default_value = config::DEFAULT_PATH)]
    config: PathBuf,
    /// Send audit log lines to this datagram socket instead of /dev/log (chroots, tests)
    #[arg(long, global = true, value_name = "PATH", hide = true)]
    log_socket: Option<PathBuf>,
    /// Where the PAM service files are: `[services.NAME]` names, `check` (tests)
    #[arg(long, global = true, value_name = "DIR", hide = true, default_value = "/etc/pam.d")]
    pam_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a user's secret and show the QR code to scan
    Enroll(enroll::Args),
    /// Show one user's two-step state
    Status(status::StatusArgs),
    /// Show every user with a two-step record
    List(status::ListArgs),
    /// Clear a user's failed attempts and lock
    Unlock(unlock::Args),
    /// Set (or with --clear remove) the address email codes are sent to
    Email(email::Args),
    /// Set (or with --clear remove) the number text-message codes are sent to
    Phone(phone::Args),
    /// Make a new set of single-use backup codes (shown once)
    BackupCodes(backup::Args),
    /// Make (or with --revoke cancel) a help-desk code for a user without their phone
    Bypass(bypass::Args),
    /// Suspend a user's second factor (kept; they log in without a code)
    Disable(enable::DisableArgs),
    /// Restore a suspended second factor
    Enable(enable::Args),
    /// Delete a user's setup and login state (lost phone); they enroll again
    Reset(reset::Args),
    /// Check the configuration, state files, PAM stacks and sshd settings
    Check(check::Args),
    /// Copy every record and login state of the file store into the [ldap] directory
    MigrateToLdap(migrate::Args),
}

/// Every command reads or writes root-only state: refuse early, before the config is even read.
fn require_root() -> Result<(), CliError> {
    if nix::unistd::geteuid().is_root() { Ok(()) } else { Err(CliError::NeedsRoot) }
}

fn run(cli: Cli) -> Result<(), CliError> {
    require_root()?;
    // `--config twostep.toml` means the file in the current directory (the module needs absolute paths).
    let path = std::path::absolute(&cli.config).unwrap_or(cli.config);
    let check =
        |a| check::run(&check::Inputs { config: &path, pam_dir: &cli.pam_dir, now: crate::time::wall_clock() }, a);
    if let Command::Check(a) = cli.command {
        // A broken config is one of the findings, not a reason to stop.
        return check(a);
    }
    let config = Config::load(&path)?;
    warn_about(&config, &cli.pam_dir);
    let ctx = Context { config, now: crate::time::wall_clock(), log_socket: cli.log_socket };
    match cli.command {
        Command::Enroll(a) => enroll::run(&ctx, a),
        Command::Status(a) => status::status(&ctx, a),
        Command::List(a) => status::list(&ctx, a),
        Command::Unlock(a) => unlock::run(&ctx, a),
        Command::Email(a) => email::run(&ctx, a),
        Command::Phone(a) => phone::run(&ctx, a),
        Command::BackupCodes(a) => backup::run(&ctx, a),
        Command::Bypass(a) => bypass::run(&ctx, a),
        Command::Disable(a) => enable::disable(&ctx, a),
        Command::Enable(a) => enable::enable(&ctx, a),
        Command::Reset(a) => reset::run(&ctx, a),
        Command::MigrateToLdap(a) => migrate::run(&ctx, a),
        Command::Check(a) => check(a),
    }
}

/// Prints the config's dangerous or ineffective settings on stderr; the command goes on.
fn warn_about(config: &Config, pam_dir: &Path) {
    let services = pam_services(pam_dir);
    for w in config_warnings::warnings(config, pam_dir, services.as_deref()) {
        eprintln!("{}", config_warnings::render(&w));
    }
}

/// The PAM service names: the file names in `dir`, or `None` when it cannot be listed.
fn pam_services(dir: &Path) -> Option<Vec<String>> {
    let entries = std::fs::read_dir(dir).ok()?;
    Some(entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
}

/// The admin command's entry point.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            emit(&mut std::io::stderr().lock(), format_args!("twostep: {e}"));
            ExitCode::from(e.exit_code())
        }
    }
}
