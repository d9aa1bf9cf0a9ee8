//! The file store's two directories (owner, mode: [`crate::trusted_fs`]),
//! then every file in them ([`super::users`]).

use super::report::Report;
use super::users::{Users, read_users};
use crate::config::Config;
use crate::store::UserStore;
use crate::trusted_fs::{self, FsError, Owner, Trust};

/// The two directories and every file in them.
pub(super) fn check_file_store(r: &mut Report, cfg: &Config) -> Option<Users> {
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
    let store = match UserStore::for_login(cfg.secrets_dir.clone(), cfg.tally_dir.clone(), Owner::ROOT) {
        Ok(s) => s,
        Err(e) => {
            r.error_message(&e.to_string(), "fix the directory, then check again");
            return None;
        }
    };
    Some(read_users(r, cfg, store, tally_ok))
}
