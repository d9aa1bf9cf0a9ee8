//! The compiled config a PAM line's module keeps (`config_cache=`,
//! src/config/cache.rs): logins neither read nor write a copy whose file or
//! directory is not root's own; they parse the config instead and warn in the
//! log at every login. Said here before anyone reads the log.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::report::Report;
use crate::trusted_fs::{self, FsError, Owner, Trust};

/// Checks the copy at `copy` (once per path in `seen`); `at` names the PAM line.
pub(super) fn check_copy(r: &mut Report, seen: &mut BTreeSet<PathBuf>, at: &str, copy: &Path) {
    if !seen.insert(copy.to_path_buf()) {
        return;
    }
    let Some((dir, _)) = crate::config::cache::split(copy) else { return };
    let unused = "logins do not use the compiled config there (they parse the file and warn each time)";
    match trusted_fs::check_dir(dir, Trust::Private(Owner::ROOT)) {
        Ok(()) => {}
        Err(FsError::Missing(_)) => return,
        Err(e) => {
            let fix =
                format!("run chown root: {0} and chmod 700 {0}, or remove it (a login makes it again)", dir.display());
            r.warning(format!("{at}: {e}: {unused}"), fix);
            return;
        }
    }
    // The checks a login makes before it reads the copy; its contents are the login's business.
    match trusted_fs::open_trusted(copy, Trust::Private(Owner::ROOT), crate::config::cache::MAX_CACHE_FILE) {
        Ok(_) => {}
        Err(e) => {
            r.warning(format!("{at}: {e}: {unused}"), format!("remove {} (a login makes it again)", copy.display()))
        }
    }
}
