//! The compiled config (src/config/cache.rs) through real libpam: a login
//! makes the copy once the file has settled, the next logins use it, and an
//! edit of the file counts from the very next login; the copy is root's own,
//! and the module argument that names it is checked.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use common::cache::{copy_path, stacked_with_copy, until_copied, uses};
use common::*;

#[test]
fn the_copy_is_used_until_the_file_changes_and_an_edit_counts_at_the_next_login() {
    let env = Env::new("[policy]\nrequired = false");
    stacked_with_copy(&env);
    env.log_lines();
    // A file written just now is parsed, not copied.
    let seen = until_copied(&env, "bob");
    assert_eq!(seen.first().map(String::as_str), Some("Settling"), "{seen:?}");
    let copy = std::fs::metadata(copy_path(&env)).unwrap();
    assert_eq!((copy.uid(), copy.mode() & 0o777), (0, 0o600));
    let dir = std::fs::metadata(copy_path(&env).parent().unwrap()).unwrap();
    assert_eq!((dir.uid(), dir.mode() & 0o777), (0, 0o700));

    let t = env.login_service(STACKED, "bob", &[], &[]);
    assert!(t.succeeded(), "not required: {t:?}");
    assert_eq!(uses(&env.log_lines()), ["Hit"]);

    // An edit right after the copy was made: the next login sees it.
    env.write_config("[policy]\nrequired = true");
    let t = env.login_service(STACKED, "bob", &[], &[]);
    assert!(!t.succeeded(), "required now: {t:?}");
    assert!(t.said().contains("set up"), "{t:?}");
    assert_eq!(uses(&env.log_lines()), ["Settling"]);
    // Enrolled users log in as before; the copy follows the file again.
    env.enroll("alice");
    let t = env.login_service(STACKED, "alice", &[&code(SECRET, 0)], &[]);
    assert!(t.succeeded(), "{t:?}");
    let seen = until_copied(&env, "bob");
    assert!(seen.iter().all(|u| u == "Settling" || u == "Written"), "{seen:?}");
    env.login_service(STACKED, "bob", &[], &[]);
    assert_eq!(uses(&env.log_lines()), ["Hit"]);
}

#[test]
fn a_copy_made_for_another_config_file_is_not_used() {
    let env = Env::new("[policy]\nrequired = false");
    stacked_with_copy(&env);
    until_copied(&env, "bob");
    // The same copy named for another config file (same text, another inode).
    let other = env.path().join("other.toml");
    std::fs::copy(&env.config, &other).unwrap();
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o644)).unwrap();
    let line = format!("config={} config_cache={} debug", other.display(), copy_path(&env).display());
    env.write_stacked(STACKED, &line);
    env.login_service(STACKED, "bob", &[], &[]);
    let seen = uses(&env.log_lines());
    assert!(seen == ["Settling"] || seen == ["Written"], "{seen:?}");
}

#[test]
fn the_default_config_has_its_copy_in_run_and_twostep_check_accepts_the_argument() {
    // The module's own default (no config= given) is not run here: it is the
    // machine's /etc/security/twostep.toml. The argument is checked as the module reads it.
    let env = Env::new("");
    env.write_service("twostep-test-copy", "config_cache=/run/twostep/config.cache");
    let out = env.twostep(&["check", "--pam-dir", env.confdir.to_str().unwrap()]);
    assert!(!stdout(&out).contains("config_cache"), "{}", stdout(&out));
    env.write_service("twostep-test-copy", "config_cache=run/config.cache");
    let out = env.twostep(&["check", "--pam-dir", env.confdir.to_str().unwrap()]);
    assert!(stdout(&out).contains("must be an absolute file path, or off"), "{}", stdout(&out));
}

#[test]
fn a_login_stopped_while_it_writes_the_copy_holds_nobody_up() {
    let env = Env::new("[policy]\nrequired = false");
    stacked_with_copy(&env);
    until_copied(&env, "bob");
    std::fs::remove_file(copy_path(&env)).unwrap();
    // The copy's lock held, as by a login a caller stopped (SIGSTOP to su) half way.
    let lock =
        std::fs::OpenOptions::new().write(true).open(copy_path(&env).with_file_name(".config.cache.lock")).unwrap();
    lock.try_lock().unwrap();
    let t = env.login_service(STACKED, "bob", &[], &[]);
    assert!(t.succeeded(), "{t:?}");
    // Busy: not waited for (a wait would have ended in a failed lock, NotWritten).
    assert_eq!(uses(&env.log_lines()), ["Busy"]);
    drop(lock);
    env.login_service(STACKED, "bob", &[], &[]);
    assert_eq!(uses(&env.log_lines()), ["Written"]);
}
