//! `twostep list --unenrolled`: the accounts that must use a second factor
//! under the policy of some PAM service and are not enrolled yet, for a
//! roll-out (who still has to scan the QR code before grace runs out).
//!
//! The candidates are the members of every `required_groups` group of the
//! tables that require a second factor (`[policy]` and each
//! `[services.NAME]`): the group's member list plus the accounts whose primary
//! group it is (`getent passwd`, so directory accounts count when NSS can
//! enumerate them). Each is then judged as the module would
//! ([`policy::decide`] with the account's groups from NSS): exempt groups
//! drop out. When a table requires a second factor of every account
//! (`required = true`, no `required_groups`), "every account" is not a list
//! NSS can give (system accounts, directories that do not enumerate): that is
//! an error with exit 2, documented in twostep(8).

use std::collections::BTreeSet;
use std::process::Command;

use super::{CliError, Context};
use crate::config::PolicyConfig;
use crate::policy::{self, Decision, RecordState};
use crate::user::{Accounts, Nss};

/// The accounts that must enroll under some table, sorted; the caller drops
/// those with a record.
pub fn candidates(ctx: &Context) -> Result<Vec<String>, CliError> {
    let tables: Vec<&PolicyConfig> =
        std::iter::once(&ctx.config.policy).chain(ctx.config.services.values()).filter(|p| p.required).collect();
    if tables.iter().any(|p| p.required_groups.is_empty()) {
        return Err(CliError::UnenrolledNeedsGroups);
    }
    if tables.is_empty() {
        eprintln!("twostep: note: no table sets required = true: nobody must enroll");
    }
    let groups: BTreeSet<&str> = tables.iter().flat_map(|p| p.required_groups.iter().map(String::as_str)).collect();
    let mut members = BTreeSet::new();
    let mut gids = Vec::new();
    for name in groups {
        match nix::unistd::Group::from_name(name) {
            Ok(Some(group)) => {
                members.extend(group.mem);
                gids.push(group.gid.as_raw());
            }
            Ok(None) => eprintln!("twostep: note: the required group {name} does not exist"),
            Err(errno) => return Err(CliError::ListMembers(format!("cannot look up group {name}: {errno}"))),
        }
    }
    if !gids.is_empty() {
        members.extend(primary_members(&gids)?);
    }
    let mut out = Vec::new();
    for user in members {
        let groups = Nss.groups(&user)?;
        let must = tables
            .iter()
            .any(|p| matches!(policy::decide(p, RecordState::<()>::Missing, groups.as_deref()), Decision::MustEnroll));
        if must {
            out.push(user);
        }
    }
    Ok(out)
}

/// The accounts whose primary group is one of `gids`, from `getent passwd`.
fn primary_members(gids: &[u32]) -> Result<Vec<String>, CliError> {
    let out = Command::new("getent")
        .arg("passwd")
        .env_clear()
        .env("PATH", crate::command::PATH)
        .output()
        .map_err(|e| CliError::ListMembers(format!("cannot run getent passwd: {e}")))?;
    if !out.status.success() {
        return Err(CliError::ListMembers(format!("getent passwd failed ({})", out.status)));
    }
    Ok(parse_passwd(&String::from_utf8_lossy(&out.stdout), gids))
}

/// The names in passwd lines (`name:x:uid:gid:…`) whose gid is in `gids`.
fn parse_passwd(text: &str, gids: &[u32]) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let fields: Vec<&str> = l.split(':').collect();
            let gid: u32 = fields.get(3)?.parse().ok()?;
            (gids.contains(&gid) && !fields[0].is_empty()).then(|| fields[0].to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_members_are_the_passwd_lines_with_the_group_id() {
        let text = "root:x:0:0:root:/root:/bin/bash\nann:x:1001:2000::/home/ann:/bin/sh\n\
                    bob:x:1002:2001::/home/bob:/bin/sh\nbroken line\n:x:1:2000::/:/bin/sh\n";
        assert_eq!(parse_passwd(text, &[2000]), ["ann"]);
        assert_eq!(parse_passwd(text, &[2000, 2001, 0]), ["root", "ann", "bob"]);
        assert!(parse_passwd(text, &[]).is_empty());
    }
}
