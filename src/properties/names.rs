//! User names and the file names they are kept under ([`user_name`],
//! [`file_name_canonical`]): safe, reversible, one file per name.

use std::path::{Component, Path};

use crate::user;

/// What [`user::file_name`] accepts becomes a safe file name (one normal path
/// component, no `/`, no NUL, no leading `.`, at most [`user::MAX_FILE_NAME`]
/// bytes) that [`user::from_file_name`] turns back into the name; what it
/// refuses is empty, too long, or too long once encoded.
pub fn user_name(name: &str) {
    match user::file_name(name) {
        Ok(f) => {
            assert!(!f.is_empty() && f.len() <= user::MAX_FILE_NAME, "{name:?} -> {f:?}");
            assert!(!f.contains('/') && !f.contains('\0') && !f.starts_with('.'), "{name:?} -> {f:?}");
            let parts: Vec<Component<'_>> = Path::new(&f).components().collect();
            assert!(matches!(parts[..], [Component::Normal(c)] if c == f.as_str()), "{name:?} -> {f:?}");
            assert!(format!(".{f}.lock").len() <= 255, "the lock file name is too long: {f:?}");
            assert_eq!(user::from_file_name(&f).as_deref(), Some(name), "round trip of {name:?} via {f:?}");
        }
        Err(user::UserNameError::Empty) => assert!(name.is_empty()),
        Err(user::UserNameError::TooLong(n)) => assert!(n == name.len() && n > user::MAX_USER_LEN),
        Err(user::UserNameError::EncodesTooLong(n)) => {
            assert!(name.len() <= user::MAX_USER_LEN && n > user::MAX_FILE_NAME, "{name:?}: {n}")
        }
    }
}

/// Two different accepted names never share a file.
pub fn user_names_injective(a: &str, b: &str) {
    if let (Ok(fa), Ok(fb)) = (user::file_name(a), user::file_name(b)) {
        assert_eq!(fa == fb, a == b, "{a:?} -> {fa:?}, {b:?} -> {fb:?}");
    }
}

/// [`user::from_file_name`] accepts only the file names [`user::file_name`]
/// writes ("not canonical: we never write it this way"), so two files never
/// stand for one user and every listed user can be read back.
pub fn file_name_canonical(file: &str) {
    if let Some(name) = user::from_file_name(file) {
        assert_eq!(user::file_name(&name).ok().as_deref(), Some(file), "{file:?} was read as the user {name:?}");
    }
}

/// The fuzz input for the user-name target: the whole input as a name and as
/// a file name, and, split at the first NUL, two names for injectivity.
pub fn user_names_from_bytes(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    user_name(text);
    if let Some((a, b)) = text.split_once('\0') {
        user_name(a);
        user_name(b);
        user_names_injective(a, b);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::properties::proptest_config;

    /// Names people and directories use, and the ones that try to escape.
    fn user_names() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z][a-z0-9._-]{0,15}",
            "[A-Za-z0-9._@+%/\\\\ -]{0,24}",
            "\\.{1,3}(/[a-z.]{0,4}){0,3}",
            any::<String>(),
            "[a-zé%]{240,260}",
            "[\u{0}-\u{7f}]{0,16}",
        ]
    }

    /// File names: what `file_name` writes, changed a little, and anything.
    fn file_names() -> impl Strategy<Value = String> {
        prop_oneof!["([A-Za-z0-9._@+-]|%[0-9A-Fa-f+-]{2}){0,12}", "\\.?[a-z%+0-9]{0,10}(\\.lock)?", any::<String>(),]
    }

    proptest! {
        #![proptest_config(proptest_config())]

        #[test]
        fn user_names_round_trip_to_safe_file_names(name in user_names()) {
            user_name(&name);
        }

        #[test]
        fn different_user_names_have_different_files(a in user_names(), b in user_names()) {
            user_names_injective(&a, &b);
            user_names_injective(&a, &a.to_uppercase());
        }

        #[test]
        fn file_names_are_read_only_in_the_form_twostep_writes(file in file_names()) {
            file_name_canonical(&file);
        }
    }

    /// Found by the `user_name` fuzz target: `u8::from_str_radix` takes a
    /// leading `+`, so `%+5` is read as the byte 5, the user `file_name` writes as `%05`.
    #[test]
    fn from_file_name_refuses_a_signed_escape() {
        file_name_canonical("%+5");
    }

    /// `from_file_name` does not check the length: a 250-byte name in the
    /// directory is listed as a user whose file `file_name` refuses to name.
    #[test]
    fn from_file_name_refuses_a_name_too_long_to_be_ours() {
        file_name_canonical(&"a".repeat(user::MAX_FILE_NAME + 1));
    }

    #[test]
    fn file_names_twostep_writes_are_read_back() {
        for f in ["alice", "%2E.%2Fx", "DOMAIN%5Cbob", "%C3%A9lodie", "a%20b%0A"] {
            file_name_canonical(f);
        }
    }
}
