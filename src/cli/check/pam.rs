//! Every PAM file loading `pam_twostep.so`: how (control, arguments,
//! through which included file), who may change it, and what the stack
//! around it does ([`super::pam_stack`]), one finding per problem and place
//! naming every service it affects.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::json;

use super::pam_stack::{self, Service, Verdict};
use super::report::{Report, Severity};
use super::{Inputs, SSHD_SERVICE};

/// The config a PAM line's module arguments name (`None`: the default), as
/// the module parses them ([`crate::module_args`]); `Err` names an unknown
/// argument, over which the module refuses every login.
fn module_config(args: &[String]) -> Result<Option<PathBuf>, String> {
    match crate::module_args::parse_args(args) {
        Ok(parsed) => Ok(args.iter().any(|a| a.starts_with("config=")).then_some(parsed.config.into_owned())),
        Err(crate::module_args::ArgsError::Unknown(arg)) => Err(format!("unknown module argument {arg}")),
        Err(e) => Err(e.to_string()),
    }
}

/// The PAM services whose auth stack loads the module, with their verdicts.
pub(super) type Loading = Vec<(String, Verdict)>;

/// Every PAM file loading the module: how, and what its stack does.
pub(super) fn check_pam(r: &mut Report, inputs: &Inputs<'_>, services: &[Service]) -> Loading {
    let dir = inputs.pam_dir;
    let mut loading = Vec::new();
    // One finding per problem at one place, naming every service it affects.
    let mut grouped: BTreeMap<(Severity, String, String), Vec<String>> = BTreeMap::new();
    let mut copies = BTreeSet::new();
    for s in services.iter().filter(|s| !s.module_lines.is_empty()) {
        let name = crate::user::for_terminal(&s.name);
        for file in std::iter::once(&s.path).chain(s.module_lines.iter().map(|m| &m.origin.file)) {
            if let Some(why) = pam_stack::writable_by_others(file) {
                r.error(
                    format!(
                        "{} loads pam_twostep.so, but {why}: whoever can write it decides who logs in",
                        file.display()
                    ),
                    format!("run chown root: {0} and chmod go-w {0}", file.display()),
                );
            }
        }
        for (file, why) in &s.unreadable {
            r.warning(
                format!(
                    "PAM service {name} names {}, which cannot be read ({why}); libpam fails that line",
                    file.display()
                ),
                "correct the include line or restore the file",
            );
        }
        for m in &s.module_lines {
            let at = m.origin.describe(dir);
            match module_config(&m.args) {
                Err(arg) => r.error(
                    format!("{at}: {arg}: pam_twostep.so refuses every login there"),
                    format!("correct or remove it (known: {})", crate::module_args::KNOWN),
                ),
                Ok(Some(other)) if other != inputs.config => r.warning(
                    format!(
                        "{at} uses the configuration {}, not {} checked here",
                        other.display(),
                        inputs.config.display()
                    ),
                    format!("run twostep --config {} check too", other.display()),
                ),
                Ok(_) => {}
            }
            if let Ok(crate::module_args::Args { config_cache: Some(copy), .. }) =
                crate::module_args::parse_args(&m.args)
            {
                super::config_copy::check_copy(r, &mut copies, &at, &copy);
            }
        }
        let auth: Vec<_> = s.module_lines.iter().filter(|m| m.kind == "auth").collect();
        let verdict = pam_stack::analyse(s);
        let how = auth
            .iter()
            .map(|m| {
                let via = if m.origin.file == s.path { String::new() } else { format!(", included from {}", name) };
                format!("auth {} ({}{via})", m.control, m.origin.describe(dir))
            })
            .collect::<Vec<_>>()
            .join("; ");
        r.pam.push(json!({
            "service": s.name,
            "file": s.path.display().to_string(),
            "lines": s.module_lines.iter().map(|m| json!({
                "type": m.kind,
                "control": m.control,
                "arguments": m.args,
                "file": m.origin.file.display().to_string(),
                "line": m.origin.line,
                "via": m.origin.via.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "order": verdict.as_ref().map(Verdict::order),
        }));
        let Some(v) = verdict else { continue };
        let place = auth.first().map(|m| m.origin.describe(dir)).unwrap_or_default();
        let mut group = |sev: Severity, kind: &str| {
            grouped.entry((sev, kind.to_string(), place.clone())).or_default().push(name.clone());
        };
        if let Some(why) = &v.unknown {
            group(Severity::Warning, &format!("unknown:{why}"));
        } else if v.never_reached {
            group(Severity::Warning, "never_reached");
        } else if let Some(end) = &v.skipped {
            let end = end.as_ref().map_or_else(|| "the end of the stack".to_string(), |o| o.describe(dir));
            group(Severity::Error, &format!("skipped:{end}"));
        } else if v.code_first {
            if s.name == SSHD_SERVICE {
                r.info(format!("PAM service sshd asks for the code before any password: {how} (public key + code)"));
            } else if v.code_alone {
                group(Severity::Error, "code_alone");
            } else {
                group(Severity::Warning, "code_first");
            }
        } else if v.after_wrong_password {
            group(Severity::Warning, "after_wrong_password");
        } else {
            r.info(format!("PAM service {name} asks for the code only after a right password: {how}"));
        }
        if v.unknown.is_none() && !v.never_reached && !v.can_succeed {
            group(Severity::Warning, "never_succeeds");
        }
        loading.push((s.name.clone(), v));
    }
    for ((sev, kind, place), names) in grouped {
        let (list, them) = (names.join(", "), if names.len() == 1 { "it" } else { "them" });
        let order_fix = "end the stack at a wrong password first, as pam-config/pam.d/password-then-code \
                         does (README: The code only after a right password)";
        let (what, fix) = match kind.split_once(':').unwrap_or((&kind, "")) {
            ("unknown", why) => (
                format!("cannot tell how the PAM stack runs pam_twostep.so ({place}) in {list}: {why}"),
                "compare the stack with pam-config/pam.d/password-then-code".to_string(),
            ),
            ("never_reached", _) => (
                format!("no login reaches pam_twostep.so ({place}) in {list}: the code is never asked"),
                format!("move the pam_twostep.so line; check the jumps (success=N) in front of {them}"),
            ),
            ("skipped", end) => (
                format!("{list}: a login can succeed without pam_twostep.so ({place}): {end} ends the stack first"),
                format!("{order_fix}; on RHEL replace auth include/substack password-auth with those lines"),
            ),
            ("code_alone", _) => (
                format!("{list}: pam_twostep.so ({place}) comes before any password, and a right code alone logs in"),
                format!("put a password stage in front that ends at a wrong password: {order_fix}"),
            ),
            ("code_first", _) => (
                format!(
                    "{list}: pam_twostep.so ({place}) asks for the code before the password, so anyone who \
                     knows a user name can lock that user out"
                ),
                order_fix.to_string(),
            ),
            ("after_wrong_password", _) => (
                format!(
                    "{list}: pam_twostep.so ({place}) asks for the code even after a wrong password, so anyone \
                     who knows a user name can lock that user out or have code emails sent"
                ),
                order_fix.to_string(),
            ),
            _ => (
                format!("{list}: no login through {them} can succeed (the stack around {place} always fails)"),
                "check the stack with pamtester or a second session before relying on it".to_string(),
            ),
        };
        r.add(sev, what, Some(fix));
    }
    if loading.is_empty() && !services.is_empty() {
        r.info(format!(
            "no file in {} loads pam_twostep.so: no login asks for a code yet (README: quick start)",
            dir.display()
        ));
    }
    loading
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_arguments_are_read_as_the_module_reads_them() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(module_config(&args(&["debug", "config=/x.toml"])), Ok(Some(PathBuf::from("/x.toml"))));
        assert_eq!(module_config(&args(&["log_socket=/s"])), Ok(None));
        assert_eq!(module_config(&args(&["confg=/x"])), Err("unknown module argument confg=/x".to_string()));
        assert_eq!(module_config(&args(&["nullok"])), Err("unknown module argument nullok".to_string()));
        assert_eq!(
            module_config(&args(&["config_cache=x"])),
            Err("module argument \"config_cache=x\" must be an absolute file path, or off".to_string())
        );
    }
}
