//! `twostep enroll USER`: create (or with `--force` replace) a user's secret
//! and show it three ways: a terminal QR code, the otpauth URI and the base32
//! secret for manual entry. `--secret-stdin` imports an existing base32 secret;
//! `--from-google-authenticator PATH` imports the secret of a google-authenticator
//! file ([`super::google`]) so that the user's existing app entry keeps working,
//! and keeps the file's scratch codes as backup codes (hashed). `--backup-codes`
//! also makes a new set of backup codes ([`super::backup`]) and shows it once.
//! A re-enrollment keeps the backup codes and bypass code on file unless new
//! ones come with it.

use std::io::Read;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::{CliError, Context};
use super::{batch, google, last_step};
use crate::address::validate_address;
use crate::backup_codes;
use crate::secret::TotpSecret;
use crate::store::record::UserRecord;
use crate::trusted_fs::{self, Trust};
use crate::{qr, totp};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The login name (as PAM sees it)
    #[arg(required_unless_present_any = ["batch", "from_google_authenticator_all"])]
    user: Option<String>,
    /// Fallback address for email codes
    #[arg(long, value_name = "ADDR")]
    email: Option<String>,
    /// Read a base32 secret from standard input instead of generating one
    #[arg(long)]
    secret_stdin: bool,
    /// Take the secret from a google-authenticator file (e.g. /home/USER/.google_authenticator)
    #[arg(long, value_name = "PATH", conflicts_with = "secret_stdin")]
    from_google_authenticator: Option<PathBuf>,
    /// Replace an existing secret (the old authenticator entry stops working)
    #[arg(long)]
    force: bool,
    /// Also make a new set of 10 backup codes (shown once; replaces any earlier set)
    #[arg(long, conflicts_with = "from_google_authenticator")]
    backup_codes: bool,
    /// Print {"user","secret","otpauth_uri"} as JSON instead of the QR code
    #[arg(long)]
    json: bool,
    /// How the terminal QR code is drawn: ansi (own colours, scans on any
    /// background; the default on a terminal), dark or light (plain characters
    /// for that background; dark is the default when output is not a terminal)
    #[arg(long, value_name = "STYLE", value_enum)]
    qr_style: Option<qr::Style>,
    /// Enroll every user of a CSV file (header user,email,secret; email and
    /// secret optional) or JSON lines file; - for standard input. Prints one
    /// JSON line per user
    #[arg(long, value_name = "FILE", conflicts_with_all = ["user", "email", "secret_stdin", "from_google_authenticator"])]
    batch: Option<PathBuf>,
    /// Migrate every account's ~/.google_authenticator (accounts from NSS;
    /// the file must belong to the account). Prints one JSON line per user
    #[arg(long, conflicts_with_all = ["user", "email", "secret_stdin", "from_google_authenticator", "batch"])]
    from_google_authenticator_all: bool,
    /// With --from-google-authenticator-all: only accounts whose home is under DIR
    #[arg(long, value_name = "DIR", requires = "from_google_authenticator_all")]
    home_root: Option<PathBuf>,
    /// In batch: write one QR code per enrolled user to DIR/USER.svg (DIR created 0700, files 0600)
    #[arg(long, value_name = "DIR", conflicts_with = "user")]
    qr_svg: Option<PathBuf>,
}

fn read_stdin_secret() -> Result<TotpSecret, CliError> {
    let mut buf = Zeroizing::new(Vec::new());
    std::io::stdin().take(4096).read_to_end(&mut buf).map_err(CliError::ReadStdin)?;
    let text = std::str::from_utf8(&buf).map_err(|_| CliError::StdinNotText)?;
    TotpSecret::from_base32(text.trim()).map_err(CliError::StdinSecret)
}

/// Colours on a terminal that has them; plain text elsewhere (a file, a pipe, mail).
fn default_qr_style() -> qr::Style {
    use std::io::IsTerminal;
    let dumb = std::env::var_os("TERM").is_none_or(|t| t == "dumb");
    if std::io::stdout().is_terminal() && !dumb { qr::Style::Ansi } else { qr::Style::Dark }
}

/// Prints a terminal QR code as it is: it holds only block characters, spaces
/// and, in [`qr::Style::Ansi`], the colour sequences [`qr`] wrote (never text
/// from a user or a file), so it bypasses `say!`'s escaping of ESC.
fn print_qr(code: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{code}\n").and_then(|()| out.flush());
}

/// The secret, notes for the admin, the last step google-authenticator saw
/// used and the file's scratch codes.
type Imported = (TotpSecret, Vec<String>, Option<u64>, Vec<Zeroizing<String>>);

/// Reads and checks a google-authenticator file.
fn read_google_file(ctx: &Context, path: &Path) -> Result<Imported, CliError> {
    let abs = std::path::absolute(path).map_err(|error| CliError::UnusablePath { path: path.to_path_buf(), error })?;
    let Some(bytes) = trusted_fs::read_trusted(&abs, Trust::Imported, google::MAX_FILE)? else {
        return Err(CliError::NoGoogleFile { path: abs });
    };
    let bytes = Zeroizing::new(bytes);
    let cannot = |error| CliError::Google { path: abs.clone(), error };
    let file = google::GaFile::parse(&bytes).map_err(cannot)?;
    let notes = google::decide(&file, &ctx.config.totp).map_err(cannot)?;
    let used = file.last_used_step();
    Ok((file.secret, notes, used, file.scratch_codes))
}

/// An enrolled user keeps their secret unless `--force` says to replace it.
fn refuse_enrolled(args: &Args, user: &str, existing: Option<&UserRecord>) -> Result<(), CliError> {
    if existing.is_none_or(|r| r.secret.is_none()) || args.force {
        return Ok(());
    }
    let importing = args.from_google_authenticator.is_some() || args.secret_stdin;
    Err(CliError::AlreadyEnrolled { user: user.to_string(), importing })
}

pub fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let source = match (&args.batch, args.from_google_authenticator_all) {
        (Some(file), _) => Some(batch::Source::File(file.clone())),
        (None, true) => Some(batch::Source::GoogleAuthenticatorHomes { under: args.home_root.clone() }),
        (None, false) => None,
    };
    if let Some(source) = source {
        return batch::run(ctx, batch::Options { source, force: args.force, qr_svg: args.qr_svg });
    }
    // clap requires the name unless a batch option is given.
    let Some(typed) = &args.user else { return Err(crate::user::UserNameError::Empty.into()) };
    let user = ctx.account(typed)?;
    if let Some(addr) = &args.email {
        validate_address(addr)?;
    }
    let store = ctx.store()?;
    // Fail fast, before reading a secret from stdin or a file; checked again under the lock.
    refuse_enrolled(&args, &user, store.record(&user)?.as_ref())?;
    let (secret, notes, used_step, scratch) = match &args.from_google_authenticator {
        Some(path) => read_google_file(ctx, path)?,
        None if args.secret_stdin => (read_stdin_secret()?, Vec::new(), None, Vec::new()),
        None => (TotpSecret::generate()?, Vec::new(), None, Vec::new()),
    };
    // New backup codes (shown below, once), or the imported scratch codes; else the ones on file stay.
    let (shown_codes, new_codes) = if args.backup_codes {
        let (codes, sealed) = backup_codes::new_set()?;
        (codes, Some(sealed))
    } else if !scratch.is_empty() {
        (Vec::new(), Some(backup_codes::seal_all(&scratch)?))
    } else {
        (Vec::new(), None)
    };
    // Under the user's lock (the one a login enrolling at this moment holds while it
    // checks and saves), so neither enrollment silently overwrites the other.
    let existing = store.change(&user, |u| -> Result<Option<UserRecord>, CliError> {
        let existing = u.record()?.cloned();
        refuse_enrolled(&args, &user, existing.as_ref())?;
        let record = UserRecord {
            secret: Some(secret.clone()),
            email: args.email.clone().or_else(|| existing.as_ref().and_then(|r| r.email.clone())),
            phone: existing.as_ref().and_then(|r| r.phone.clone()),
            enabled: true,
            created: ctx.now,
            disabled_until: None,
            backup_codes: new_codes
                .clone()
                .unwrap_or_else(|| existing.as_ref().map(|r| r.backup_codes.clone()).unwrap_or_default()),
            bypass: existing.as_ref().and_then(|r| r.bypass.clone()),
        };
        let old = existing.as_ref().and_then(|r| r.secret.as_ref());
        last_step::save_with_last_step(u, old, &secret, used_step, |u| Ok(u.save_record(record)?))?;
        Ok(existing)
    })?;
    let action = match (&args.from_google_authenticator, &existing) {
        (Some(_), _) => "migrate",
        (None, Some(_)) => "re-enroll",
        (None, None) => "enroll",
    };
    ctx.audit(action, &user);
    if new_codes.is_some() {
        ctx.audit("backup_codes", &user);
    }

    let uri = totp::otpauth_uri(&secret, &ctx.config.issuer, &user, &ctx.config.totp);
    let b32 = secret.to_base32();
    if args.json {
        let mut value = serde_json::json!({ "user": user, "secret": &*b32, "otpauth_uri": &*uri });
        if args.from_google_authenticator.is_some() {
            value["notes"] = serde_json::json!(notes);
        }
        if args.backup_codes {
            value["backup_codes"] = super::backup::codes_json(&shown_codes);
        }
        super::backup::say_json_wiped(value);
        return Ok(());
    }
    if let Some(path) = &args.from_google_authenticator {
        say!(
            "Enrolled {} for two-step verification ({}) with the secret from {}.",
            user,
            ctx.config.issuer,
            path.display()
        );
        say!("Their existing authenticator app entry keeps working; the QR code below is only needed on a new phone.");
        for note in &notes {
            say!("Note: {note}");
        }
        say!("Once pam_google_authenticator.so is removed from /etc/pam.d, the old file can be deleted.\n");
    } else {
        say!("Enrolled {} for two-step verification ({}).\n", user, ctx.config.issuer);
    }
    say!("Scan this QR code with Google Authenticator, Microsoft Authenticator or FreeOTP:\n");
    print_qr(&qr::terminal_styled(&uri, args.qr_style.unwrap_or_else(default_qr_style))?);
    say!("Or add the account by hand:");
    say!("  account: {}:{}", ctx.config.issuer, user);
    say!("  secret key: {}", &*crate::secret::grouped(&b32));
    say!("  type: time-based, {} digits, every {} seconds\n", ctx.config.totp.digits, ctx.config.totp.period);
    say!("otpauth URI: {}", &*uri);
    if args.backup_codes {
        say!("");
        super::backup::show_codes(&user, &shown_codes);
    }
    Ok(())
}
