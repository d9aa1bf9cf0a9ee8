//! The user's directory lock, `twostepLock`: taken by adding it (which fails
//! while another login holds it), a lease that ran out taken over by a
//! compare-and-swap, waits with a random backoff, and released at the end of
//! the change (best effort: an unreleased lock runs out with its lease).

use std::time::{SystemTime, UNIX_EPOCH};

use super::DirectoryStore;
use super::attr;
use super::client::code;
use super::ldif::Modify;
use crate::store::error::{DirectoryError, StoreError};

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl DirectoryStore {
    /// Seconds a lock is held at most before another login may take it over.
    fn lease(&self) -> u64 {
        4 * self.cfg().timeout + 10
    }

    pub(super) fn acquire(&self, dn: &str) -> Result<String, StoreError> {
        let host = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
        let mut nonce = [0u8; 6];
        crate::secret::fill_random(&mut nonce).map_err(|e| DirectoryError::Local(e.to_string()))?;
        let holder: String =
            format!("{host}/{}/{}", std::process::id(), hex(&nonce)).chars().filter(|c| c.is_ascii_graphic()).collect();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(self.cfg().timeout);
        let mut added_class = false;
        let mut pause = LOCK_POLL_FIRST_MS;
        loop {
            let token = format!("{holder} {}", now_secs() + self.lease());
            let mut m = Modify::new(dn);
            m.add(attr::LOCK, token.as_bytes());
            match self.client.modify(&m.ldif) {
                Ok(()) => return Ok(token),
                Err(DirectoryError::Refused { code: code::OBJECT_CLASS_VIOLATION, .. }) if !added_class => {
                    added_class = true;
                    let mut m = Modify::new(dn);
                    m.add("objectClass", attr::CLASS_TWOSTEP.as_bytes());
                    match self.client.modify(&m.ldif) {
                        Ok(()) | Err(DirectoryError::Refused { code: code::TYPE_OR_VALUE_EXISTS, .. }) => {}
                        Err(e) => return Err(e.into()),
                    }
                    continue;
                }
                Err(DirectoryError::Refused {
                    code: code::TYPE_OR_VALUE_EXISTS | code::CONSTRAINT_VIOLATION, ..
                }) => {}
                Err(e) => return Err(e.into()),
            }
            // Held by someone: take it over when the lease ran out, else wait.
            let current = self.client.search(dn, "base", "(objectClass=*)", &[attr::LOCK])?;
            let held = current.first().and_then(|e| e.text(attr::LOCK));
            if let Some(held) = &held {
                let expires = held.rsplit(' ').next().and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
                if expires < now_secs() {
                    let mut m = Modify::new(dn);
                    m.replace(attr::LOCK, Some(held.as_bytes()), Some(token.as_bytes()));
                    match self.client.modify(&m.ldif) {
                        Ok(()) => return Ok(token),
                        Err(DirectoryError::Refused { code: code::NO_SUCH_ATTRIBUTE, .. }) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            if std::time::Instant::now() >= deadline {
                let holder = held.unwrap_or_default();
                return Err(DirectoryError::Busy { dn: dn.to_string(), holder }.into());
            }
            std::thread::sleep(backoff(&mut pause));
        }
    }

    /// Best effort: a lock that cannot be removed runs out with its lease.
    pub(super) fn release(&self, dn: &str, token: &str) {
        let mut m = Modify::new(dn);
        m.delete(attr::LOCK, token.as_bytes());
        let _ = self.client.modify(&m.ldif);
    }
}

/// The first wait for a held lock, and the longest (milliseconds).
const LOCK_POLL_FIRST_MS: u64 = 10;
const LOCK_POLL_MAX_MS: u64 = 160;

/// How long to wait before asking for a held lock again: doubling from
/// [`LOCK_POLL_FIRST_MS`] up to [`LOCK_POLL_MAX_MS`], each wait drawn at random
/// between half and all of it, so that logins waiting together (30 wrong codes
/// at once) do not ask in step and every try costs two child processes.
fn backoff(pause: &mut u64) -> std::time::Duration {
    let mut r = [0u8; 2];
    let jitter = if crate::secret::fill_random(&mut r).is_ok() { u64::from(u16::from_le_bytes(r)) } else { 0 };
    let wait = *pause / 2 + jitter % (*pause / 2 + 1);
    *pause = (*pause * 2).min(LOCK_POLL_MAX_MS);
    std::time::Duration::from_millis(wait)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
