//! The directory backend (`[store] backend = "ldap"`): the `[ldap]`
//! password and CA files, checked as a login checks them, each URI asked
//! once (bind and `base_dn`, bounded by the timeout), then every record and
//! tally in the directory ([`super::users`]).

use super::report::{Report, split_fix};
use super::users::{Users, read_users};
use crate::config::{Config, LdapConfig};
use crate::store::{DirectoryError, UserStore};
use crate::trusted_fs::Owner;

/// The `[ldap]` files, checked as a login checks them
/// ([`crate::store::ldap::file_problems`]), then each URI asked once.
pub(super) fn check_directory(r: &mut Report, cfg: &Config, ldap: &LdapConfig) -> Option<Users> {
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
