//! Control words as libpam reads them (`required`, …, `[value=action …]`):
//! the actions ([`Action`]) for each return code the model tells apart ([`Ret`]).

use std::collections::BTreeMap;

/// The return codes the model distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ret {
    Success,
    AuthErr,
    UserUnknown,
    Ignore,
}

/// What a control says to do with a return code (libpam's `_PAM_ACTION_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
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
pub(super) struct Actions {
    success: Action,
    auth_err: Action,
    user_unknown: Action,
    ignore: Action,
}

impl Actions {
    pub(super) fn all(a: Action) -> Actions {
        Actions { success: a, auth_err: a, user_unknown: a, ignore: a }
    }

    pub(super) fn of(&self, r: Ret) -> Action {
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
pub(super) fn parse_control(control: &str) -> Option<Actions> {
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
