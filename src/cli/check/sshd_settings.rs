//! sshd's settings (`sshd -T`, read by [`super::sshd`]) when sshd's PAM
//! stack loads the module: PAM used, the PAM questions asked, and whether
//! sshd's authentication methods let a key in without the code, or a code
//! alone when the stack asks for it first.

use super::pam_stack::{self, Service};
use super::report::Report;
use super::{Args, SSHD_SERVICE, sshd};

/// sshd's settings, when sshd's PAM stack loads the module.
pub(super) fn check_sshd(r: &mut Report, services: &[Service], args: &Args) {
    let Some(service) =
        services.iter().find(|s| s.name == SSHD_SERVICE && s.module_lines.iter().any(|m| m.kind == "auth"))
    else {
        if args.sshd_config.is_some() {
            r.info("sshd's PAM stack does not load pam_twostep.so, so its settings were not checked");
        }
        return;
    };
    let verdict = pam_stack::analyse(service).unwrap_or_default();
    let settings = match sshd::settings(&args.sshd, args.sshd_config.as_deref()) {
        Ok(s) => s,
        Err(why) => {
            r.warning(
                format!("{why}; sshd's settings were not checked"),
                "run sshd -t to see what is wrong with the sshd configuration",
            );
            return;
        }
    };
    let get = |k: &str| settings.get(k).map(String::as_str).unwrap_or("");
    let from = match &args.sshd_config {
        Some(f) => format!("sshd -T -f {}", f.display()),
        None => "sshd -T".to_string(),
    };
    if get("usepam") != "yes" {
        r.warning(
            format!("sshd does not use PAM ({from}: usepam {}): SSH logins never ask for a code", get("usepam")),
            "set UsePAM yes (pam-config/sshd_config.d/)",
        );
        return;
    }
    let kbd = get("kbdinteractiveauthentication") == "yes";
    if !kbd {
        r.warning(
            format!("{from}: kbdinteractiveauthentication no: sshd never asks the PAM questions, so SSH logins get no code prompt"),
            "set KbdInteractiveAuthentication yes",
        );
    }
    if get("passwordauthentication") == "yes" {
        r.warning(
            format!(
                "{from}: passwordauthentication yes with usepam yes: sshd answers the code prompt with the \
                 password, so each such login counts as a wrong code"
            ),
            "set PasswordAuthentication no; keyboard-interactive asks for both",
        );
    }
    let methods = get("authenticationmethods");
    if verdict.code_first {
        if kbd && !sshd::key_before_code_everywhere(methods) {
            r.error(
                format!(
                    "sshd's PAM stack asks for the code instead of a password, but {from}: \
                     authenticationmethods {methods}: a right code alone logs in over SSH"
                ),
                "set AuthenticationMethods publickey,keyboard-interactive (pam-config/sshd_config.d/10-twostep-publickey.conf)",
            );
        }
    } else if get("pubkeyauthentication") == "yes" && sshd::some_login_without_code(methods) {
        r.warning(
            format!("{from}: authenticationmethods {methods}: an authorized key logs in over SSH without a code"),
            "set AuthenticationMethods keyboard-interactive (or publickey,keyboard-interactive for key + code)",
        );
    }
}
