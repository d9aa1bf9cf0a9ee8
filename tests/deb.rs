//! The Debian package: built with cargo-deb from `[package.metadata.deb]`,
//! inspected with dpkg-deb, then installed, used, removed and purged with
//! dpkg. The dpkg steps run in a throwaway overlay copy of this machine
//! (tests/e2e/overlay.sh: a private mount namespace), so the real system, an
//! installation made with install.sh, and tests running in parallel are never
//! touched, and nothing is left behind even if the test fails.

mod common;
mod e2e;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::repo;

/// Where libpam looks for modules on this machine: the multiarch directory.
fn module() -> String {
    let arch = output(Command::new("dpkg-architecture").arg("-qDEB_HOST_MULTIARCH"));
    format!("/usr/lib/{}/security/pam_twostep.so", arch.trim())
}

/// Builds the package into `out` and returns its path.
fn build_deb(out: &Path) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let has = Command::new(&cargo).args(["deb", "--version"]).output().map(|o| o.status.success()).unwrap_or(false);
    assert!(has, "cargo-deb is missing: run `cargo install cargo-deb --locked` (scripts/test.sh does this)");
    let status = Command::new(&cargo)
        .args(["deb", "--quiet", "--multiarch=foreign", "--output"])
        .arg(out)
        .current_dir(repo())
        .status()
        .unwrap();
    assert!(status.success(), "cargo deb failed");
    let debs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    assert_eq!(debs.len(), 1, "{debs:?}");
    debs[0].clone()
}

fn output(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Splits "== name" headed output into sections.
fn sections(text: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let mut current = String::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("== ") {
            current = name.to_string();
            map.insert(current.clone(), String::new());
        } else if let Some(s) = map.get_mut(&current) {
            s.push_str(line);
            s.push('\n');
        }
    }
    map
}

/// What dpkg thinks of `twostep` and which of its paths exist, on the real machine.
fn host_state() -> String {
    let dpkg = Command::new("dpkg-query").args(["-W", "-f=${Status}", "twostep"]).output().unwrap();
    let module = module();
    let paths = [
        module.as_str(),
        "/usr/sbin/twostep",
        "/etc/security/twostep.toml",
        "/var/lib/twostep",
        "/usr/share/pam-configs/twostep",
    ];
    let exists: Vec<String> = paths.iter().map(|p| format!("{p}={}", Path::new(p).exists())).collect();
    format!("{} {}", String::from_utf8_lossy(&dpkg.stdout), exists.join(" "))
}

#[test]
fn the_deb_installs_the_module_command_config_and_man_pages_and_removes_cleanly() {
    let dir = tempfile::Builder::new().prefix("twostep-deb-").tempdir().unwrap();
    let deb = build_deb(dir.path());
    let module = module();

    // Contents and metadata.
    let contents = output(Command::new("dpkg-deb").arg("-c").arg(&deb));
    for (mode, path) in [
        ("-rw-r--r--", module.as_str()),
        ("-rwxr-xr-x", "./usr/sbin/twostep"),
        ("-rw-r--r--", "./etc/security/twostep.toml"),
        ("-rw-r--r--", "./usr/share/pam-configs/twostep"),
        ("-rw-r--r--", "./usr/share/man/man8/pam_twostep.8.gz"),
        ("-rw-r--r--", "./usr/share/man/man8/twostep.8.gz"),
        ("-rw-r--r--", "./usr/share/man/man5/twostep.toml.5.gz"),
        ("-rw-r--r--", "./usr/share/doc/twostep/examples/pam.d/sshd"),
        ("-rw-r--r--", "./usr/share/doc/twostep/examples/sshd_config.d/10-twostep-publickey.conf"),
        ("-rw-r--r--", "./usr/share/doc/twostep/examples/twostep.toml"),
        ("-rw-r--r--", "./usr/share/doc/twostep/examples/fail2ban/twostep.conf"),
    ] {
        assert!(
            contents
                .lines()
                .any(|l| l.starts_with(mode) && l.contains(" 0/0 ") && l.ends_with(path.trim_start_matches('.'))),
            "{mode} root {path} missing:\n{contents}"
        );
    }
    assert!(!contents.contains("/var/lib/twostep"), "state directories come from postinst, not the archive");
    let info = output(Command::new("dpkg-deb").arg("-I").arg(&deb));
    assert!(info.contains("Package: twostep") && info.contains("libpam-runtime"), "{info}");
    assert!(info.contains("Suggests: default-mta | mail-transport-agent"), "{info}");
    let arch = output(Command::new("dpkg").arg("--print-architecture"));
    assert!(info.contains(&format!("Architecture: {}", arch.trim())), "{info}");
    let conffiles =
        output(Command::new("dpkg-deb").args(["--ctrl-tarfile"]).arg(&deb).stdout(std::process::Stdio::piped()));
    let _ = conffiles;
    let ctrl = dir.path().join("control");
    output(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&ctrl));
    assert_eq!(std::fs::read_to_string(ctrl.join("conffiles")).unwrap().trim(), "/etc/security/twostep.toml");
    for script in ["postinst", "prerm", "postrm"] {
        assert!(ctrl.join(script).exists(), "no {script}");
    }

    // lintian: no errors or warnings; each override is explained in packaging/debian/lintian-overrides.
    let lintian = Command::new("lintian").args(["--fail-on", "error,warning"]).arg(&deb).output().unwrap();
    assert!(
        lintian.status.success(),
        "lintian:\n{}{}",
        String::from_utf8_lossy(&lintian.stdout),
        String::from_utf8_lossy(&lintian.stderr)
    );

    // Install, use, remove and purge in a throwaway copy of this machine.
    let before = host_state();
    let script = format!(
        r#"
export DEBIAN_FRONTEND=noninteractive MANWIDTH=80 LC_ALL=C.UTF-8
echo "== install"; dpkg -i {deb} 2>&1
echo "== status"; dpkg-query -W -f='${{Status}}\n' twostep
echo "== modes"; stat -c '%n %U:%G %a' {module} /usr/sbin/twostep /etc/security/twostep.toml /usr/share/pam-configs/twostep /var/lib/twostep /var/lib/twostep/secrets /var/lib/twostep/tally
echo "== common-auth"; cat /etc/pam.d/common-auth
echo "== man"; man 8 pam_twostep 2>&1 | head -4; man 5 twostep.toml 2>&1 | head -4
echo "== login"
secret=$(twostep enroll deb-probe --json | sed 's/.*"secret":"\([A-Z2-7]*\)".*/\1/')
printf 'auth required pam_twostep.so\naccount required pam_permit.so\n' > /etc/pam.d/twostep-deb-probe
oathtool --totp -b "$secret" | pamtester twostep-deb-probe deb-probe authenticate 2>&1
echo "== enable"; pam-auth-update --enable twostep; grep -c pam_twostep /etc/pam.d/common-auth
echo "== common-auth login"
useradd deb-probe; echo 'deb-probe:Pw-deb-9q' | chpasswd
printf '@include common-auth\naccount required pam_permit.so\n' > /etc/pam.d/twostep-deb-common
printf 'Pw-deb-9q\n000000\n' | pamtester twostep-deb-common deb-probe authenticate 2>&1 || echo "wrong code refused"
next=$(oathtool --totp -b "$secret" -N "now + 30 seconds")
printf 'Pw-deb-9q\n%s\n' "$next" | pamtester twostep-deb-common deb-probe authenticate 2>&1
echo "== refused"; dpkg -r twostep 2>&1 || echo "exit $?"
dpkg-query -W -f='${{Status}}\n' twostep; grep -c pam_twostep /etc/pam.d/common-auth; ls {module}
echo "== remove"; rm /etc/pam.d/twostep-deb-probe; dpkg -r twostep 2>&1; grep -c pam_twostep /etc/pam.d/common-auth || true
ls -d /etc/security/twostep.toml /var/lib/twostep/secrets/deb-probe {module} 2>&1 || true
echo "== purge"; dpkg -P twostep 2>&1; ls -d /etc/security/twostep.toml /var/lib/twostep 2>&1 || true
dpkg-query -W -f='${{Status}}\n' twostep 2>&1 || true
"#,
        deb = deb.display(),
    );
    let scratch = dir.path().join("overlay");
    std::fs::create_dir(&scratch).unwrap();
    let text = e2e::in_overlay(&scratch, None, &script);
    let s = sections(&text);
    let get = |k: &str| s.get(k).cloned().unwrap_or_else(|| panic!("no section {k}:\n{text}"));

    assert_eq!(get("status").trim(), "install ok installed", "{text}");
    let modes = get("modes");
    for expected in [
        format!("{module} root:root 644"),
        "/usr/sbin/twostep root:root 755".into(),
        "/etc/security/twostep.toml root:root 644".into(),
        "/usr/share/pam-configs/twostep root:root 644".into(),
        "/var/lib/twostep root:root 700".into(),
        "/var/lib/twostep/secrets root:root 700".into(),
        "/var/lib/twostep/tally root:root 700".into(),
    ] {
        assert!(modes.lines().any(|l| l == expected), "{expected} not in:\n{modes}");
    }
    // Installed but not enabled.
    assert!(!get("common-auth").contains("pam_twostep"), "{text}");
    assert!(get("man").contains("PAM_TWOSTEP(8)") && get("man").contains("TWOSTEP.TOML(5)"), "{text}");
    // The installed module, found by name in the security directory, accepts a right code.
    assert!(get("login").contains("successfully authenticated"), "{text}");
    assert_eq!(get("enable").trim().lines().last(), Some("1"), "{text}");
    // Enabled through pam-auth-update: every common-auth service asks for the password, then the code.
    let common = get("common-auth login");
    assert!(common.contains("Password: Verification code: "), "{text}");
    assert!(common.contains("Incorrect verification code") && common.contains("wrong code refused"), "{text}");
    assert!(common.trim_end().ends_with("successfully authenticated"), "{text}");
    // prerm refuses while a file the admin wrote loads the module, and changes nothing.
    let refused = get("refused");
    assert!(
        refused.contains(
            "twostep: not removed: these PAM files still load pam_twostep.so:\n  /etc/pam.d/twostep-deb-probe\n"
        ),
        "{text}"
    );
    // Still installed and in common-auth (dpkg only records that removal was asked for).
    assert!(refused.contains("exit 1\ndeinstall ok installed\n1\n") && refused.contains(&module), "{text}");
    let ours: Vec<&str> = refused.lines().filter(|l| l.starts_with("twostep: ") || l.starts_with("  /")).collect();
    assert!(ours.len() == 4 && ours.iter().all(|l| l.chars().count() <= 72), "{ours:#?}\n{text}");
    // prerm took the module out of common-auth before it was removed; the config and state stay.
    let removed = get("remove");
    assert!(removed.lines().any(|l| l == "0"), "{text}");
    assert!(
        removed.contains("/etc/security/twostep.toml\n") && removed.contains("/var/lib/twostep/secrets/deb-probe\n"),
        "{text}"
    );
    assert!(removed.contains(&format!("cannot access '{module}'")), "{text}");
    // Purge deletes the config and the state too.
    let purged = get("purge");
    assert!(
        purged.contains("cannot access '/etc/security/twostep.toml'")
            && purged.contains("cannot access '/var/lib/twostep'"),
        "{text}"
    );

    assert_eq!(host_state(), before, "the real machine changed");
}
