//! The compiled config (`config_cache=`) in tests: where a test keeps it,
//! what a login's debug line says of it, and waiting until a copy is made.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{Env, STACKED};

/// Where this installation's tests keep the compiled copy.
pub fn copy_path(env: &Env) -> PathBuf {
    env.path().join("run/config.cache")
}

/// [`STACKED`] (twostep, then pam_permit) with a compiled copy and the debug line.
pub fn stacked_with_copy(env: &Env) {
    env.write_stacked(STACKED, &format!("config_cache={} debug", copy_path(env).display()));
}

/// What the debug lines among `logs` say of the copy: `Hit`, `Written`,
/// `Settling`, `Unusable("…")`, … (the `cache=` field, to the next ` Config {`).
pub fn uses(logs: &[String]) -> Vec<String> {
    logs.iter()
        .filter_map(|l| l.split(" cache=").nth(1))
        .map(|rest| rest.split(" Config {").next().unwrap_or(rest).to_string())
        .collect()
}

/// Logs `user` in on [`STACKED`] (no answers) until a login writes the copy:
/// a config is copied once it has not changed for two seconds. Returns the
/// logins' uses of the copy.
pub fn until_copied(env: &Env, user: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    loop {
        env.login_service(STACKED, user, &[], &[]);
        let now = uses(&env.log_lines());
        let done = now.iter().any(|u| u == "Written");
        seen.extend(now);
        if done {
            return seen;
        }
        assert!(Instant::now() < deadline, "no copy made in 20 s: {seen:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
