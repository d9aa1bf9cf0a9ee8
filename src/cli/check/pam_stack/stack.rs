//! The flattened auth stack as libpam builds it: each entry ([`Handler`])
//! with where its line came from ([`Origin`]), and what the model says its
//! module may return for an ordinary user ([`Handler::outcomes`]).

use std::path::{Path, PathBuf};

use super::control::{Actions, Ret};
use super::modules::{MODULE_NAMES, NEUTRAL_MODULES, PASSWORD_MODULES};

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
pub(super) enum Kind {
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
pub(super) struct Handler {
    pub(super) level: usize,
    pub(super) kind: Kind,
    /// `None` when the control could not be parsed.
    pub(super) actions: Option<Actions>,
    pub(super) control: String,
    pub(super) origin: Origin,
}

impl Handler {
    fn module_name(&self) -> Option<&str> {
        match &self.kind {
            Kind::Module { path, .. } => Some(path.rsplit('/').next().unwrap_or(path)),
            _ => None,
        }
    }

    pub(super) fn is_twostep(&self) -> bool {
        self.module_name().is_some_and(|n| MODULE_NAMES.contains(&n))
    }

    pub(super) fn is_password(&self) -> bool {
        self.module_name().is_some_and(|n| PASSWORD_MODULES.contains(&n))
    }

    /// What this module may return for an ordinary user.
    pub(super) fn outcomes(&self) -> &'static [Ret] {
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
