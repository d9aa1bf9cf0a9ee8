//! `twostep check [--json] [--sshd-config FILE]`: everything that decides
//! whether logins will work, and work safely, read without changing anything.
//!
//! - the configuration (every `[services.NAME]` merged over `[policy]`) and
//!   its [`crate::config_warnings`];
//! - the secrets and tally directories (owner, mode: [`crate::trusted_fs`])
//!   and every record and tally file, read as a login reads them
//!   ([`crate::store::UserStore`]); a damaged file is a finding with its
//!   path, and the check goes on; with `[store] backend = "ldap"` instead,
//!   the `[ldap]` password and CA files (the checks a login makes,
//!   [`crate::store::ldap::file_problems`]), each URI asked once (bind and
//!   `base_dn`, bounded by the timeout), and every record and tally in the
//!   directory;
//! - the `[email] command` program, and the `[sms] command` one when set:
//!   present, executable, and not replaceable by anyone but root (they run
//!   as root);
//! - every file of the PAM directory that loads `pam_twostep.so`, how
//!   (control, arguments, through which included file), and what the stack
//!   around it does ([`pam_stack`]);
//! - sshd's effective settings (`sshd -T`, [`sshd`]) when sshd's stack
//!   loads the module;
//! - whether the admin running the command (`SUDO_USER`) or root would be
//!   refused at the next login ([`crate::policy`] on their record and tally).
//!
//! Exit status, like `sshd -t` and `visudo -c`: 1 when an error was found
//! (something that refuses logins or lets one in without the code), else 0;
//! warnings are listed but do not change it. `--json` prints one object.

mod pam_stack;
mod sshd;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::CliError;
use crate::config::{Backend, Config, LdapConfig};
use crate::config_warnings;
use crate::policy::{self, Decision, Lock, RecordState, Unenrolled};
use crate::store::DirectoryError;
use crate::store::StoreError;
use crate::store::UserStore;
use crate::trusted_fs::{self, FsError, Owner, Trust};
use crate::user::{Accounts, Nss};
use pam_stack::{Service, Verdict};

/// The sshd PAM service name (Debian, RHEL, SUSE).
const SSHD_SERVICE: &str = "sshd";
/// Width of the report, prefixes included.
const WIDTH: usize = 72;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print one JSON object
    #[arg(long)]
    json: bool,
    /// Check the sshd settings of this file (sshd -T -f FILE) instead of sshd's own
    #[arg(long, value_name = "FILE")]
    sshd_config: Option<PathBuf>,
    /// The sshd program (tests)
    #[arg(long, value_name = "PATH", hide = true, default_value = "/usr/sbin/sshd")]
    sshd: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One thing found: what, and how to fix it (none for information).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Finding {
    severity: Severity,
    what: String,
    fix: Option<String>,
}

#[derive(Debug, Default)]
struct Report {
    findings: Vec<Finding>,
    /// One object per PAM service loading the module (`--json` only).
    pam: Vec<Value>,
}

impl Report {
    fn add(&mut self, severity: Severity, what: impl Into<String>, fix: Option<String>) {
        let f = Finding { severity, what: what.into(), fix };
        if !self.findings.contains(&f) {
            self.findings.push(f);
        }
    }

    fn error(&mut self, what: impl Into<String>, fix: impl Into<String>) {
        self.add(Severity::Error, what, Some(fix.into()));
    }

    fn warning(&mut self, what: impl Into<String>, fix: impl Into<String>) {
        self.add(Severity::Warning, what, Some(fix.into()));
    }

    fn info(&mut self, what: impl Into<String>) {
        self.add(Severity::Info, what, None);
    }

    /// A lower layer's message, which says what and (after the last `; `) how to fix it.
    fn error_message(&mut self, message: &str, fix: &str) {
        let (what, own_fix) = split_fix(message);
        self.add(Severity::Error, what, Some(own_fix.unwrap_or_else(|| fix.to_string())));
    }

    fn count(&self, s: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
    }
}

/// Splits "X is wrong; run Y" into what and how to fix it; our messages put
/// the fix after the last `; ` (DESIGN.md: "what and how to fix").
fn split_fix(message: &str) -> (String, Option<String>) {
    const VERBS: [&str; 9] = ["run ", "upgrade ", "inspect ", "use ", "set ", "check ", "give ", "fix ", "write "];
    match message.rsplit_once("; ") {
        Some((what, fix)) if VERBS.iter().any(|v| fix.starts_with(v)) => (what.to_string(), Some(fix.to_string())),
        _ => (message.to_string(), None),
    }
}

/// Everything the check looks at, as given on the command line.
pub struct Inputs<'a> {
    pub config: &'a Path,
    pub pam_dir: &'a Path,
    pub now: u64,
}

pub fn run(inputs: &Inputs<'_>, args: Args) -> Result<(), CliError> {
    let mut r = Report::default();
    let config = match Config::load(inputs.config) {
        Ok(c) => Some(c),
        Err(crate::config::ConfigError::File(FsError::Missing(p))) => {
            r.error(
                format!("the configuration {} does not exist, so every login is refused", p.display()),
                "install it (see README: Set up) or give --config PATH",
            );
            None
        }
        Err(e) => {
            r.error_message(&e.to_string(), "correct the file (man twostep.toml), then check again");
            None
        }
    };
    let services = match pam_stack::scan(inputs.pam_dir) {
        Ok(s) => Some(s),
        Err(e) => {
            r.warning(
                format!("cannot list {}: {e}; the PAM stacks were not checked", inputs.pam_dir.display()),
                "run twostep check as root",
            );
            None
        }
    };
    let services = services.unwrap_or_default();
    let users = match &config {
        Some(cfg) => {
            let names: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
            for w in config_warnings::warnings(cfg, inputs.pam_dir, Some(&names)) {
                r.add(Severity::Warning, w, None);
            }
            let users = check_store(&mut r, cfg);
            check_mail_command(&mut r, cfg, users.as_ref().is_some_and(|u| u.email_users > 0));
            if cfg.sms.enabled() {
                check_sms_command(&mut r, cfg, users.as_ref().is_some_and(|u| u.phone_users > 0));
            }
            users
        }
        None => None,
    };
    let loading = check_pam(&mut r, inputs, &services);
    check_sshd(&mut r, &services, &args);
    if let (Some(cfg), Some(users)) = (&config, &users) {
        check_next_login(&mut r, cfg, users, &loading, inputs.now);
    }
    r.findings.sort_by_key(|f| f.severity);
    let (errors, warnings) = (r.count(Severity::Error), r.count(Severity::Warning));
    if args.json {
        super::say_json(&json!({
            "config": inputs.config.display().to_string(),
            "pam_dir": inputs.pam_dir.display().to_string(),
            "ok": errors == 0,
            "errors": errors,
            "warnings": warnings,
            "findings": r.findings.iter().map(|f| json!({
                "severity": f.severity.name(),
                "what": f.what,
                "fix": f.fix,
            })).collect::<Vec<_>>(),
            "pam": r.pam,
        }));
    } else {
        for f in &r.findings {
            say!("{}", wrap(&format!("{}:", f.severity.name()), &f.what, "  "));
            if let Some(fix) = &f.fix {
                say!("{}", wrap("  fix:", fix, "    "));
            }
        }
        say!("{}", summary(errors, warnings));
    }
    if errors > 0 { Err(CliError::CheckFailed { errors }) } else { Ok(()) }
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {one}s") }
}

fn summary(errors: usize, warnings: usize) -> String {
    format!("twostep check: {}, {}", plural(errors, "error"), plural(warnings, "warning"))
}

/// `prefix text`, wrapped at [`WIDTH`] columns, continuation lines after `indent`.
fn wrap(prefix: &str, text: &str, indent: &str) -> String {
    let mut lines = vec![prefix.to_string()];
    for word in text.split_whitespace() {
        let last = lines.last_mut().expect("one line");
        if last.chars().count() + 1 + word.chars().count() <= WIDTH {
            last.push(' ');
            last.push_str(word);
        } else {
            lines.push(format!("{indent}{word}"));
        }
    }
    lines.join("\n")
}

/// What the store check leaves for the next-login check.
struct Users {
    store: UserStore,
    /// Records with an address of their own.
    email_users: usize,
    /// Users with a phone number on file (text-message codes).
    phone_users: usize,
    /// The tally directory exists and is private (reading a tally through
    /// the store would otherwise create it: a check changes nothing).
    tally_ok: bool,
}

/// The store `[store] backend` names, and every record and tally in it.
fn check_store(r: &mut Report, cfg: &Config) -> Option<Users> {
    match (&cfg.backend, &cfg.ldap) {
        (Backend::Ldap, Some(ldap)) => check_directory(r, cfg, ldap),
        _ => check_file_store(r, cfg),
    }
}

/// The `[ldap]` files, checked as a login checks them
/// ([`crate::store::ldap::file_problems`]), then each URI asked once.
fn check_directory(r: &mut Report, cfg: &Config, ldap: &LdapConfig) -> Option<Users> {
    let problems = crate::store::ldap::file_problems(ldap, Owner::ROOT);
    for p in &problems {
        let (what, fix) = split_fix(&p.error.to_string());
        let fix = fix.unwrap_or_else(|| match p.key {
            "password_file" => "write the service account's password there, root's, mode 0600, no newline".into(),
            _ => "install the directory's CA certificate there (root's, not writable by others), or fix [ldap] ca_file"
                .into(),
        });
        r.error(format!("[ldap] {}: {what}, so every login is refused", p.key), fix);
    }
    if !problems.is_empty() {
        return None;
    }
    let store = match UserStore::directory(ldap, Owner::ROOT) {
        Ok(s) => s,
        Err(e) => {
            r.error_message(&e.to_string(), "fix [ldap], then check again");
            return None;
        }
    };
    let probed = store.probe_directory().unwrap_or_default();
    let reachable = probed.iter().filter(|(_, answer)| answer.is_ok()).count();
    for (uri, answer) in &probed {
        match answer {
            Ok(()) => r.info(format!("directory reachable: {uri} (bound, {} found)", ldap.base_dn)),
            // A server that answers with an error is final: logins that reach it first are refused.
            Err(e @ DirectoryError::Refused { .. }) => {
                r.error(format!("{e}, so logins are refused"), "check [ldap] bind_dn, password_file and base_dn")
            }
            Err(e) if reachable > 0 => r.warning(
                format!("{}; logins use the other URIs meanwhile", split_fix(&e.to_string()).0),
                format!("check the server at {uri}, or remove it from [ldap] uris"),
            ),
            Err(e) => {
                let (what, fix) = split_fix(&e.to_string());
                r.error(format!("{what}, so every login is refused"), fix.unwrap_or_else(|| "check the server".into()))
            }
        }
    }
    if reachable == 0 {
        return None;
    }
    Some(read_users(r, cfg, store, true))
}

/// The two directories and every file in them.
fn check_file_store(r: &mut Report, cfg: &Config) -> Option<Users> {
    let secrets_ok = match trusted_fs::check_dir(&cfg.secrets_dir, Trust::Private(Owner::ROOT)) {
        Ok(()) => true,
        Err(FsError::Missing(p)) => {
            r.error(
                format!("the secrets directory {} does not exist, so every login is refused", p.display()),
                format!("run twostep enroll USER (it creates it), or mkdir -m 700 {}", p.display()),
            );
            false
        }
        Err(e) => {
            r.error_message(&e.to_string(), "fix the directory, then check again");
            false
        }
    };
    let tally_ok = match trusted_fs::check_dir(&cfg.tally_dir, Trust::Private(Owner::ROOT)) {
        Ok(()) => true,
        // The module creates it (0700) at the first login that needs it.
        Err(FsError::Missing(_)) => false,
        Err(e) => {
            r.error_message(&e.to_string(), "fix the directory, then check again");
            false
        }
    };
    if !secrets_ok {
        return None;
    }
    let store = match UserStore::for_login(&cfg.secrets_dir, &cfg.tally_dir, Owner::ROOT) {
        Ok(s) => s,
        Err(e) => {
            r.error_message(&e.to_string(), "fix the directory, then check again");
            return None;
        }
    };
    Some(read_users(r, cfg, store, tally_ok))
}

/// Every record and tally in `store`, read as a login reads them; a damaged
/// one is a finding and the check goes on.
fn read_users(r: &mut Report, cfg: &Config, store: UserStore, tally_ok: bool) -> Users {
    // A damaged file refuses that user's logins; the fix says what removing it costs.
    let damaged = |r: &mut Report, e: &StoreError, fix: String| {
        let (what, _) = split_fix(&e.to_string());
        r.error(format!("{what}: the user's logins are refused"), fix);
    };
    let shown = crate::user::for_terminal;
    let mut email_users = 0;
    let mut phone_users = 0;
    let (mut records, mut tallies) = (0, 0);
    match store.enrolled_users() {
        Ok(users) => {
            records = users.len();
            for u in &users {
                match store.record(u) {
                    Ok(Some(rec)) => {
                        email_users += usize::from(rec.email.is_some());
                        phone_users += usize::from(rec.phone.is_some());
                    }
                    Ok(None) => {}
                    Err(e) => damaged(
                        r,
                        &e,
                        format!("inspect it; twostep reset {} removes it and they enroll again", shown(u)),
                    ),
                }
            }
        }
        Err(e) => r.error_message(&e.to_string(), "fix the directory, then check again"),
    }
    if tally_ok {
        match store.tally_users() {
            Ok(users) => {
                tallies = users.len();
                for u in &users {
                    if let Err(e) = store.tally(u) {
                        let fix = "inspect it, then delete it: the user starts from zero failures".to_string();
                        damaged(r, &e, fix);
                    }
                }
            }
            Err(e) => r.error_message(&e.to_string(), "fix the directory, then check again"),
        }
    }
    r.info(format!("read {} and {}", plural(records, "record"), plural(tallies, "login state")));
    if !cfg.email.address_template.is_empty() {
        email_users += 1;
    }
    Users { store, email_users, phone_users, tally_ok }
}

/// Why `path` could be replaced by someone other than root: it, or a
/// directory above it, is not root's or is writable by group or others.
fn replaceable(path: &Path) -> Option<String> {
    for p in path.ancestors() {
        let Ok(meta) = std::fs::symlink_metadata(p) else { continue };
        if meta.uid() != 0 {
            return Some(format!("{} is owned by uid {}, not root", p.display(), meta.uid()));
        }
        // A sticky directory (/tmp) lets nobody replace the root-owned entry below it.
        if meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 == 0 && !meta.file_type().is_symlink() {
            return Some(format!("{} is writable by group or others (mode {:04o})", p.display(), meta.mode() & 0o7777));
        }
    }
    None
}

/// The `[email] command` program runs as root at logins that send a code.
fn check_mail_command(r: &mut Report, cfg: &Config, used: bool) {
    let consequences = (
        "codes by email cannot be sent, and logins that need one are refused",
        "nobody has an address now, but codes by email could not be sent",
    );
    let fix = "install a mail program (postfix, nullmailer, msmtp) or set [email] command to one";
    check_command_program(r, "[email] command", &cfg.email.command[0], used, consequences, fix);
}

/// The `[sms] command` program (when set) runs as root at logins that send a text.
fn check_sms_command(r: &mut Report, cfg: &Config, used: bool) {
    let consequences = (
        "codes by text message cannot be sent, and logins that need one are refused",
        "nobody has a phone number now, but codes by text message could not be sent",
    );
    let fix = "install the program (examples: /usr/libexec/twostep/) or fix [sms] command";
    check_command_program(r, "[sms] command", &cfg.sms.command[0], used, consequences, fix);
}

/// A program twostep runs as root: present, executable, and not replaceable
/// by anyone but root; `consequences` is (when users need it, when not).
fn check_command_program(r: &mut Report, key: &str, prog: &str, used: bool, consequences: (&str, &str), fix: &str) {
    let prog = Path::new(prog);
    let problem = match std::fs::metadata(prog) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("does not exist".to_string()),
        Err(e) => Some(format!("cannot be inspected: {e}")),
        Ok(m) if !m.is_file() => Some("is not a regular file".to_string()),
        Ok(m) if m.mode() & 0o111 == 0 => Some("is not executable".to_string()),
        Ok(_) => None,
    };
    if let Some(problem) = problem {
        let consequence = if used { consequences.0 } else { consequences.1 };
        let what = format!("the {key} {} {problem}: {consequence}", prog.display());
        if used {
            r.error(what, fix)
        } else {
            r.warning(what, fix)
        }
        return;
    }
    let real = std::fs::canonicalize(prog).unwrap_or_else(|_| prog.to_path_buf());
    for p in [prog, real.as_path()] {
        if let Some(why) = replaceable(p) {
            r.error(
                format!("the {key} {} runs as root, but {why}: that user could run anything as root", prog.display()),
                "use a program in a root-owned directory, or chown root: and chmod go-w the path",
            );
            return;
        }
    }
}

/// The config a PAM line's module arguments name (`None`: the default), as
/// the module parses them ([`crate::module_args`]); `Err` names an unknown
/// argument, over which the module refuses every login.
fn module_config(args: &[String]) -> Result<Option<PathBuf>, String> {
    match crate::module_args::parse_args(args) {
        Ok(parsed) => Ok(args.iter().any(|a| a.starts_with("config=")).then_some(parsed.config)),
        Err(crate::module_args::ArgsError::Unknown(arg)) => Err(arg),
    }
}

/// The PAM services whose auth stack loads the module, with their verdicts.
type Loading = Vec<(String, Verdict)>;

/// Every PAM file loading the module: how, and what its stack does.
fn check_pam(r: &mut Report, inputs: &Inputs<'_>, services: &[Service]) -> Loading {
    let dir = inputs.pam_dir;
    let mut loading = Vec::new();
    // One finding per problem at one place, naming every service it affects.
    let mut grouped: BTreeMap<(Severity, String, String), Vec<String>> = BTreeMap::new();
    for s in services.iter().filter(|s| !s.module_lines.is_empty()) {
        let name = crate::user::for_terminal(&s.name);
        for file in std::iter::once(&s.path).chain(s.module_lines.iter().map(|m| &m.origin.file)) {
            if let Some(why) = pam_stack::writable_by_others(file) {
                r.error(
                    format!(
                        "{} loads pam_twostep.so, but {why}: whoever can write it decides who logs in",
                        file.display()
                    ),
                    format!("run chown root: {0} and chmod go-w {0}", file.display()),
                );
            }
        }
        for (file, why) in &s.unreadable {
            r.warning(
                format!(
                    "PAM service {name} names {}, which cannot be read ({why}); libpam fails that line",
                    file.display()
                ),
                "correct the include line or restore the file",
            );
        }
        for m in &s.module_lines {
            let at = m.origin.describe(dir);
            match module_config(&m.args) {
                Err(arg) => r.error(
                    format!("{at}: unknown module argument {arg}: pam_twostep.so refuses every login there"),
                    "remove it (known: config=PATH, debug, log_socket=PATH)",
                ),
                Ok(Some(other)) if other != inputs.config => r.warning(
                    format!(
                        "{at} uses the configuration {}, not {} checked here",
                        other.display(),
                        inputs.config.display()
                    ),
                    format!("run twostep --config {} check too", other.display()),
                ),
                Ok(_) => {}
            }
        }
        let auth: Vec<_> = s.module_lines.iter().filter(|m| m.kind == "auth").collect();
        let verdict = pam_stack::analyse(s);
        let how = auth
            .iter()
            .map(|m| {
                let via = if m.origin.file == s.path { String::new() } else { format!(", included from {}", name) };
                format!("auth {} ({}{via})", m.control, m.origin.describe(dir))
            })
            .collect::<Vec<_>>()
            .join("; ");
        r.pam.push(json!({
            "service": s.name,
            "file": s.path.display().to_string(),
            "lines": s.module_lines.iter().map(|m| json!({
                "type": m.kind,
                "control": m.control,
                "arguments": m.args,
                "file": m.origin.file.display().to_string(),
                "line": m.origin.line,
                "via": m.origin.via.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "order": verdict.as_ref().map(Verdict::order),
        }));
        let Some(v) = verdict else { continue };
        let place = auth.first().map(|m| m.origin.describe(dir)).unwrap_or_default();
        let mut group = |sev: Severity, kind: &str| {
            grouped.entry((sev, kind.to_string(), place.clone())).or_default().push(name.clone());
        };
        if let Some(why) = &v.unknown {
            group(Severity::Warning, &format!("unknown:{why}"));
        } else if v.never_reached {
            group(Severity::Warning, "never_reached");
        } else if let Some(end) = &v.skipped {
            let end = end.as_ref().map_or_else(|| "the end of the stack".to_string(), |o| o.describe(dir));
            group(Severity::Error, &format!("skipped:{end}"));
        } else if v.code_first {
            if s.name == SSHD_SERVICE {
                r.info(format!("PAM service sshd asks for the code before any password: {how} (public key + code)"));
            } else if v.code_alone {
                group(Severity::Error, "code_alone");
            } else {
                group(Severity::Warning, "code_first");
            }
        } else if v.after_wrong_password {
            group(Severity::Warning, "after_wrong_password");
        } else {
            r.info(format!("PAM service {name} asks for the code only after a right password: {how}"));
        }
        if v.unknown.is_none() && !v.never_reached && !v.can_succeed {
            group(Severity::Warning, "never_succeeds");
        }
        loading.push((s.name.clone(), v));
    }
    for ((sev, kind, place), names) in grouped {
        let (list, them) = (names.join(", "), if names.len() == 1 { "it" } else { "them" });
        let order_fix = "end the stack at a wrong password first, as pam-config/pam.d/password-then-code \
                         does (README: The code only after a right password)";
        let (what, fix) = match kind.split_once(':').unwrap_or((&kind, "")) {
            ("unknown", why) => (
                format!("cannot tell how the PAM stack runs pam_twostep.so ({place}) in {list}: {why}"),
                "compare the stack with pam-config/pam.d/password-then-code".to_string(),
            ),
            ("never_reached", _) => (
                format!("no login reaches pam_twostep.so ({place}) in {list}: the code is never asked"),
                format!("move the pam_twostep.so line; check the jumps (success=N) in front of {them}"),
            ),
            ("skipped", end) => (
                format!("{list}: a login can succeed without pam_twostep.so ({place}): {end} ends the stack first"),
                format!("{order_fix}; on RHEL replace auth include/substack password-auth with those lines"),
            ),
            ("code_alone", _) => (
                format!("{list}: pam_twostep.so ({place}) comes before any password, and a right code alone logs in"),
                format!("put a password stage in front that ends at a wrong password: {order_fix}"),
            ),
            ("code_first", _) => (
                format!(
                    "{list}: pam_twostep.so ({place}) asks for the code before the password, so anyone who \
                     knows a user name can lock that user out"
                ),
                order_fix.to_string(),
            ),
            ("after_wrong_password", _) => (
                format!(
                    "{list}: pam_twostep.so ({place}) asks for the code even after a wrong password, so anyone \
                     who knows a user name can lock that user out or have code emails sent"
                ),
                order_fix.to_string(),
            ),
            _ => (
                format!("{list}: no login through {them} can succeed (the stack around {place} always fails)"),
                "check the stack with pamtester or a second session before relying on it".to_string(),
            ),
        };
        r.add(sev, what, Some(fix));
    }
    if loading.is_empty() && !services.is_empty() {
        r.info(format!(
            "no file in {} loads pam_twostep.so: no login asks for a code yet (README: quick start)",
            dir.display()
        ));
    }
    loading
}

/// sshd's settings, when sshd's PAM stack loads the module.
fn check_sshd(r: &mut Report, services: &[Service], args: &Args) {
    let Some(service) =
        services.iter().find(|s| s.name == SSHD_SERVICE && s.module_lines.iter().any(|m| m.kind == "auth"))
    else {
        if args.sshd_config.is_some() {
            r.info("sshd's PAM stack does not load pam_twostep.so, so its settings were not checked");
        }
        return;
    };
    let verdict = pam_stack::analyse(service).unwrap_or_default();
    let settings = match sshd::settings(&args.sshd, args.sshd_config.as_deref()) {
        Ok(s) => s,
        Err(why) => {
            r.warning(
                format!("{why}; sshd's settings were not checked"),
                "run sshd -t to see what is wrong with the sshd configuration",
            );
            return;
        }
    };
    let get = |k: &str| settings.get(k).map(String::as_str).unwrap_or("");
    let from = match &args.sshd_config {
        Some(f) => format!("sshd -T -f {}", f.display()),
        None => "sshd -T".to_string(),
    };
    if get("usepam") != "yes" {
        r.warning(
            format!("sshd does not use PAM ({from}: usepam {}): SSH logins never ask for a code", get("usepam")),
            "set UsePAM yes (pam-config/sshd_config.d/)",
        );
        return;
    }
    let kbd = get("kbdinteractiveauthentication") == "yes";
    if !kbd {
        r.warning(
            format!("{from}: kbdinteractiveauthentication no: sshd never asks the PAM questions, so SSH logins get no code prompt"),
            "set KbdInteractiveAuthentication yes",
        );
    }
    if get("passwordauthentication") == "yes" {
        r.warning(
            format!(
                "{from}: passwordauthentication yes with usepam yes: sshd answers the code prompt with the \
                 password, so each such login counts as a wrong code"
            ),
            "set PasswordAuthentication no; keyboard-interactive asks for both",
        );
    }
    let methods = get("authenticationmethods");
    if verdict.code_first {
        if kbd && !sshd::key_before_code_everywhere(methods) {
            r.error(
                format!(
                    "sshd's PAM stack asks for the code instead of a password, but {from}: \
                     authenticationmethods {methods}: a right code alone logs in over SSH"
                ),
                "set AuthenticationMethods publickey,keyboard-interactive (pam-config/sshd_config.d/10-twostep-publickey.conf)",
            );
        }
    } else if get("pubkeyauthentication") == "yes" && sshd::some_login_without_code(methods) {
        r.warning(
            format!("{from}: authenticationmethods {methods}: an authorized key logs in over SSH without a code"),
            "set AuthenticationMethods keyboard-interactive (or publickey,keyboard-interactive for key + code)",
        );
    }
}

/// The invoking admin (`SUDO_USER`) and root: would their next login through
/// a service loading the module be refused?
fn check_next_login(r: &mut Report, cfg: &Config, users: &Users, loading: &Loading, now: u64) {
    let store = &users.store;
    if loading.is_empty() {
        return;
    }
    let mut accounts = Vec::new();
    if let Ok(admin) = std::env::var("SUDO_USER")
        && !admin.is_empty()
        && admin != "root"
    {
        accounts.push((admin.clone(), format!("you ({admin}, from SUDO_USER)")));
    }
    accounts.push(("root".to_string(), "root".to_string()));
    for (typed, who) in accounts {
        let user = match crate::user::account_name(&Nss, &typed) {
            Ok(u) => u,
            Err(e) => {
                r.warning(format!("cannot look up {who}: {e}"), "fix the lookup (sssd, winbind, LDAP)");
                continue;
            }
        };
        let shown = crate::user::for_terminal(&user);
        // Damaged files are findings of their own already.
        let Ok(record) = store.record(&user) else { continue };
        let tally = if users.tally_ok { store.tally(&user) } else { Ok(Default::default()) };
        let Ok(tally) = tally else { continue };
        let is_root = matches!(Nss.lookup(&user), Ok(Some(a)) if a.uid == 0);
        let mut outcomes: BTreeMap<(Severity, String, String), Vec<String>> = BTreeMap::new();
        for (service, _) in loading {
            let state = match &record {
                Some(r) if !r.enabled_at(now) => RecordState::Disabled,
                Some(r) if r.is_enrolled() => RecordState::Enabled(()),
                _ => RecordState::Missing,
            };
            let p = cfg.policy_for(service);
            let groups = if policy::needs_groups(p, &state) {
                match Nss.groups(&user) {
                    Ok(g) => g,
                    Err(e) => {
                        r.warning(
                            format!("cannot list the groups of {who}: {e}"),
                            "fix the lookup (sssd, winbind, LDAP)",
                        );
                        continue;
                    }
                }
            } else {
                Some(Vec::new())
            };
            let outcome = match policy::decide(p, state, groups.as_deref()) {
                Decision::Ignore(_) => None,
                Decision::RefuseUnknownUser => Some((
                    Severity::Warning,
                    "is unknown to NSS while a group rule needs their groups".to_string(),
                    "check the name, or the directory (sssd, winbind, LDAP)".to_string(),
                )),
                Decision::MustEnroll => match policy::unenrolled(p, tally.grace_used) {
                    Unenrolled::Refuse { .. } => Some((
                        Severity::Warning,
                        "must use two-step verification and is not enrolled".to_string(),
                        format!("run twostep enroll {shown}, or exempt them (exempt_groups, required = false)"),
                    )),
                    Unenrolled::Grace => {
                        let left = policy::grace_left(p, tally.grace_used);
                        Some((
                            Severity::Info,
                            format!("is not enrolled and has {left} grace login(s) left"),
                            String::new(),
                        ))
                    }
                    Unenrolled::Enroll { .. } => Some((
                        Severity::Info,
                        "is not enrolled and will be asked to set it up".to_string(),
                        String::new(),
                    )),
                },
                Decision::Verify(()) => match policy::lock_of(&tally, &cfg.lockout, is_root, now) {
                    Lock::Open => None,
                    Lock::Until(t) => Some((
                        Severity::Warning,
                        format!("is locked until {} after too many wrong codes", crate::time::rfc3339(t)),
                        format!("run twostep unlock {shown}"),
                    )),
                    Lock::UntilUnlocked => Some((
                        Severity::Warning,
                        "is locked until an administrator unlocks them".to_string(),
                        format!("run twostep unlock {shown}"),
                    )),
                },
            };
            if let Some(key) = outcome {
                outcomes.entry(key).or_default().push(crate::user::for_terminal(service));
            }
        }
        for ((sev, why, fix), services) in outcomes {
            let list = services.join(", ");
            if sev == Severity::Info {
                r.info(format!("{who} {why} (through {list})"));
            } else {
                r.add(
                    sev,
                    format!("{who} would be refused at the next login through {list}: {shown} {why}"),
                    Some(fix),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_layer_messages_split_into_what_and_fix() {
        let e = FsError::Insecure {
            path: "/var/lib/twostep/secrets".into(),
            why: "its mode is 0755, group/other must have no access; run chmod 700 /var/lib/twostep/secrets".into(),
        };
        let (what, fix) = split_fix(&e.to_string());
        assert_eq!(what, "/var/lib/twostep/secrets is insecure: its mode is 0755, group/other must have no access");
        assert_eq!(fix.as_deref(), Some("run chmod 700 /var/lib/twostep/secrets"));
        let e = StoreError::Corrupt { path: "/s/alice".into(), message: "line 2: bad".into() };
        let (what, fix) = split_fix(&e.to_string());
        assert_eq!(
            (what.as_str(), fix.as_deref()),
            ("/s/alice is corrupt (line 2: bad)", Some("inspect it, then repair or remove it"))
        );
        assert_eq!(split_fix("a; b"), ("a; b".to_string(), None));
    }

    #[test]
    fn module_arguments_are_read_as_the_module_reads_them() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(module_config(&args(&["debug", "config=/x.toml"])), Ok(Some(PathBuf::from("/x.toml"))));
        assert_eq!(module_config(&args(&["log_socket=/s"])), Ok(None));
        assert_eq!(module_config(&args(&["confg=/x"])), Err("confg=/x".to_string()));
        assert_eq!(module_config(&args(&["nullok"])), Err("nullok".to_string()));
    }

    #[test]
    fn the_report_fits_72_columns() {
        let long = "word ".repeat(40);
        for line in wrap("warning:", &long, "  ").lines().chain(wrap("  fix:", &long, "    ").lines()) {
            assert!(line.chars().count() <= WIDTH, "{line}");
        }
        let path = format!("/{}", "x".repeat(100));
        assert_eq!(wrap("error:", &path, "  "), format!("error:\n  {path}"), "a long word gets a line of its own");
    }
}
