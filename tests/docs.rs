//! The shipped documentation and configuration files: the man pages are
//! rendered from their one source (scripts/mangen), render without warnings
//! and cover what they must; the commented pam-config/twostep.toml is the
//! defaults but for its one marked rollout setting and lists every key the
//! man page documents.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use pam_twostep::config::Config;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The page as `man` shows it at 80 columns, asserting that groff had nothing to complain about.
fn render(page: &str) -> String {
    let out = Command::new("man")
        .args(["--warnings", "-l"])
        .arg(repo().join("packaging/man").join(page))
        .env("MANWIDTH", "80")
        .env("MAN_KEEP_FORMATTING", "0")
        .env("LC_ALL", "C.UTF-8")
        .env("MANPAGER", "cat")
        .output()
        .expect("run man (package man-db)");
    assert!(out.status.success(), "man -l {page} failed: {out:?}");
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(warnings.trim().is_empty(), "man --warnings -l {page}:\n{warnings}");
    // Plain text: drop overstrike bold/underline if the pager left any.
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut plain = String::new();
    for c in text.chars() {
        if c == '\u{8}' {
            plain.pop();
        } else {
            plain.push(c);
        }
    }
    plain
}

#[test]
fn the_man_pages_are_up_to_date_with_their_source() {
    let out = Command::new("/usr/bin/python3").arg(repo().join("scripts/mangen")).arg("--check").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn the_module_page_has_the_sections_admins_look_for() {
    let text = render("pam_twostep.8");
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "MODULE TYPES PROVIDED",
        "RETURN VALUES",
        "EXAMPLES",
        "FILES",
        "SEE ALSO",
    ] {
        assert!(text.lines().any(|l| l == section), "no {section} section:\n{text}");
    }
    for needle in
        ["config=PATH", "debug", "log_socket=PATH", "PAM_IGNORE", "PAM_SYSTEM_ERR", "/etc/security/twostep.toml"]
    {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
}

#[test]
fn the_command_page_documents_every_command_the_binary_has() {
    let text = render("twostep.8");
    let help = Command::new(twostep_bin()).arg("--help").output().unwrap();
    let help = stdout(&help);
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.contains(&"enroll"), "{help}");
    for c in commands {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(&format!("{c} ")) || l.contains(&format!(", {c} "))),
            "twostep {c} is not documented in twostep(8):\n{text}"
        );
    }
    for section in ["SYNOPSIS", "COMMANDS", "EXIT STATUS", "FILES"] {
        assert!(text.lines().any(|l| l == section), "no {section} section");
    }
}

#[test]
fn the_config_page_and_the_shipped_config_cover_the_same_keys() {
    let text = render("twostep.toml.5");
    let shipped = std::fs::read_to_string(repo().join("pam-config/twostep.toml")).unwrap();
    // Every key the page documents ("   key = default") is set in the shipped file.
    let keys: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("       ") && !l.starts_with("        ") && l.contains(" = "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(keys.len() >= 20, "{keys:?}");
    // The issuer's default is the host name, not a value the file can show: both name it, the file as a comment.
    assert!(text.contains("issuer (default: the host name)"), "{text}");
    assert!(shipped.lines().any(|l| l.starts_with("# issuer = ")), "{shipped}");
    for key in keys {
        assert!(
            shipped.lines().any(|l| l.starts_with(&format!("{key} = "))),
            "{key} is documented in twostep.toml(5) but not in pam-config/twostep.toml"
        );
    }
}

/// The shipped file is the built-in defaults except the rollout setting it
/// marks and explains (`[policy] required = false`, so that turning the module
/// on refuses nobody who is not enrolled yet); DESIGN.md's defaults stay the
/// built-in ones.
#[test]
fn the_shipped_config_is_the_defaults_but_for_the_marked_rollout_setting() {
    let path = repo().join("pam-config/twostep.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut shipped = Config::parse(&path, &text).unwrap();
    let defaults = Config::parse(&path, "").unwrap();
    assert!(defaults.policy.required, "the built-in default stays required = true");
    assert!(!shipped.policy.required, "the shipped file rolls out with required = false");
    let line = text.lines().find(|l| l.starts_with("required = ")).unwrap();
    assert!(line.contains("ROLLOUT"), "{line}");
    assert!(text.contains("# ROLLOUT: required = false (the built-in default is true)"), "the reason is given");
    shipped.policy.required = true;
    assert_eq!(shipped, defaults, "nothing else differs from the built-in defaults");
    let marked: Vec<&str> = text.lines().filter(|l| !l.starts_with('#') && l.contains("ROLLOUT")).collect();
    assert_eq!(marked, [line], "one marked setting, the one checked here");
}

#[test]
fn the_pam_auth_update_profile_is_off_until_the_admin_enables_it() {
    let profile = std::fs::read_to_string(repo().join("pam-config/pam-auth-update")).unwrap();
    assert!(profile.lines().any(|l| l == "Default: no"), "{profile}");
    assert!(profile.lines().any(|l| l == "Auth-Type: Additional"), "{profile}");
    assert!(profile.contains("\trequired\tpam_twostep.so"), "{profile}");
}

/// Every `pam-config/...` file (or `pam.d/NAME` snippet) README and the man pages name is shipped.
#[test]
fn every_example_file_the_docs_mention_exists() {
    let mut named = Vec::new();
    for doc in ["README.md", "packaging/man/pam_twostep.8.md", "packaging/man/twostep.8.md", "docs/security.md"] {
        let text = std::fs::read_to_string(repo().join(doc)).unwrap();
        for word in text.split(|c: char| c.is_whitespace() || "`*()[],;:".contains(c)) {
            let word = word.trim_end_matches('.');
            let path = if let Some(rest) = word.strip_prefix("pam-config/") {
                rest.to_string()
            } else if word.starts_with("pam.d/") || word.starts_with("sshd_config.d/") {
                word.to_string()
            } else {
                continue;
            };
            if !path.is_empty() {
                named.push((doc, path));
            }
        }
    }
    assert!(named.iter().any(|(_, p)| p == "pam.d/password-then-code"), "{named:?}");
    for (doc, path) in named {
        assert!(repo().join("pam-config").join(&path).exists(), "{doc} names pam-config/{path}, which does not exist");
    }
}

/// The non-comment lines of the shipped stack appear, as one literal block, in README and pam_twostep(8).
#[test]
fn the_password_then_code_stack_shown_in_the_docs_is_the_shipped_one() {
    let shipped = std::fs::read_to_string(repo().join("pam-config/pam.d/password-then-code")).unwrap();
    let lines: Vec<&str> = shipped.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    for doc in ["README.md", "packaging/man/pam_twostep.8.md"] {
        let text = std::fs::read_to_string(repo().join(doc)).unwrap();
        let doc_lines: Vec<&str> = text.lines().map(str::trim).collect();
        assert!(doc_lines.windows(lines.len()).any(|w| w == lines.as_slice()), "{doc} does not show {lines:?}");
    }
}

/// README and twostep(8) give the thresholds the admin command warns at.
#[test]
fn the_documented_warning_thresholds_are_the_ones_the_command_uses() {
    use pam_twostep::config_warnings::{DEFAULT_GUESSES_PER_DAY, MAX_GRACE_LOGINS, MAX_GUESSES_PER_DAY};
    let defaults = Config::parse(Path::new("/x"), "").unwrap();
    assert_eq!(pam_twostep::config_warnings::guesses_per_day(&defaults.lockout), Some(DEFAULT_GUESSES_PER_DAY));
    for doc in ["README.md", "packaging/man/twostep.8.md"] {
        let text = std::fs::read_to_string(repo().join(doc)).unwrap();
        for claim in [
            format!("more than {MAX_GUESSES_PER_DAY} codes a day"),
            format!("default {DEFAULT_GUESSES_PER_DAY}"),
            format!("`grace_logins` over {MAX_GRACE_LOGINS}"),
        ] {
            let claim = if doc.ends_with(".8.md") { claim.replace('`', "**") } else { claim };
            assert!(text.contains(&claim), "{doc} does not say {claim:?}");
        }
    }
}

/// Relative links in README (`[text](path)`) point at files in the repository.
#[test]
fn the_readme_links_to_files_that_exist_including_the_security_document() {
    let text = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let targets: Vec<&str> = text
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .filter(|t| !t.starts_with('#') && !t.contains("://"))
        .collect();
    assert!(targets.contains(&"docs/security.md"), "{targets:?}");
    for t in targets {
        assert!(repo().join(t).exists(), "README links to {t}, which does not exist");
    }
}

/// Every regression test docs/security.md names (`target::name`,
/// `module::tests::name` or `module::tests::file::name`) is a test function in that file.
#[test]
fn the_regression_tests_named_in_the_security_document_exist() {
    let text = std::fs::read_to_string(repo().join("docs/security.md")).unwrap();
    let threats = text.split("## Threats").nth(1).expect("a Threats section");
    let mut named = 0;
    for row in threats.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| ---")).skip(1) {
        let tests = row.trim_end_matches('|').rsplit('|').next().unwrap().trim();
        if tests == "TBD" {
            continue;
        }
        for name in tests.split(", ") {
            let name = name.trim_matches('`');
            let parts: Vec<&str> = name.split("::").collect();
            let tests_at = parts.iter().position(|p| *p == "tests").filter(|&i| i > 0 && i + 1 < parts.len());
            let (files, func) = match (parts.as_slice(), tests_at) {
                ([target, func], _) => (vec![format!("tests/{target}.rs")], *func),
                // module::tests::name, or module::tests::file::name for tests in src/module/tests/file.rs.
                (_, Some(i)) => {
                    let (path, func) = (parts[..i].join("/"), parts[parts.len() - 1]);
                    let files = match &parts[i + 1..parts.len() - 1] {
                        [] => {
                            vec![format!("src/{path}.rs"), format!("src/{path}/mod.rs"), format!("src/{path}/tests.rs")]
                        }
                        sub => vec![format!("src/{path}/tests/{}.rs", sub.join("/"))],
                    };
                    (files.into_iter().filter(|f| repo().join(f).exists()).collect(), func)
                }
                _ => panic!("{name:?} is neither target::name nor module::tests::name"),
            };
            let file = files
                .iter()
                .find(|f| std::fs::read_to_string(repo().join(f)).is_ok_and(|s| s.contains(&format!("fn {func}()"))));
            let file = file.unwrap_or_else(|| panic!("docs/security.md names {name}, found in none of {files:?}"));
            let source = std::fs::read_to_string(repo().join(file)).unwrap();
            assert!(source.contains(&format!("fn {func}()")), "docs/security.md names {name}, not in {file}");
            named += 1;
        }
    }
    assert!(named >= 10, "{named}");
}

/// `.TH` carries a real date: the newest packaging/debian/changelog entry's
/// (a release date, the same in every build).
#[test]
fn the_man_pages_are_dated_by_the_newest_changelog_entry() {
    let changelog = std::fs::read_to_string(repo().join("packaging/debian/changelog")).unwrap();
    let stamp = changelog.lines().find_map(|l| l.strip_prefix(" -- ")).unwrap().split("  ").nth(1).unwrap();
    let date = chrono::DateTime::parse_from_rfc2822(stamp).unwrap().format("%Y-%m-%d").to_string();
    for page in ["pam_twostep.8", "twostep.8", "twostep.toml.5"] {
        let roff = std::fs::read_to_string(repo().join("packaging/man").join(page)).unwrap();
        let th = roff.lines().find(|l| l.starts_with(".TH ")).unwrap();
        assert!(th.contains(&format!("\"{date}\"")), "{page}: {th}");
        assert!(render(page).lines().last().unwrap().contains(&date), "{page}");
    }
}

/// The files of the login texts: `src/auth/text.rs` and those of its submodules (`src/auth/text/`).
fn login_text_files() -> Vec<std::path::PathBuf> {
    let mut files = vec![repo().join("src/auth/text.rs")];
    let mut more: Vec<_> =
        std::fs::read_dir(repo().join("src/auth/text")).unwrap().map(|e| e.unwrap().path()).collect();
    more.sort();
    files.extend(more.into_iter().filter(|p| p.extension().is_some_and(|e| e == "rs")));
    files
}

/// The public items of the login texts (top level, before their tests): (name, the
/// value of a string constant as the user sees it, else None).
fn login_texts() -> Vec<(String, Option<String>)> {
    let mut items = Vec::new();
    for file in login_text_files() {
        let source = std::fs::read_to_string(file).unwrap();
        let source = source.split("#[cfg(test)]").next().unwrap();
        for (at, _) in source.match_indices("\npub ") {
            let rest = &source[at + 5..];
            let Some((kind, rest)) = rest.split_once(' ') else { continue };
            if kind == "use" || kind == "mod" {
                continue;
            }
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            assert!(!name.is_empty(), "cannot read the item at {:?}", &rest[..rest.len().min(40)]);
            let value = (kind == "const" && rest[name.len()..].starts_with(": &str")).then(|| {
                let body = &rest[rest.find('=').unwrap() + 1..rest.find(";\n").unwrap()];
                let literal = &body[body.find('"').unwrap() + 1..body.rfind('"').unwrap()];
                literal.replace("\\n", "\n").replace("\\\"", "\"")
            });
            items.push((name, value));
        }
    }
    items
}

/// docs/messages.md describes every text a user can see at a login: each
/// public item of src/auth/text.rs (and src/auth/text/) is named there (as `NAME`), and each
/// message constant is shown as it is.
#[test]
fn the_messages_document_names_every_login_text_and_shows_the_constants_as_they_are() {
    let doc = std::fs::read_to_string(repo().join("docs/messages.md")).unwrap();
    let items = login_texts();
    for name in ["UNAVAILABLE", "PROMPT", "wrong_code", "few_backup_codes", "wrap", "enroll_intro", "PHONE_PROMPT"] {
        assert!(items.iter().any(|(n, _)| n == name), "{name} not found in src/auth/text.rs: {items:?}");
    }
    let flat = unwrapped(&doc);
    let missing: Vec<&str> =
        items.iter().map(|(n, _)| n.as_str()).filter(|n| !doc.contains(&format!("`{n}`"))).collect();
    assert!(missing.is_empty(), "docs/messages.md does not describe {missing:?} (src/auth/text.rs)");
    for (name, value) in &items {
        if let Some(v) = value.as_deref().filter(|v| v.len() > 8) {
            assert!(flat.contains(&unwrapped(v)), "docs/messages.md does not show {name} as it is: {v:?}");
        }
    }
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(readme.contains("](docs/messages.md)"), "README.md links docs/messages.md");
}
