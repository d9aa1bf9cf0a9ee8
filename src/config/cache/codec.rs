//! The bytes of a compiled [`Config`]: each value in the order of its
//! struct's fields, integers little-endian, lengths as `u32`, strings and
//! paths as their bytes. No names, no versions: the file is only read back by
//! a module built from the same source (`build.rs`, `TWOSTEP_SOURCE_ID`), and
//! every struct is written and read by one list of its fields ([`fields!`]),
//! which must name them all (a field added to a struct and not here does not
//! compile). A reader that runs out of bytes, finds a bad tag or bad UTF-8
//! gives `None`, never a guess.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::super::{
    Backend, Cidr, Config, EmailConfig, EnrollMethod, LdapConfig, LockoutConfig, PolicyConfig, SmsConfig, TotpConfig,
};
use crate::address::Sender;

/// Bytes being written.
#[derive(Default)]
pub(super) struct Writer(pub(super) Vec<u8>);

impl Writer {
    pub(super) fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// A length or count. Everything here comes from a config file of at most
    /// a mebibyte, so it fits.
    pub(super) fn len(&mut self, n: usize) {
        self.raw(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
    }

    pub(super) fn bytes(&mut self, bytes: &[u8]) {
        self.len(bytes.len());
        self.raw(bytes);
    }
}

/// Bytes being read, front first.
pub(super) struct Reader<'a>(pub(super) &'a [u8]);

impl<'a> Reader<'a> {
    pub(super) fn raw(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (front, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(front)
    }

    pub(super) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.raw(N)?.try_into().ok()
    }

    /// A length or count; never more than the bytes left (every element takes
    /// at least one), so a damaged count cannot ask for a huge allocation.
    pub(super) fn len(&mut self) -> Option<usize> {
        let n = usize::try_from(u32::from_le_bytes(self.array()?)).ok()?;
        (n <= self.0.len()).then_some(n)
    }

    pub(super) fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.len()?;
        self.raw(n)
    }
}

/// A value that can be written and read back.
pub(super) trait Snap: Sized {
    fn put(&self, w: &mut Writer);
    fn take(r: &mut Reader<'_>) -> Option<Self>;
}

impl Snap for u8 {
    fn put(&self, w: &mut Writer) {
        w.raw(&[*self]);
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        Some(r.array::<1>()?[0])
    }
}

impl Snap for u32 {
    fn put(&self, w: &mut Writer) {
        w.raw(&self.to_le_bytes());
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        Some(u32::from_le_bytes(r.array()?))
    }
}

impl Snap for u64 {
    fn put(&self, w: &mut Writer) {
        w.raw(&self.to_le_bytes());
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        Some(u64::from_le_bytes(r.array()?))
    }
}

impl Snap for bool {
    fn put(&self, w: &mut Writer) {
        u8::from(*self).put(w);
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        match u8::take(r)? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
}

impl Snap for String {
    fn put(&self, w: &mut Writer) {
        w.bytes(self.as_bytes());
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        String::from_utf8(r.bytes()?.to_vec()).ok()
    }
}

impl Snap for PathBuf {
    fn put(&self, w: &mut Writer) {
        w.bytes(self.as_os_str().as_bytes());
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        Some(PathBuf::from(OsString::from_vec(r.bytes()?.to_vec())))
    }
}

impl Snap for Arc<Path> {
    fn put(&self, w: &mut Writer) {
        w.bytes(self.as_os_str().as_bytes());
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        Some(Arc::from(Path::new(OsStr::from_bytes(r.bytes()?))))
    }
}

impl<T: Snap> Snap for Option<T> {
    fn put(&self, w: &mut Writer) {
        self.is_some().put(w);
        if let Some(v) = self {
            v.put(w);
        }
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        Some(if bool::take(r)? { Some(T::take(r)?) } else { None })
    }
}

impl<T: Snap> Snap for Vec<T> {
    fn put(&self, w: &mut Writer) {
        w.len(self.len());
        self.iter().for_each(|v| v.put(w));
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        let n = r.len()?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(T::take(r)?);
        }
        Some(out)
    }
}

impl<T: Snap> Snap for BTreeMap<String, T> {
    fn put(&self, w: &mut Writer) {
        w.len(self.len());
        for (k, v) in self {
            k.put(w);
            v.put(w);
        }
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        let n = r.len()?;
        (0..n).map(|_| Some((String::take(r)?, T::take(r)?))).collect()
    }
}

impl Snap for EnrollMethod {
    fn put(&self, w: &mut Writer) {
        let tag: u8 = match self {
            EnrollMethod::App => 0,
            EnrollMethod::Text => 1,
            EnrollMethod::Email => 2,
        };
        tag.put(w);
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        [EnrollMethod::App, EnrollMethod::Text, EnrollMethod::Email].get(usize::from(u8::take(r)?)).copied()
    }
}

impl Snap for Backend {
    fn put(&self, w: &mut Writer) {
        matches!(self, Backend::Ldap).put(w);
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        Some(if bool::take(r)? { Backend::Ldap } else { Backend::Files })
    }
}

/// A network as its text, read back through the parser that checked it.
impl Snap for Cidr {
    fn put(&self, w: &mut Writer) {
        self.to_string().put(w);
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        String::take(r)?.parse().ok()
    }
}

/// `Snap` for a struct, by the list of all its fields, in one order for both ways.
macro_rules! fields {
    ($t:ident { $($f:ident),* $(,)? }) => {
        impl Snap for $t {
            fn put(&self, w: &mut Writer) {
                let $t { $($f),* } = self;
                $( $f.put(w); )*
            }
            fn take(r: &mut Reader<'_>) -> Option<Self> {
                // Struct expressions evaluate their fields in the order written.
                Some($t { $( $f: Snap::take(r)? ),* })
            }
        }
    };
}

fields!(Sender { name, address });
fields!(TotpConfig { digits, period, skew });
fields!(LockoutConfig { deny, fail_interval, unlock_time, even_deny_root, answer_timeout });
fields!(EmailConfig { command, from, code_valid, resend_after, timeout, address_template });
fields!(SmsConfig { command, code_valid, resend_after, timeout });
fields!(PolicyConfig {
    required,
    grace_logins,
    enroll_at_login,
    enroll_methods,
    required_groups,
    exempt_groups,
    trusted_networks,
    exempt,
});
fields!(LdapConfig {
    uris,
    base_dn,
    user_filter,
    user_attribute,
    bind_dn,
    password_file,
    starttls,
    ca_file,
    totp_params_dn,
    timeout,
});
fields!(Config { issuer, secrets_dir, tally_dir, totp, lockout, email, sms, policy, services, backend, ldap });
