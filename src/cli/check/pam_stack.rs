//! Where `pam_twostep.so` sits in a PAM service's auth stack, and what that
//! means: `twostep check` reads every file of the PAM directory, follows
//! `@include`, `include` and `substack` as libpam does, and runs the auth
//! stack through a model of libpam's dispatcher (`_pam_dispatch_aux`:
//! impression and status, `ok`/`done`/`bad`/`die`/`reset`/jumps, a substack
//! ending at its own `done` or `die`) for every outcome the modules may have.
//!
//! The modules are modelled for an ordinary user (not root): a password
//! module (`pam_unix.so`, `pam_sss.so`, …) says yes, no or "unknown user";
//! `pam_deny.so` always no, `pam_permit.so` always yes; modules that do not
//! judge the password (`pam_env.so`, `pam_faildelay.so`, …) yes; every
//! other module any of yes, no or ignore. From all the paths this says:
//!
//! - whether a wrong password can still reach twostep (anyone who knows a
//!   user name can then lock the user out, README "The code only after a
//!   right password"; `tests/stack_order.rs` shows it through real libpam);
//! - whether the stack can succeed without twostep running (a `sufficient`
//!   password module, or `include password-auth` on RHEL);
//! - whether twostep comes before any password (the public key + code
//!   pattern, safe only behind sshd's `AuthenticationMethods publickey,…`)
//!   and whether a code alone can then open the account.
//!
//! Nothing here runs a module: it reads text. [`scan`] is the only I/O.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// File names of the module: the installed one and the one cargo builds
/// (`target/*/libpam_twostep.so`, used from a checkout and by the tests).
const MODULE_NAMES: [&str; 2] = ["pam_twostep.so", "libpam_twostep.so"];

/// Modules that check a password: with a wrong one they fail.
const PASSWORD_MODULES: [&str; 10] = [
    "pam_unix.so",
    "pam_unix2.so",
    "pam_sss.so",
    "pam_ldap.so",
    "pam_krb5.so",
    "pam_winbind.so",
    "pam_userdb.so",
    "pam_radius_auth.so",
    "pam_pwdb.so",
    "pam_lsass.so",
];

/// Modules that do not judge the user in the auth stack: they say yes.
const NEUTRAL_MODULES: [&str; 13] = [
    "pam_env.so",
    "pam_faildelay.so",
    "pam_nologin.so",
    "pam_securetty.so",
    "pam_group.so",
    "pam_cap.so",
    "pam_gnome_keyring.so",
    "pam_kwallet5.so",
    "pam_mount.so",
    "pam_ecryptfs.so",
    "pam_echo.so",
    "pam_shells.so",
    "pam_mail.so",
];

/// libpam's include depth limit (`PAM_SUBSTACK_MAX_LEVEL`).
const MAX_INCLUDE_DEPTH: usize = 16;
/// Paths explored per stack before giving up ("cannot tell").
const MAX_PATHS: usize = 50_000;
/// The largest PAM file read.
const MAX_FILE: u64 = 1024 * 1024;

/// The return codes the model distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ret {
    Success,
    AuthErr,
    UserUnknown,
    Ignore,
}

/// What a control says to do with a return code (libpam's `_PAM_ACTION_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Ignore,
    Ok,
    Done,
    Bad,
    Die,
    Reset,
    Jump(usize),
}

/// The actions for the return codes of [`Ret`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Actions {
    success: Action,
    auth_err: Action,
    user_unknown: Action,
    ignore: Action,
}

impl Actions {
    fn all(a: Action) -> Actions {
        Actions { success: a, auth_err: a, user_unknown: a, ignore: a }
    }

    fn of(&self, r: Ret) -> Action {
        match r {
            Ret::Success => self.success,
            Ret::AuthErr => self.auth_err,
            Ret::UserUnknown => self.user_unknown,
            Ret::Ignore => self.ignore,
        }
    }
}

/// Every return value name libpam accepts in `[value=action]` (`_pam_token_returns`).
const RETURN_NAMES: [&str; 33] = [
    "success",
    "open_err",
    "symbol_err",
    "service_err",
    "system_err",
    "buf_err",
    "perm_denied",
    "auth_err",
    "cred_insufficient",
    "authinfo_unavail",
    "user_unknown",
    "maxtries",
    "new_authtok_reqd",
    "acct_expired",
    "session_err",
    "cred_unavail",
    "cred_expired",
    "cred_err",
    "no_module_data",
    "conv_err",
    "authtok_err",
    "authtok_recover_err",
    "authtok_lock_busy",
    "authtok_disable_aging",
    "try_again",
    "ignore",
    "abort",
    "authtok_expired",
    "module_unknown",
    "bad_item",
    "conv_again",
    "incomplete",
    "default",
];

/// The actions of a control word or `[...]`; `None` when libpam would not
/// understand it (the model then cannot tell what the stack does).
fn parse_control(control: &str) -> Option<Actions> {
    let simple =
        |ok: Action, fail: Action, ignore: Action| Actions { success: ok, auth_err: fail, user_unknown: fail, ignore };
    match control {
        "required" => return Some(simple(Action::Ok, Action::Bad, Action::Ignore)),
        "requisite" => return Some(simple(Action::Ok, Action::Die, Action::Ignore)),
        "optional" => return Some(simple(Action::Ok, Action::Ignore, Action::Ignore)),
        "sufficient" => return Some(simple(Action::Done, Action::Ignore, Action::Ignore)),
        _ => {}
    }
    let inner = control.strip_prefix('[')?.strip_suffix(']')?;
    let mut set: BTreeMap<&str, Action> = BTreeMap::new();
    for pair in inner.split_whitespace() {
        let (name, action) = pair.split_once('=')?;
        let name = name.to_ascii_lowercase();
        let name = RETURN_NAMES.iter().find(|n| **n == name)?;
        let action = match action.to_ascii_lowercase().as_str() {
            "ignore" => Action::Ignore,
            "ok" => Action::Ok,
            "done" => Action::Done,
            "bad" => Action::Bad,
            "die" => Action::Die,
            "reset" => Action::Reset,
            n => Action::Jump(n.parse().ok().filter(|&n: &usize| n > 0)?),
        };
        set.insert(name, action);
    }
    // An unset value takes `default`, and without one libpam treats it as `bad`.
    let default = set.get("default").copied().unwrap_or(Action::Bad);
    let get = |n: &str| set.get(n).copied().unwrap_or(default);
    Some(Actions {
        success: get("success"),
        auth_err: get("auth_err"),
        user_unknown: get("user_unknown"),
        ignore: get("ignore"),
    })
}

/// Where a line came from: its file, its line number, and the files that
/// included that file, outermost first (`sshd` → `common-auth`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
    pub via: Vec<PathBuf>,
}

impl Origin {
    /// `common-auth line 25` (the file name alone when it is in `pam_dir`).
    pub fn describe(&self, pam_dir: &Path) -> String {
        format!("{} line {}", short(&self.file, pam_dir), self.line)
    }
}

/// `path` without `pam_dir/` in front.
pub fn short(path: &Path, pam_dir: &Path) -> String {
    match path.strip_prefix(pam_dir) {
        Ok(rest) if path.parent() == Some(pam_dir) => rest.display().to_string(),
        _ => path.display().to_string(),
    }
}

#[derive(Debug, Clone)]
enum Kind {
    Module {
        path: String,
        args: Vec<String>,
    },
    /// The handler a `substack` line adds; skipped when dispatched.
    Substack,
    /// A line libpam cannot use (bad control, missing include): it fails.
    MustFail,
}

/// One entry of the flattened auth stack, as libpam builds it.
#[derive(Debug, Clone)]
struct Handler {
    level: usize,
    kind: Kind,
    /// `None` when the control could not be parsed.
    actions: Option<Actions>,
    control: String,
    origin: Origin,
}

impl Handler {
    fn module_name(&self) -> Option<&str> {
        match &self.kind {
            Kind::Module { path, .. } => Some(path.rsplit('/').next().unwrap_or(path)),
            _ => None,
        }
    }

    fn is_twostep(&self) -> bool {
        self.module_name().is_some_and(|n| MODULE_NAMES.contains(&n))
    }

    fn is_password(&self) -> bool {
        self.module_name().is_some_and(|n| PASSWORD_MODULES.contains(&n))
    }

    /// What this module may return for an ordinary user.
    fn outcomes(&self) -> &'static [Ret] {
        let Some(name) = self.module_name() else {
            return &[Ret::AuthErr];
        };
        let args = match &self.kind {
            Kind::Module { args, .. } => args.as_slice(),
            _ => &[],
        };
        if self.is_twostep() || self.is_password() {
            return if self.is_twostep() {
                &[Ret::Success, Ret::AuthErr, Ret::Ignore]
            } else {
                &[Ret::Success, Ret::AuthErr, Ret::UserUnknown]
            };
        }
        match name {
            "pam_deny.so" | "pam_rootok.so" => &[Ret::AuthErr],
            "pam_permit.so" => &[Ret::Success],
            "pam_warn.so" => &[Ret::Ignore],
            "pam_faillock.so" if args.iter().any(|a| a == "authfail") => &[Ret::AuthErr],
            "pam_faillock.so" => &[Ret::Success],
            n if NEUTRAL_MODULES.contains(&n) => &[Ret::Success],
            _ => &[Ret::Success, Ret::AuthErr, Ret::Ignore],
        }
    }
}

/// One line that loads the module, of any type, for the report.
#[derive(Debug, Clone)]
pub struct ModuleLine {
    pub kind: String,
    pub control: String,
    pub args: Vec<String>,
    pub origin: Origin,
}

/// A PAM file read and flattened.
#[derive(Debug)]
pub struct Service {
    /// The file name in the PAM directory (the PAM service name).
    pub name: String,
    pub path: PathBuf,
    /// Every line loading the module, through includes too.
    pub module_lines: Vec<ModuleLine>,
    /// Files this one names that could not be read, with why.
    pub unreadable: Vec<(PathBuf, String)>,
    auth: Vec<Handler>,
}

/// What the model found for one service's auth stack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Twostep can be reached without a password module having said yes before it.
    pub after_wrong_password: bool,
    /// Every path reaching twostep reaches it before any password module
    /// (the public key + code pattern).
    pub code_first: bool,
    /// The stack can succeed without twostep running; the line that ended it (or none: the end).
    pub skipped: Option<Option<Origin>>,
    /// The stack can succeed with twostep run and no password module having said yes.
    pub code_alone: bool,
    /// Twostep is never reached at all.
    pub never_reached: bool,
    /// Some path ends in success (else every login through the stack fails).
    pub can_succeed: bool,
    /// The model could not follow the stack (why).
    pub unknown: Option<String>,
}

impl Verdict {
    /// `safe`, `after_wrong_password`, `code_first`, `skippable`, `never_reached` or `unknown`, for JSON.
    pub fn order(&self) -> &'static str {
        if self.unknown.is_some() {
            "unknown"
        } else if self.never_reached {
            "never_reached"
        } else if self.skipped.is_some() {
            "skippable"
        } else if self.code_first {
            "code_first"
        } else if self.after_wrong_password {
            "after_wrong_password"
        } else {
            "safe"
        }
    }
}

/// Splits a line into words, keeping a `[...]` group (which may hold spaces) as one.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let end = if rest.starts_with('[') {
            rest.find(']').map_or(rest.len(), |i| i + 1)
        } else {
            rest.find(char::is_whitespace).unwrap_or(rest.len())
        };
        // Inside `[...]`, spaces and line continuations separate pairs only.
        out.push(rest[..end].split_whitespace().collect::<Vec<_>>().join(" "));
        rest = rest[end..].trim_start();
    }
    out
}

/// The logical lines of a PAM file: comments dropped, `\` continuations joined,
/// each with the number of the line it starts on.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let (start, mut acc) = pending.take().unwrap_or((i + 1, String::new()));
        let (body, continued) = match raw.strip_suffix('\\') {
            Some(b) => (b, true),
            None => (raw, false),
        };
        acc.push(' ');
        acc.push_str(body);
        if continued {
            pending = Some((start, acc));
            continue;
        }
        let line = acc.split('#').next().unwrap_or("").trim().to_string();
        if !line.is_empty() {
            out.push((start, line));
        }
    }
    if let Some((start, acc)) = pending {
        let line = acc.split('#').next().unwrap_or("").trim().to_string();
        if !line.is_empty() {
            out.push((start, line));
        }
    }
    out
}

/// Reads a PAM file: a regular file, at most [`MAX_FILE`] bytes.
fn read_pam_file(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_FILE {
        return Err(format!("larger than {MAX_FILE} bytes"));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".into())
}

/// Where libpam finds an included file: an absolute path, or a name in `pam_dir`.
fn resolve(pam_dir: &Path, name: &str) -> PathBuf {
    if name.starts_with('/') { PathBuf::from(name) } else { pam_dir.join(name) }
}

struct Loader<'a> {
    pam_dir: &'a Path,
    module_lines: Vec<ModuleLine>,
    unreadable: Vec<(PathBuf, String)>,
    auth: Vec<Handler>,
}

impl Loader<'_> {
    /// Adds the lines of `path` (at substack `level`, included through `via`).
    fn load(&mut self, path: &Path, level: usize, via: &[PathBuf]) -> Result<(), ()> {
        if via.len() >= MAX_INCLUDE_DEPTH {
            self.unreadable.push((path.to_path_buf(), "included too deeply (a loop?)".into()));
            return Err(());
        }
        let text = match read_pam_file(path) {
            Ok(t) => t,
            Err(why) => {
                self.unreadable.push((path.to_path_buf(), why));
                return Err(());
            }
        };
        let mut inner_via = via.to_vec();
        inner_via.push(path.to_path_buf());
        for (number, line) in logical_lines(&text) {
            let origin = Origin { file: path.to_path_buf(), line: number, via: via.to_vec() };
            let w = words(&line);
            if w[0] == "@include" {
                // Debian: the file's lines, as if written here.
                if let Some(name) = w.get(1) {
                    let _ = self.load(&resolve(self.pam_dir, name), level, &inner_via);
                }
                continue;
            }
            let kind = w[0].strip_prefix('-').unwrap_or(&w[0]).to_ascii_lowercase();
            let control = w.get(1).cloned().unwrap_or_default();
            let target = w.get(2).cloned();
            let args: Vec<String> = w.iter().skip(3).cloned().collect();
            let lower = control.to_ascii_lowercase();
            if lower == "include" || lower == "substack" {
                let Some(target) = target else { continue };
                let file = resolve(self.pam_dir, &target);
                let substack = lower == "substack";
                if substack && kind == "auth" {
                    let h = Handler { level, kind: Kind::Substack, actions: None, control, origin: origin.clone() };
                    self.auth.push(h);
                }
                let inner = level + usize::from(substack);
                if self.load(&file, inner, &inner_via).is_err() && kind == "auth" {
                    let h = Handler {
                        level,
                        kind: Kind::MustFail,
                        actions: Some(Actions::all(Action::Bad)),
                        control: lower,
                        origin,
                    };
                    self.auth.push(h);
                }
                continue;
            }
            if let Some(path) = &target {
                let name = path.rsplit('/').next().unwrap_or(path);
                if MODULE_NAMES.contains(&name) {
                    self.module_lines.push(ModuleLine {
                        kind: kind.clone(),
                        control: control.clone(),
                        args: args.clone(),
                        origin: origin.clone(),
                    });
                }
            }
            if kind != "auth" {
                continue;
            }
            let (kind, actions) = match (target, parse_control(&control)) {
                (Some(path), actions) => (Kind::Module { path, args }, actions),
                (None, _) => (Kind::MustFail, Some(Actions::all(Action::Bad))),
            };
            self.auth.push(Handler { level, kind, actions, control, origin });
        }
        Ok(())
    }
}

/// Reads the PAM file `name` in `pam_dir` with everything it includes.
pub fn load(pam_dir: &Path, name: &str) -> Service {
    let path = pam_dir.join(name);
    let mut l = Loader { pam_dir, module_lines: Vec::new(), unreadable: Vec::new(), auth: Vec::new() };
    let _ = l.load(&path, 0, &[]);
    Service { name: name.to_string(), path, module_lines: l.module_lines, unreadable: l.unreadable, auth: l.auth }
}

/// Every regular file of `pam_dir` (sorted), or why it cannot be listed.
pub fn scan(pam_dir: &Path) -> Result<Vec<Service>, std::io::Error> {
    let mut names: Vec<String> = std::fs::read_dir(pam_dir)?
        .filter_map(|e| {
            let e = e.ok()?;
            if !e.file_type().ok()?.is_file() && !std::fs::metadata(e.path()).ok()?.is_file() {
                return None;
            }
            e.file_name().into_string().ok()
        })
        .collect();
    names.sort();
    Ok(names.iter().map(|n| load(pam_dir, n)).collect())
}

/// Why `path` (a PAM file) could be changed by someone other than root, if it can.
pub fn writable_by_others(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.uid() != 0 {
        Some(format!("it is owned by uid {}, not root", meta.uid()))
    } else if meta.mode() & 0o022 != 0 {
        Some(format!("its mode is {:04o} (group or others may write it)", meta.mode() & 0o7777))
    } else {
        None
    }
}

/// The state of libpam's dispatcher between two handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Impression {
    Undef,
    Positive,
    Negative,
}

#[derive(Debug, Clone)]
struct State {
    impression: Impression,
    /// `true` when the status is PAM_SUCCESS.
    status_ok: bool,
    /// Saved at the entry of each substack level, for `reset`.
    saved: Vec<(Impression, bool)>,
    twostep_ran: bool,
    password_ran: bool,
    password_ok: bool,
    /// Twostep ran before any password module said yes.
    reached_after_wrong: bool,
    /// Twostep ran before any password module ran.
    reached_first: bool,
    ended_by: Option<usize>,
}

struct Explorer<'a> {
    h: &'a [Handler],
    paths: usize,
    verdict: Verdict,
    /// Paths reaching twostep, and how many of those before any password module.
    reached: usize,
    reached_first: usize,
}

impl Explorer<'_> {
    fn finish(&mut self, s: &State) {
        self.paths += 1;
        self.reached += usize::from(s.twostep_ran);
        self.reached_first += usize::from(s.reached_first);
        self.verdict.after_wrong_password |= s.reached_after_wrong;
        let success = s.impression == Impression::Positive && s.status_ok;
        self.verdict.can_succeed |= success;
        if success && !s.twostep_ran && self.verdict.skipped.is_none() {
            self.verdict.skipped = Some(s.ended_by.map(|i| self.h[i].origin.clone()));
        }
        if success && s.twostep_ran && !s.password_ok {
            self.verdict.code_alone = true;
        }
    }

    /// Runs the stack from handler `i` in state `s`, once per possible outcome.
    fn run(&mut self, mut i: usize, mut s: State, prev_level: usize) {
        let h = self.h;
        let mut prev = prev_level;
        while i < h.len() {
            if self.paths >= MAX_PATHS {
                self.verdict.unknown = Some("the stack has too many possible paths".into());
                return;
            }
            let level = h[i].level;
            if prev < level {
                s.saved.resize(level + 1, (Impression::Undef, false));
                s.saved[level] = (s.impression, s.status_ok);
            }
            prev = level;
            if matches!(h[i].kind, Kind::Substack) {
                i += 1;
                continue;
            }
            let Some(actions) = h[i].actions else {
                self.verdict.unknown = Some(format!("libpam does not understand the control {:?}", h[i].control));
                return;
            };
            let outcomes = h[i].outcomes();
            let (&last, others) = outcomes.split_last().expect("at least one outcome");
            for &r in others {
                let mut branch = s.clone();
                if let Some(next) = self.step(i, r, actions, &mut branch) {
                    self.run(next, branch, level);
                } else {
                    self.finish(&branch);
                }
                if self.verdict.unknown.is_some() {
                    return;
                }
            }
            match self.step(i, last, actions, &mut s) {
                Some(next) => i = next,
                None => break,
            }
        }
        self.finish(&s);
    }

    /// Applies return code `r` of handler `i`; the next handler to run, or
    /// `None` when the stack has ended.
    fn step(&mut self, i: usize, r: Ret, actions: Actions, s: &mut State) -> Option<usize> {
        let h = self.h;
        let me = &h[i];
        if me.is_twostep() && !s.twostep_ran {
            s.twostep_ran = true;
            s.reached_after_wrong = !s.password_ok;
            if !s.password_ran {
                s.reached_first = true;
            }
        }
        if me.is_password() {
            s.password_ran = true;
            s.password_ok |= r == Ret::Success;
        }
        let level = me.level;
        // The end of the current level: the first later handler at a lower level.
        let level_end = |from: usize| (from + 1..h.len()).find(|&j| h[j].level < level).unwrap_or(h.len());
        match actions.of(r) {
            Action::Reset => {
                let (imp, ok) = s.saved.get(level).copied().unwrap_or((Impression::Undef, false));
                s.impression = imp;
                s.status_ok = ok;
            }
            a @ (Action::Ok | Action::Done) => {
                if (s.impression == Impression::Undef || (s.impression == Impression::Positive && s.status_ok))
                    && r != Ret::Ignore
                {
                    s.impression = Impression::Positive;
                    s.status_ok = r == Ret::Success;
                }
                if s.impression != Impression::Negative && a == Action::Done {
                    s.ended_by = Some(i);
                    let end = level_end(i);
                    return if level == 0 { None } else { Some(end) };
                }
            }
            a @ (Action::Bad | Action::Die) => {
                if s.impression != Impression::Negative {
                    s.impression = Impression::Negative;
                    s.status_ok = false;
                }
                if a == Action::Die {
                    let end = level_end(i);
                    return if level == 0 { None } else { Some(end) };
                }
            }
            Action::Ignore => {}
            Action::Jump(n) => {
                // Skip n handlers of this level (a substack counts as one).
                let mut j = i;
                let mut left = n;
                while left > 0 && j + 1 < h.len() && h[j + 1].level >= level {
                    j += 1;
                    while j + 1 < h.len() && h[j + 1].level > level {
                        j += 1;
                    }
                    left -= 1;
                }
                if left > 0 {
                    // libpam: "bad jump in stack", the result is a failure.
                    s.impression = Impression::Negative;
                    s.status_ok = false;
                }
                return Some(j + 1);
            }
        }
        Some(i + 1)
    }
}

/// What the auth stack of `service` does around twostep; `None` when its
/// auth stack does not load the module.
pub fn analyse(service: &Service) -> Option<Verdict> {
    if !service.auth.iter().any(Handler::is_twostep) {
        return None;
    }
    let start = State {
        impression: Impression::Undef,
        status_ok: false,
        saved: vec![(Impression::Undef, false)],
        twostep_ran: false,
        password_ran: false,
        password_ok: false,
        reached_after_wrong: false,
        reached_first: false,
        ended_by: None,
    };
    let mut e = Explorer { h: &service.auth, paths: 0, verdict: Verdict::default(), reached: 0, reached_first: 0 };
    e.run(0, start, 0);
    e.verdict.never_reached = e.reached == 0 && e.verdict.unknown.is_none();
    e.verdict.code_first = e.reached > 0 && e.reached_first == e.reached;
    Some(e.verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PAM directory holding `files` (name, text).
    fn dir(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(d.path().join(name), text).unwrap();
        }
        d
    }

    fn verdict(files: &[(&str, &str)], service: &str) -> Verdict {
        let d = dir(files);
        analyse(&load(d.path(), service)).expect("the module is in the stack")
    }

    fn shipped(name: &str) -> String {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("pam-config/pam.d").join(name)).unwrap()
    }

    /// Debian 12's /etc/pam.d/common-auth as pam-auth-update writes it.
    const DEBIAN_COMMON_AUTH: &str = "auth\t[success=1 default=ignore]\tpam_unix.so nullok\n\
        auth\trequisite\t\t\tpam_deny.so\nauth\trequired\t\t\tpam_permit.so\n";

    /// RHEL 9's password-auth (auth part).
    const RHEL_PASSWORD_AUTH: &str = "auth required pam_env.so\n\
        auth required pam_faildelay.so delay=2000000\n\
        auth [default=1 ignore=ignore success=ok] pam_usertype.so isregular\n\
        auth [default=1 ignore=ignore success=ok] pam_localuser.so\n\
        auth sufficient pam_unix.so nullok\n\
        auth [default=1 ignore=ignore success=ok] pam_usertype.so isregular\n\
        auth sufficient pam_sss.so forward_pass\n\
        auth required pam_deny.so\n";

    #[test]
    fn the_shipped_password_stacks_ask_for_the_code_only_after_a_right_password() {
        for name in ["sshd", "login"] {
            let v = verdict(&[("common-auth", DEBIAN_COMMON_AUTH), (name, &shipped(name))], name);
            assert_eq!(v.order(), "safe", "{name}: {v:?}");
            assert!(!v.code_alone, "{name}: {v:?}");
        }
        let v = verdict(&[("svc", &shipped("password-then-code"))], "svc");
        assert_eq!((v.order(), v.code_alone), ("safe", false), "{v:?}");
    }

    #[test]
    fn the_shipped_publickey_stack_asks_for_the_code_first_and_a_code_alone_logs_in() {
        let v = verdict(&[("common-auth", DEBIAN_COMMON_AUTH), ("sshd", &shipped("sshd-publickey"))], "sshd");
        assert_eq!(v.order(), "code_first", "{v:?}");
        assert!(v.code_alone && v.skipped.is_none(), "{v:?}");
    }

    #[test]
    fn a_required_password_module_does_not_stop_a_wrong_password() {
        let v = verdict(&[("s", "auth required pam_unix.so\nauth required pam_twostep.so\n")], "s");
        assert_eq!(v.order(), "after_wrong_password", "{v:?}");
        let v = verdict(&[("s", "auth requisite pam_unix.so\nauth required pam_twostep.so\n")], "s");
        assert_eq!(v.order(), "safe", "{v:?}");
    }

    #[test]
    fn rhel_substack_reaches_twostep_after_a_wrong_password_and_include_skips_it() {
        let files = [
            ("password-auth", RHEL_PASSWORD_AUTH),
            ("sub", "auth substack password-auth\nauth required pam_twostep.so\n"),
            ("inc", "auth include password-auth\nauth required pam_twostep.so\n"),
        ];
        let v = verdict(&files, "sub");
        assert_eq!(v.order(), "after_wrong_password", "{v:?}");
        let v = verdict(&files, "inc");
        assert_eq!(v.order(), "skippable", "{v:?}");
        let end = v.skipped.clone().unwrap().unwrap();
        assert_eq!((end.file.file_name().unwrap().to_str(), end.line), (Some("password-auth"), 5));
        assert_eq!(end.via.len(), 1, "{end:?}");
    }

    #[test]
    fn jumps_count_a_substack_as_one_module_and_die_ends_only_the_substack() {
        let files = [
            ("pw", "auth requisite pam_deny.so\nauth requisite pam_deny.so\n"),
            ("s", "auth [success=1 default=ignore] pam_unix.so\nauth substack pw\nauth required pam_twostep.so\n"),
        ];
        let v = verdict(&files, "s");
        // A right password jumps over the whole substack to twostep: the stack can succeed.
        assert!(v.can_succeed, "{v:?}");
        // A wrong password dies in the substack, which ends only the substack.
        assert_eq!(v.order(), "after_wrong_password", "{v:?}");
        let files = [(
            "s",
            "auth [success=3 default=ignore] pam_unix.so\nauth requisite pam_deny.so\n\
             auth required pam_permit.so\nauth required pam_twostep.so\n",
        )];
        let v = verdict(&files, "s");
        assert_eq!(v.order(), "never_reached", "the jump goes past twostep: {v:?}");
        assert!(!v.can_succeed, "a jump to the end decides nothing, and that fails: {v:?}");
    }

    #[test]
    fn a_missing_include_fails_and_an_unknown_control_is_not_guessed() {
        let v = verdict(&[("s", "@include nothere\nauth required pam_twostep.so\n")], "s");
        assert_eq!(v.order(), "code_first", "{v:?}");
        let d = dir(&[("s", "auth include nothere\nauth required pam_twostep.so\n")]);
        let s = load(d.path(), "s");
        assert_eq!(s.unreadable.len(), 1, "{s:?}");
        assert!(!analyse(&s).unwrap().code_alone, "the failed include fails the stack");
        let v = verdict(&[("s", "auth [success=ok bogus=die] pam_unix.so\nauth required pam_twostep.so\n")], "s");
        assert_eq!(v.order(), "unknown", "{v:?}");
    }

    #[test]
    fn lines_are_read_as_libpam_reads_them() {
        let text = "# comment\n\n-auth  [success=1 \\\n default=ignore] pam_unix.so # trailing\nauth\trequired\t/lib/security/pam_twostep.so config=/x.toml debug\n";
        let d = dir(&[("s", text)]);
        let s = load(d.path(), "s");
        assert_eq!(s.auth.len(), 2, "{s:?}");
        assert_eq!(s.auth[0].control, "[success=1 default=ignore]");
        assert_eq!(s.auth[0].origin.line, 3);
        assert_eq!(s.module_lines.len(), 1);
        let m = &s.module_lines[0];
        assert_eq!((m.kind.as_str(), m.control.as_str(), m.origin.line), ("auth", "required", 5));
        assert_eq!(m.args, ["config=/x.toml", "debug"]);
    }

    #[test]
    fn a_line_is_said_to_come_through_the_file_that_included_it() {
        let d = dir(&[("common-auth", "auth required pam_twostep.so\n"), ("sshd", "@include common-auth\n")]);
        let s = load(d.path(), "sshd");
        let o = &s.module_lines[0].origin;
        assert_eq!(o.describe(d.path()), "common-auth line 1");
        assert_eq!(o.via, [d.path().join("sshd")]);
    }
}
