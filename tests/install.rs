//! install.sh, run for real in a throwaway overlay copy of this machine
//! (tests/e2e/overlay.sh): it installs the module where libpam finds it, the
//! command, config, state directories and man pages; re-running it is safe and
//! keeps an admin's config; it never touches /etc/pam.d or sshd_config; and
//! --uninstall refuses while a PAM file still uses the module, then removes
//! everything but the config and state. The real system is never written
//! (only the cargo target directory, which the build shares).
//!
//! These tests hold whatever the machine's own /etc/pam.d says: the overlay
//! starts without the machine's PAM lines for twostep (tests/e2e/overlay.sh),
//! checked here on a machine set up as the README's quick start leaves it,
//! simulated in an outer overlay.

mod common;
mod e2e;

use e2e::repo;

#[test]
fn install_sh_installs_reinstalls_safely_and_uninstalls_without_touching_pam_files() {
    common::build();
    let target = common::target_dir().parent().unwrap().to_path_buf();
    let dir = tempfile::Builder::new().prefix("twostep-install-").tempdir().unwrap();
    let scratch = dir.path().join("overlay");
    std::fs::create_dir(&scratch).unwrap();
    let arch = std::process::Command::new("dpkg-architecture").arg("-qDEB_HOST_MULTIARCH").output().unwrap();
    let module = format!("/usr/lib/{}/security/pam_twostep.so", String::from_utf8_lossy(&arch.stdout).trim());
    let script = format!(
        r#"
set -e
export LC_ALL=C.UTF-8
cd {repo}
rm -f /etc/security/twostep.toml; rm -rf /var/lib/twostep
pam_before=$(cat /etc/pam.d/* /etc/ssh/sshd_config | md5sum)
echo "== first"; ./install.sh 2>&1
echo "== modes"
stat -c '%n %U:%G %a' {module} /usr/sbin/twostep /etc/security/twostep.toml \
    /var/lib/twostep /var/lib/twostep/secrets /var/lib/twostep/tally /usr/share/pam-configs/twostep
echo "== man"; MANWIDTH=80 man 8 twostep 2>&1 | head -1
echo "== again"
echo 'issuer = "Admin Was Here"' > /etc/security/twostep.toml
chmod 0700 /var/lib/twostep/secrets && chmod 0755 /var/lib/twostep/tally
./install.sh 2>&1
cat /etc/security/twostep.toml; stat -c '%n %a' /var/lib/twostep/tally
echo "== pam"; [ "$(cat /etc/pam.d/* /etc/ssh/sshd_config | md5sum)" = "$pam_before" ] && echo unchanged
echo "== login"
secret=$(twostep enroll inst-probe --json | sed 's/.*"secret":"\([A-Z2-7]*\)".*/\1/')
printf 'auth required pam_twostep.so\naccount required pam_permit.so\n' > /etc/pam.d/twostep-install-probe
oathtool --totp -b "$secret" | pamtester twostep-install-probe inst-probe authenticate 2>&1
echo "== refused"; ./install.sh --uninstall 2>&1 || echo "exit $?"; ls /usr/sbin/twostep
echo "== uninstall"; rm /etc/pam.d/twostep-install-probe; ./install.sh --uninstall 2>&1
ls -d {module} /usr/sbin/twostep /usr/share/man/man8/twostep.8.gz \
    /usr/share/pam-configs/twostep /etc/security/twostep.toml /var/lib/twostep/secrets/inst-probe 2>&1 || true
"#,
        repo = repo().display()
    );
    let text = e2e::in_overlay(&scratch, Some(&target), &script);
    let module_mode = format!("{module} root:root 644");
    let section = |name: &str| -> String {
        let start = text.find(&format!("== {name}\n")).unwrap_or_else(|| panic!("no {name}:\n{text}"));
        let rest = &text[start + name.len() + 4..];
        rest[..rest.find("\n== ").map_or(rest.len(), |i| i + 1)].to_string()
    };

    let modes = section("modes");
    for expected in [
        module_mode.as_str(),
        "/usr/sbin/twostep root:root 755",
        "/etc/security/twostep.toml root:root 644",
        "/var/lib/twostep root:root 700",
        "/var/lib/twostep/secrets root:root 700",
        "/var/lib/twostep/tally root:root 700",
        "/usr/share/pam-configs/twostep root:root 644",
    ] {
        assert!(modes.lines().any(|l| l == expected), "{expected} not in:\n{text}");
    }
    assert!(section("man").starts_with("TWOSTEP(8)"), "{text}");
    let again = section("again");
    assert!(again.contains("issuer = \"Admin Was Here\""), "the admin's config was overwritten:\n{text}");
    assert!(again.contains("kept the existing /etc/security/twostep.toml"), "{text}");
    assert!(again.contains("/var/lib/twostep/tally 700"), "re-running did not repair the mode:\n{text}");
    assert_eq!(section("pam").trim(), "unchanged", "{text}");
    assert!(section("login").contains("successfully authenticated"), "{text}");
    let refused = section("refused");
    assert!(refused.contains("/etc/pam.d/twostep-install-probe") && refused.contains("exit 1"), "{text}");
    assert!(refused.contains("\n/usr/sbin/twostep\n"), "{text}");
    let gone = section("uninstall");
    for path in
        [module.as_str(), "/usr/sbin/twostep", "/usr/share/man/man8/twostep.8.gz", "/usr/share/pam-configs/twostep"]
    {
        assert!(gone.contains(&format!("cannot access '{path}'")), "{path} still there:\n{text}");
    }
    assert!(
        gone.contains("\n/etc/security/twostep.toml\n") && gone.contains("/var/lib/twostep/secrets/inst-probe\n"),
        "{text}"
    );
}

#[test]
fn the_overlay_starts_without_the_machines_pam_lines_for_twostep_and_leaves_them_alone() {
    let dir = tempfile::Builder::new().prefix("twostep-overlay-").tempdir().unwrap();
    let (outer, inner) = (dir.path().join("outer"), dir.path().join("inner"));
    std::fs::create_dir(&outer).unwrap();
    std::fs::create_dir(&inner).unwrap();
    // The outer copy is "the machine": the quick start's service file, a line
    // added to a distribution file, and the pam-auth-update profile enabled.
    let script = format!(
        r#"
set -e
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive
cd {repo}
printf 'auth required pam_twostep.so\naccount required pam_permit.so\n' > /etc/pam.d/twostep-quickstart
echo '  auth  [success=ok default=die]  /usr/lib/security/pam_twostep.so debug' >> /etc/pam.d/login
install -D -m 0644 pam-config/pam-auth-update /usr/share/pam-configs/twostep
pam-auth-update --enable twostep
echo "== machine"; grep -l -E '^[^#]*pam_twostep' /etc/pam.d/* || true
echo "== machine uninstall"; ./install.sh --uninstall 2>&1 || echo "exit $?"
echo "== inner"
env -u OVERLAY_KEEP_PAM tests/e2e/overlay.sh {inner} /bin/sh -ec '
    cd {repo}
    echo "== loading"; grep -l -E "^[^#]*pam_twostep" /etc/pam.d/* || echo none
    echo "== kept"; grep -c . /etc/pam.d/login; grep -c pam_unix /etc/pam.d/common-auth
    echo "== profile again"; pam-auth-update --package; grep -c pam_twostep /etc/pam.d/common-auth || true
    echo "== uninstall"; ./install.sh --uninstall 2>&1
'
echo "== machine after"; grep -l -E '^[^#]*pam_twostep' /etc/pam.d/* || true
"#,
        repo = repo().display(),
        inner = inner.display(),
    );
    let out = std::process::Command::new(repo().join("tests/e2e/overlay.sh"))
        .env("OVERLAY_KEEP_PAM", "1")
        .arg(&outer)
        .args(["/bin/sh", "-c", &script])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let section = |name: &str| -> String {
        let start = text.find(&format!("== {name}\n")).unwrap_or_else(|| panic!("no {name}:\n{text}"));
        let rest = &text[start + name.len() + 4..];
        rest[..rest.find("\n== ").map_or(rest.len(), |i| i + 1)].to_string()
    };
    let machine = "/etc/pam.d/common-auth\n/etc/pam.d/login\n/etc/pam.d/twostep-quickstart\n";
    assert_eq!(section("machine"), machine, "the simulated machine loads the module:\n{text}");
    assert!(section("machine uninstall").contains("exit 1"), "and install.sh refuses there:\n{text}");
    assert_eq!(section("loading"), "none\n", "{text}");
    let kept: Vec<u32> = section("kept").lines().map(|l| l.parse().unwrap()).collect();
    assert!(kept[0] > 1 && kept[1] >= 1, "only the twostep lines were taken out:\n{text}");
    assert_eq!(section("profile again").trim(), "0", "the profile is off in the copy:\n{text}");
    assert!(section("uninstall").contains("install.sh: removed pam_twostep.so"), "{text}");
    assert_eq!(section("machine after"), machine, "the copy's changes stay in the copy:\n{text}");
}
