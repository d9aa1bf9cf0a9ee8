//! The `issuer` key (the label of the entry in the authenticator app) and its
//! default, the host's name.

/// Why `issuer` cannot label an authenticator entry, if it cannot.
pub(super) fn check_issuer(issuer: &str) -> Result<(), &'static str> {
    if issuer.trim().is_empty() || issuer.len() > 100 {
        return Err("must be 1 to 100 characters");
    }
    if issuer.contains(':') || issuer.chars().any(char::is_control) {
        return Err(
            "must not contain ':' or control characters (authenticator apps use ':' to separate issuer and user)",
        );
    }
    Ok(())
}

/// The host's name (gethostname), `None` when it cannot be had as text.
pub(super) fn host_name() -> Option<String> {
    nix::unistd::gethostname().ok()?.into_string().ok()
}

/// The issuer when `issuer` is not set: the host's name, as google-authenticator
/// labels its entries, so that entries from different servers tell apart. A host
/// name that cannot be an issuer is an error asking for `issuer` to be set.
pub(super) fn issuer_from_host(host: Option<String>) -> Result<String, String> {
    let fix = "set issuer = \"Your District\" (the name users should see in their authenticator app)";
    match host {
        Some(host) if host != "(none)" => match check_issuer(&host) {
            Ok(()) => Ok(host),
            Err(why) => Err(format!(
                "is not set, and the host name \"{}\" cannot stand in for it (it {why}); {fix}",
                crate::user::for_terminal(&host)
            )),
        },
        _ => Err(format!("is not set, and this host has no name to use in its place; {fix}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_name_that_cannot_be_an_issuer_asks_for_the_issuer_to_be_set() {
        assert_eq!(issuer_from_host(Some("web-1".into())), Ok("web-1".to_string()));
        for host in [None, Some("(none)".to_string()), Some("a:b".to_string()), Some(String::new())] {
            let e = issuer_from_host(host.clone()).unwrap_err();
            assert!(e.starts_with("is not set, and ") && e.contains("set issuer = \"Your District\""), "{host:?}: {e}");
        }
    }
}
