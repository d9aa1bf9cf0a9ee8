//! The compiled config (`config_cache=`, `/run/twostep/config.cache` for the
//! default config): the validated [`Config`] a login parsed, kept for the
//! next logins, so that they read a kilobyte of fixed fields instead of
//! parsing the commented TOML file (about 50,000 instructions a login,
//! docs/benchmarks.md).
//!
//! The copy is only used for the file it was made from, unchanged: it holds
//! the config's path and [`FileId`] (device, inode, size, mtime and ctime to
//! the nanosecond) and is used only when the file opened now has the same.
//! Every change of the file (a write, a rename over it, `chmod`, `chown`)
//! moves its ctime, which no one but the kernel sets. What could still slip
//! through is a change within the same tick of the file system's clock as
//! the state that was copied: so the copy is only made of a file that last
//! changed more than [`SETTLE_NS`] before the copy's own temp file was
//! created (the kernel's file clock, not the process's), and the file is
//! read after that. A file changed since then has a later ctime, unseen
//! changes are impossible, and a fresh edit is parsed on every login until
//! it has settled.
//!
//! It is as trusted as the config: a root-owned 0600 file in a root-only
//! 0700 directory, read with the safe open, replaced atomically under a lock
//! no login waits for (one that finds it held parses the file and goes on).
//! It is used only by a module built from the same source (`TWOSTEP_SOURCE_ID`),
//! and, when the issuer defaults to the host's name, on a host of the same
//! name. Anything else (absent, stale, damaged, another build) means the
//! file is parsed, exactly as without a copy, and the copy replaced; a
//! copy or directory that fails the ownership rules is not read and is
//! reported ([`CacheUse::Unusable`]). A copy that cannot be written costs
//! speed, never a login.

mod codec;

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{Config, ConfigError};
use crate::trusted_fs::{self, Durability, FileId, FsError, Owner, Trust, TrustedFile};
use codec::{Reader, Snap, Writer};

/// Where the module keeps the compiled copy of the default config.
pub const DEFAULT_CACHE: &str = "/run/twostep/config.cache";

/// A config that changed less than this before a copy would be made is not
/// copied yet (two seconds: more than the coarsest clock of a Linux file
/// system, FAT's).
pub const SETTLE_NS: i128 = 2_000_000_000;

const MAGIC: &[u8; 8] = b"twostepC";
/// The source the module was built from (`build.rs`).
const SOURCE_ID: &str = env!("TWOSTEP_SOURCE_ID");
/// A copy is about a kilobyte; anything much larger is not one.
pub const MAX_CACHE_FILE: u64 = 64 * 1024;

/// What the login did with the compiled copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheUse {
    /// No copy is kept for this config.
    Off,
    /// The copy was used; the file was not parsed.
    Hit,
    /// The file was parsed and the copy made.
    Written,
    /// The file was parsed; it changed too recently to be copied.
    Settling,
    /// The file was parsed; another login holds the copy's lock (is writing
    /// it, or was stopped while it did), so this one did not wait for it.
    Busy,
    /// The file was parsed; the copy could not be written (not trusted or
    /// not possible, e.g. a read-only file system): the reason, for the debug log.
    NotWritten(String),
    /// The file was parsed; the copy or its directory failed the ownership
    /// rules and was not read: the reason, for a warning.
    Unusable(String),
}

impl Config {
    /// [`Config::load`], through the compiled copy at `cache` when given
    /// (the module; `twostep` always parses).
    pub fn load_cached(path: &Path, cache: Option<&Path>) -> Result<(Config, CacheUse), ConfigError> {
        load_with(path, cache, Owner::ROOT)
    }
}

/// The config at `path` (owned by `owner`, as the copy must be).
pub(super) fn load_with(path: &Path, cache: Option<&Path>, owner: Owner) -> Result<(Config, CacheUse), ConfigError> {
    load_settled(path, cache, owner, SETTLE_NS)
}

/// [`load_with`], copying only a file that changed `settle_ns` before the copy.
fn load_settled(
    path: &Path,
    cache: Option<&Path>,
    owner: Owner,
    settle_ns: i128,
) -> Result<(Config, CacheUse), ConfigError> {
    let file = trusted_fs::open_trusted(path, Trust::Protected(owner), trusted_fs::MAX_CONFIG_FILE)
        .map_err(ConfigError::File)?
        .ok_or_else(|| ConfigError::File(FsError::Missing(path.to_path_buf())))?;
    let Some((cache, (dir, name))) = cache.and_then(|c| Some((c, split(c)?))) else {
        return Ok((parse_file(path, file)?.0, CacheUse::Off));
    };
    let unusable = match read_copy(cache, dir, owner, path, &file.id) {
        Ok(Some(config)) => return Ok((config, CacheUse::Hit)),
        Ok(None) => None,
        Err(e) => Some(e.to_string()),
    };
    let mut file = Some(file);
    let mut parsed = None;
    let written = (|| {
        trusted_fs::ensure_private_dir(dir, owner)?;
        // Another login is writing it (or was stopped, SIGSTOP, while it did):
        // this one parses and goes on, waiting for nobody.
        let Some(_lock) = trusted_fs::try_lock(dir, name, owner)? else {
            return Ok(None);
        };
        trusted_fs::write_atomic_made(dir, name, Durability::Deferred, |staged| {
            let created = staged.created_ns();
            let file = file.take()?;
            let id = file.id_now();
            let result = parse_file(path, file);
            let copy = match (created, &id, &result) {
                (Some(created), Ok(id), Ok((config, from_host))) if id.changed_before(created, settle_ns) => {
                    // A defaulted issuer is the host's name.
                    Some(encode(path, id, from_host.then_some(config.issuer.as_str()), config))
                }
                _ => None,
            };
            parsed = Some(result.map(|(config, _)| config));
            copy
        })
        .map(Some)
    })();
    let config = match (parsed, file) {
        (Some(result), _) => result?,
        (None, Some(file)) => parse_file(path, file)?.0,
        (None, None) => unreachable!("the file is parsed once: before or inside the write"),
    };
    let used = match (unusable, written) {
        (Some(why), _) => CacheUse::Unusable(why),
        (None, Ok(Some(true))) => CacheUse::Written,
        (None, Ok(Some(false))) => CacheUse::Settling,
        (None, Ok(None)) => CacheUse::Busy,
        (None, Err(e @ FsError::Insecure { .. })) => CacheUse::Unusable(e.to_string()),
        (None, Err(e)) => CacheUse::NotWritten(e.to_string()),
    };
    Ok((config, used))
}

/// The directory and the file name of an absolute file path (`Path::parent`
/// and `file_name` parse every component, several hundred instructions).
pub(crate) fn split(path: &Path) -> Option<(&Path, &str)> {
    let bytes = path.as_os_str().as_bytes();
    let slash = bytes.iter().rposition(|&b| b == b'/')?;
    let name = std::str::from_utf8(&bytes[slash + 1..]).ok().filter(|n| !n.is_empty() && *n != "." && *n != "..")?;
    let dir = if slash == 0 { &bytes[..1] } else { &bytes[..slash] };
    Some((Path::new(std::ffi::OsStr::from_bytes(dir)), name))
}

/// Reads and parses the opened config; also says whether the issuer is the host's name.
fn parse_file(path: &Path, file: TrustedFile<'_>) -> Result<(Config, bool), ConfigError> {
    let bytes = file.read_all().map_err(ConfigError::File)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ConfigError::Parse { path: path.to_path_buf(), message: "the file is not valid UTF-8".into() })?;
    Config::parse_noting_issuer(path, text)
}

/// The copy of the file `path` with `id`, if there is one for it made by this
/// build (on a host of the same name, when the issuer is its name).
fn read_copy(cache: &Path, dir: &Path, owner: Owner, path: &Path, id: &FileId) -> Result<Option<Config>, FsError> {
    match trusted_fs::check_dir(dir, Trust::Private(owner)) {
        Err(FsError::Missing(_)) => return Ok(None),
        checked => checked?,
    }
    let Some(bytes) = trusted_fs::read_trusted(cache, Trust::Private(owner), MAX_CACHE_FILE)? else {
        return Ok(None);
    };
    Ok(decode(&bytes, path, id, super::issuer::host_name))
}

/// The copy's bytes: what it is for, then the config.
fn encode(path: &Path, id: &FileId, host: Option<&str>, config: &Config) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(1024));
    w.raw(MAGIC);
    w.bytes(SOURCE_ID.as_bytes());
    w.bytes(path.as_os_str().as_bytes());
    w.raw(&id.to_bytes());
    host.map(str::to_owned).put(&mut w);
    config.put(&mut w);
    w.0
}

/// The config in `bytes`, when they are a whole copy of `path` as it is
/// (`id`; `host` tells the host's name, asked only when the issuer was it)
/// made by this build.
fn decode(bytes: &[u8], path: &Path, id: &FileId, host: impl FnOnce() -> Option<String>) -> Option<Config> {
    let mut r = Reader(bytes);
    let ours = r.raw(MAGIC.len())? == MAGIC
        && r.bytes()? == SOURCE_ID.as_bytes()
        && r.bytes()? == path.as_os_str().as_bytes()
        && r.raw(FileId::BYTES)? == id.to_bytes();
    if !ours {
        return None;
    }
    if bool::take(&mut r)? {
        let copied = r.bytes()?;
        if host()?.as_bytes() != copied {
            return None;
        }
    }
    decode_config(r.0)
}

/// The bytes of `config` in a copy (after the header): for the fuzz target
/// and the property tests (src/properties/config.rs).
pub fn encode_config(config: &Config) -> Vec<u8> {
    let mut w = Writer::default();
    config.put(&mut w);
    w.0
}

/// The config `bytes` hold whole (what [`encode_config`] made), `None` for
/// anything else.
pub fn decode_config(bytes: &[u8]) -> Option<Config> {
    let mut r = Reader(bytes);
    let config = Config::take(&mut r)?;
    r.0.is_empty().then_some(config)
}

#[cfg(test)]
mod tests;
