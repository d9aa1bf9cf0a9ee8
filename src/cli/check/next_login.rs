//! Would the admin running `twostep check` (`SUDO_USER`) or root be refused
//! at the next login through a service loading the module? [`crate::policy`]
//! on their record and tally, as the login decides.

use std::collections::BTreeMap;

use super::pam::Loading;
use super::report::{Report, Severity};
use super::users::Users;
use crate::config::Config;
use crate::policy::{self, Decision, Lock, RecordState, Unenrolled};
use crate::user::{Accounts, Nss};

/// The invoking admin (`SUDO_USER`) and root: would their next login through
/// a service loading the module be refused?
pub(super) fn check_next_login(r: &mut Report, cfg: &Config, users: &Users, loading: &Loading, now: u64) {
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
