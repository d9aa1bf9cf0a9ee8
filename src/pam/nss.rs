//! The module's NSS lookup of the login's user: `getpwnam_r` into a buffer
//! on the stack, copying out only the name and the uid ([`crate::user::Nss`],
//! through `nix`, makes owned copies of every field of the entry, a few
//! thousand instructions and six allocations per login). Everything else, and
//! what an error means ([`crate::user::passwd_error`]), is the admin command's
//! [`crate::user::Nss`]; this is the same lookup, answered the same way.

use std::ffi::{CStr, CString, c_char};
use std::mem::MaybeUninit;

use nix::errno::Errno;

use crate::user::{self, Account, Accounts, AccountsError};

/// Room for the entry's strings on the stack: what glibc suggests
/// (`_SC_GETPW_R_SIZE_MAX` is 1024) with room to spare; a bigger entry is
/// asked for again on the heap, doubling as `nix` does, up to [`MOST`].
const ON_STACK: usize = 4096;
/// The largest buffer tried; an entry that needs more is an error (`ERANGE`), as with `nix`.
const MOST: usize = 1 << 20;

/// [`crate::user::Nss`] with the lookup of the name made here.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Nss;

impl Accounts for Nss {
    fn lookup(&self, name: &str) -> Result<Option<Account>, AccountsError> {
        match getpwnam(name) {
            Ok(found) => Ok(found),
            Err(errno) => user::passwd_error(name, errno),
        }
    }

    fn groups(&self, name: &str) -> Result<Option<Vec<String>>, AccountsError> {
        user::Nss.groups(name)
    }
}

/// `getpwnam_r(name)`: the canonical name and uid, `Ok(None)` when there is no
/// entry (or the name holds a NUL, which no entry can have), else the error.
fn getpwnam(name: &str) -> Result<Option<Account>, Errno> {
    // The name as a C string, on the stack when it is short (user names are).
    let mut short = [0u8; 128];
    let long;
    let name: &CStr = if name.len() < short.len() {
        short[..name.len()].copy_from_slice(name.as_bytes());
        match CStr::from_bytes_until_nul(&short) {
            Ok(c) if c.count_bytes() == name.len() => c,
            _ => return Ok(None),
        }
    } else {
        let Ok(c) = CString::new(name) else { return Ok(None) };
        long = c;
        &long
    };
    let mut stack = [MaybeUninit::<c_char>::uninit(); ON_STACK];
    let mut result = getpwnam_into(name, &mut stack);
    let mut size = ON_STACK;
    while result == Err(Errno::ERANGE) && size < MOST {
        size = (size * 2).min(MOST);
        result = getpwnam_into(name, &mut vec![MaybeUninit::uninit(); size]);
    }
    result
}

/// One `getpwnam_r` call with `buf` for the entry's strings.
fn getpwnam_into(name: &CStr, buf: &mut [MaybeUninit<c_char>]) -> Result<Option<Account>, Errno> {
    let mut pwd = MaybeUninit::<libc::passwd>::uninit();
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call: `name` is a NUL-terminated
    // string, `pwd` and `found` are writable, and `buf` is `buf.len()`
    // writable bytes, which getpwnam_r fills with the entry's strings (it
    // never reads them before writing).
    let rc =
        unsafe { libc::getpwnam_r(name.as_ptr(), pwd.as_mut_ptr(), buf.as_mut_ptr().cast(), buf.len(), &mut found) };
    if rc != 0 {
        return Err(Errno::from_raw(rc));
    }
    if found.is_null() {
        return Ok(None);
    }
    // SAFETY: getpwnam_r returned 0 with a non-null result, so it initialised
    // `pwd`, whose string pointers are null or point into `buf` (borrowed
    // until this returns, not written since).
    let pwd = unsafe { pwd.assume_init() };
    let name = if pwd.pw_name.is_null() {
        String::new()
    } else {
        // SAFETY: a non-null pw_name is a NUL-terminated string in `buf` (above).
        String::from_utf8_lossy(unsafe { CStr::from_ptr(pwd.pw_name) }.to_bytes()).into_owned()
    };
    Ok(Some(Account { name, uid: pwd.pw_uid }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lookup_is_the_admin_commands() {
        let long = "r".repeat(300);
        for name in ["root", "nobody", "twostep-no-such-user", "a\0b", "", "root\0", &long, &long[..127], &long[..128]]
        {
            assert_eq!(Nss.lookup(name), user::Nss.lookup(name), "{name:?}");
        }
    }
}
