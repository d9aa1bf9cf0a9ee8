//! `twostep enroll USER`: create (or with `--force` replace) a user's secret
//! and show it three ways: a terminal QR code, the otpauth URI and the base32
//! secret for manual entry. `--secret-stdin` imports an existing base32 secret.
#![forbid(unsafe_code)]

use std::io::Read;

use zeroize::Zeroizing;

use super::{CliError, Context, check_user_arg};
use crate::email::validate_address;
use crate::secret::TotpSecret;
use crate::store::UserRecord;
use crate::{qr, totp};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The login name (as PAM sees it)
    user: String,
    /// Fallback address for email codes
    #[arg(long, value_name = "ADDR")]
    email: Option<String>,
    /// Read a base32 secret from standard input instead of generating one
    #[arg(long)]
    secret_stdin: bool,
    /// Replace an existing secret (the old authenticator entry stops working)
    #[arg(long)]
    force: bool,
    /// Print {"user","secret","otpauth_uri"} as JSON instead of the QR code
    #[arg(long)]
    json: bool,
}

fn read_stdin_secret() -> Result<TotpSecret, CliError> {
    let mut buf = Zeroizing::new(Vec::new());
    std::io::stdin()
        .take(4096)
        .read_to_end(&mut buf)
        .map_err(|e| CliError(format!("cannot read the secret from standard input: {e}")))?;
    let text = std::str::from_utf8(&buf).map_err(|_| CliError("the secret on standard input is not text".into()))?;
    TotpSecret::from_base32(text.trim()).map_err(|e| CliError(format!("{e} (read from standard input)")))
}

pub fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    check_user_arg(&args.user)?;
    if let Some(addr) = &args.email {
        validate_address(addr).map_err(|e| CliError(format!("invalid email address: {e}")))?;
    }
    let store = ctx.store()?;
    let existing = store.load(&args.user)?;
    if existing.as_ref().is_some_and(|r| r.secret.is_some()) && !args.force {
        return Err(CliError(format!(
            "user {} is already enrolled; use --force to replace the secret (their current authenticator entry will stop working), or twostep reset {} first",
            args.user, args.user
        )));
    }
    let secret = if args.secret_stdin { read_stdin_secret()? } else { TotpSecret::generate()? };
    let record = UserRecord {
        secret: Some(secret.clone()),
        email: args.email.clone().or_else(|| existing.as_ref().and_then(|r| r.email.clone())),
        enabled: true,
        created: ctx.now,
    };
    store.save(&args.user, &record)?;
    ctx.audit(if existing.is_some() { "re-enroll" } else { "enroll" }, &args.user);

    let uri = totp::otpauth_uri(&secret, &ctx.config.issuer, &args.user, &ctx.config.totp);
    let b32 = secret.to_base32();
    if args.json {
        let out =
            Zeroizing::new(serde_json::json!({ "user": args.user, "secret": &*b32, "otpauth_uri": &*uri }).to_string());
        println!("{}", &*out);
        return Ok(());
    }
    println!("Enrolled {} for two-step verification ({}).\n", args.user, ctx.config.issuer);
    println!("Scan this QR code with Google Authenticator, Microsoft Authenticator or FreeOTP:\n");
    println!("{}", qr::terminal(&uri).map_err(CliError)?);
    println!("Or add the account by hand:");
    println!("  account: {}:{}", ctx.config.issuer, args.user);
    println!("  secret key: {}", &*grouped(&b32));
    println!("  type: time-based, {} digits, every {} seconds\n", ctx.config.totp.digits, ctx.config.totp.period);
    println!("otpauth URI: {}", &*uri);
    Ok(())
}

/// `ABCDEFGH…` → `ABCD EFGH …`, easier to type from a screen.
fn grouped(b32: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(b32.len() * 5 / 4));
    for (i, c) in b32.chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}
