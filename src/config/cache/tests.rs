use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::*;
use crate::trusted_fs::private_tempdir;

const SHIPPED: &str = include_str!("../../../pam-config/twostep.toml");

/// Configs that between them set every kind of value there is.
fn examples() -> Vec<String> {
    vec![
        String::new(),
        SHIPPED.replace("# issuer = ", "issuer = "),
        SHIPPED.to_string(),
        "issuer = \"Schools of Ünterbach\"\n[email]\nfrom = \"IT desk <it@example.org>\"\n\
         address_template = \"{user}@example.org\"\n\
         [sms]\ncommand = [\"/usr/bin/sms-send\", \"{phone}\"]\n\
         [policy]\nrequired_groups = [\"staff\", \"admins\"]\nexempt_groups = [\"robots\"]\n\
         trusted_networks = [\"10.20.0.0/16\", \"2001:db8::/32\", \"192.0.2.7\"]\nenroll_methods = [\"email\", \"text\", \"app\"]\n\
         grace_logins = 3\nenroll_at_login = true\n\
         [services.sshd]\ntrusted_networks = []\n[services.cron]\nexempt = true\n"
            .to_string(),
        "issuer = \"X\"\n[store]\nbackend = \"ldap\"\n[ldap]\nuris = [\"ldaps://a.example\", \"ldap://b.example\"]\n\
         starttls = true\nca_file = \"/etc/ssl/ca.pem\"\nbase_dn = \"dc=x\"\nbind_dn = \"cn=s,dc=x\"\n\
         password_file = \"/etc/twostep/ldap.pw\"\ntimeout = 7\n"
            .to_string(),
    ]
}

fn parse(text: &str) -> (Config, bool) {
    Config::parse_noting_issuer(Path::new("/etc/security/twostep.toml"), text).unwrap()
}

fn some_id() -> FileId {
    let d = private_tempdir();
    let p = d.path().join("f");
    std::fs::write(&p, "x").unwrap();
    trusted_fs::file_id(&p).unwrap().unwrap()
}

#[test]
fn every_config_reads_back_as_it_was_written() {
    let id = some_id();
    let path = Path::new("/etc/security/twostep.toml");
    for text in examples() {
        let (config, from_host) = parse(&text);
        let host = from_host.then(|| config.issuer.clone());
        let bytes = encode(path, &id, host.as_deref(), &config);
        assert_eq!(decode(&bytes, path, &id, || host.clone()), Some(config), "{text}");
    }
}

#[test]
fn a_copy_is_only_for_its_file_its_build_and_its_host() {
    let id = some_id();
    let path = Path::new("/etc/security/twostep.toml");
    let (config, _) = parse("issuer = \"X\"");
    let bytes = encode(path, &id, None, &config);
    assert_eq!(decode(&bytes, Path::new("/etc/security/other.toml"), &id, || None), None, "another file");
    assert_eq!(decode(&bytes, path, &some_id(), || None), None, "the file changed");
    // Every shorter or longer copy, and every single damaged byte of the
    // header (magic, the build's source id, the path, the file's id), is refused.
    for n in 0..bytes.len() {
        assert_eq!(decode(&bytes[..n], path, &id, || None), None, "cut at {n}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(decode(&longer, path, &id, || None), None);
    let header = MAGIC.len() + 4 + SOURCE_ID.len() + 4 + path.as_os_str().len() + FileId::BYTES;
    for at in 0..header {
        let mut bad = bytes.clone();
        bad[at] ^= 0x20;
        assert_eq!(decode(&bad, path, &id, || None), None, "byte {at}");
    }
    // The issuer from the host's name holds only on a host of that name.
    let (config, from_host) = parse("");
    assert!(from_host);
    let bytes = encode(path, &id, Some(&config.issuer), &config);
    assert_eq!(decode(&bytes, path, &id, || Some(config.issuer.clone())).as_ref(), Some(&config));
    assert_eq!(decode(&bytes, path, &id, || Some("renamed".into())), None);
    assert_eq!(decode(&bytes, path, &id, || None), None);
}

struct Site {
    _dir: tempfile::TempDir,
    config: PathBuf,
    cache: PathBuf,
}

impl Site {
    fn new(text: &str) -> Site {
        let dir = private_tempdir();
        let config = dir.path().join("twostep.toml");
        std::fs::write(&config, text).unwrap();
        let cache = dir.path().join("run/config.cache");
        Site { _dir: dir, config, cache }
    }
    /// A login's read, with every file taken as settled.
    fn load(&self) -> Result<(Config, CacheUse), ConfigError> {
        load_settled(&self.config, Some(&self.cache), Owner::current(), -SETTLE_NS)
    }
    fn deny(&self) -> u32 {
        self.load().unwrap().0.lockout.deny
    }
}

#[test]
fn the_copy_is_made_used_and_replaced_when_the_file_changes() {
    let site = Site::new("issuer = \"X\"\n[lockout]\ndeny = 5\n");
    let (config, used) = site.load().unwrap();
    assert_eq!(used, CacheUse::Written);
    let mode = std::fs::metadata(&site.cache).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = std::fs::metadata(site.cache.parent().unwrap()).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);
    assert_eq!(site.load().unwrap(), (config, CacheUse::Hit));
    // The same size, written in place: the ctime moved.
    std::fs::write(&site.config, "issuer = \"X\"\n[lockout]\ndeny = 7\n").unwrap();
    assert_eq!(site.load().unwrap().1, CacheUse::Written);
    assert_eq!(site.deny(), 7);
    // Renamed over it.
    let next = site.config.with_extension("new");
    std::fs::write(&next, "issuer = \"X\"\n[lockout]\ndeny = 9\n").unwrap();
    std::fs::rename(&next, &site.config).unwrap();
    assert_eq!(site.deny(), 9);
    // A chmod alone is a change too (the copy is made again; nothing else differs).
    std::fs::set_permissions(&site.config, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert_eq!(site.load().unwrap().1, CacheUse::Written);
    assert_eq!(site.load().unwrap().1, CacheUse::Hit);
    let leftovers: Vec<_> =
        std::fs::read_dir(site.cache.parent().unwrap()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(leftovers.len(), 2, "the copy and its lock, no temp file: {leftovers:?}");
}

#[test]
fn a_file_that_changed_just_now_is_parsed_and_not_copied() {
    let site = Site::new("issuer = \"X\"\n");
    let (_, used) = load_settled(&site.config, Some(&site.cache), Owner::current(), SETTLE_NS).unwrap();
    assert_eq!(used, CacheUse::Settling);
    assert!(!site.cache.exists());
    let temp = site.cache.parent().unwrap().join(".config.cache.tmp");
    assert!(!temp.exists(), "the temp file is removed");
}

#[test]
fn a_broken_config_is_an_error_whatever_copy_there_is() {
    let site = Site::new("issuer = \"X\"\n[lockout]\ndeny = 5\n");
    assert_eq!(site.load().unwrap().1, CacheUse::Written);
    std::fs::write(&site.config, "issuer = \"X\"\n[lockout]\ndeny = \"five\"\n").unwrap();
    assert!(matches!(site.load(), Err(ConfigError::Parse { .. })), "{:?}", site.load());
    std::fs::set_permissions(&site.config, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert!(matches!(site.load(), Err(ConfigError::File(FsError::Insecure { .. }))));
    std::fs::remove_file(&site.config).unwrap();
    assert!(matches!(site.load(), Err(ConfigError::File(FsError::Missing(_)))));
}

#[test]
fn a_copy_or_directory_not_private_is_not_read_and_is_reported() {
    let site = Site::new("issuer = \"X\"\n[lockout]\ndeny = 5\n");
    site.load().unwrap();
    // A copy anyone may read: not used; replaced by a private one.
    std::fs::set_permissions(&site.cache, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (config, used) = site.load().unwrap();
    assert!(matches!(&used, CacheUse::Unusable(why) if why.contains("config.cache")), "{used:?}");
    assert_eq!(config.lockout.deny, 5);
    assert_eq!(site.load().unwrap().1, CacheUse::Hit);
    // A directory others may enter: never read or written, reported at every login.
    let dir = site.cache.parent().unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for _ in 0..2 {
        let (config, used) = site.load().unwrap();
        assert!(matches!(&used, CacheUse::Unusable(why) if why.contains("mode")), "{used:?}");
        assert_eq!(config.lockout.deny, 5);
    }
}

#[test]
fn a_damaged_copy_is_replaced_and_a_copy_that_cannot_be_written_costs_nothing_but_time() {
    let site = Site::new("issuer = \"X\"\n[lockout]\ndeny = 5\n");
    site.load().unwrap();
    let mut bytes = std::fs::read(&site.cache).unwrap();
    bytes.truncate(bytes.len() - 3);
    std::fs::write(&site.cache, &bytes).unwrap();
    assert_eq!(site.load().unwrap().1, CacheUse::Written);
    assert_eq!(site.load().unwrap().1, CacheUse::Hit);
    // Its directory cannot be made (a file is in the way).
    let blocked = Site::new("issuer = \"X\"\n");
    std::fs::write(blocked.cache.parent().unwrap(), "").unwrap();
    let (config, used) = blocked.load().unwrap();
    assert_eq!(config.issuer, "X");
    assert!(matches!(used, CacheUse::Unusable(_) | CacheUse::NotWritten(_)), "{used:?}");
    // No cache asked for: the file, parsed.
    let (config, used) = load_with(&site.config, None, Owner::current()).unwrap();
    assert_eq!((config.lockout.deny, used), (5, CacheUse::Off));
}

#[test]
fn the_copy_path_splits_as_path_does() {
    for p in ["/run/twostep/config.cache", "/c", "/a/b/c.d", "/run//x"] {
        let path = Path::new(p);
        let (dir, name) = split(path).unwrap();
        assert_eq!((dir, Some(std::ffi::OsStr::new(name))), (path.parent().unwrap(), path.file_name()), "{p}");
    }
    for p in ["/", "/run/", "/run/..", "/run/."] {
        assert_eq!(split(Path::new(p)), None, "{p}");
    }
}

#[test]
fn a_held_lock_is_not_waited_for() {
    let site = Site::new("issuer = \"X\"\n[lockout]\ndeny = 5\n");
    site.load().unwrap();
    std::fs::remove_file(&site.cache).unwrap();
    let dir = site.cache.parent().unwrap();
    // Another login stopped while it writes the copy (SIGSTOP to su).
    let held = trusted_fs::lock(dir, "config.cache", Owner::current()).unwrap();
    let (config, used) = site.load().unwrap();
    assert_eq!((config.lockout.deny, used), (5, CacheUse::Busy), "parsed, not waited for");
    assert!(!site.cache.exists());
    drop(held);
    assert_eq!(site.load().unwrap().1, CacheUse::Written);
}
