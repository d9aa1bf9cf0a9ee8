//! What the model knows of modules by name: the module itself, the modules
//! that check a password, and those that do not judge the user (see
//! [`super::stack::Handler::outcomes`]).

/// File names of the module: the installed one and the one cargo builds
/// (`target/*/libpam_twostep.so`, used from a checkout and by the tests).
pub(super) const MODULE_NAMES: [&str; 2] = ["pam_twostep.so", "libpam_twostep.so"];

/// Modules that check a password: with a wrong one they fail.
pub(super) const PASSWORD_MODULES: [&str; 10] = [
    "pam_unix.so",
    "pam_unix2.so",
    "pam_sss.so",
    "pam_ldap.so",
    "pam_krb5.so",
    "pam_winbind.so",
    "pam_userdb.so",
    "pam_radius_auth.so",
    "pam_pwdb.so",
    "pam_lsass.so",
];

/// Modules that do not judge the user in the auth stack: they say yes.
pub(super) const NEUTRAL_MODULES: [&str; 13] = [
    "pam_env.so",
    "pam_faildelay.so",
    "pam_nologin.so",
    "pam_securetty.so",
    "pam_group.so",
    "pam_cap.so",
    "pam_gnome_keyring.so",
    "pam_kwallet5.so",
    "pam_mount.so",
    "pam_ecryptfs.so",
    "pam_echo.so",
    "pam_shells.so",
    "pam_mail.so",
];
