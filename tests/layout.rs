//! The shape of the source tree that the design relies on, checked on the
//! text of the code: the admin command never reaches into the login flow or
//! the PAM glue, and `unsafe` stays behind the fence in `src/pam/`.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Lines of `file` that are code (not comments), with their numbers.
fn code_lines(file: &Path) -> Vec<(usize, String)> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l.to_string()))
        .collect()
}

#[test]
fn the_admin_command_never_uses_the_login_flow_or_the_pam_glue() {
    let mut found = Vec::new();
    for file in rust_files(&src().join("cli")) {
        for (n, line) in code_lines(&file) {
            if line.contains("crate::auth") || line.contains("crate::pam") || line.contains("super::super::auth") {
                found.push(format!("{}:{n}: {}", file.display(), line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "src/cli/ must not import the login flow or the PAM glue:\n{}", found.join("\n"));
}

#[test]
fn unsafe_code_is_denied_for_the_crate_and_allowed_only_in_src_pam() {
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    assert!(manifest.contains("unsafe_code = \"deny\""), "Cargo.toml [lints.rust] must deny unsafe_code");
    let mut found = Vec::new();
    for file in rust_files(&src()) {
        if file.starts_with(src().join("pam")) {
            continue;
        }
        for (n, line) in code_lines(&file) {
            if line.contains("allow(unsafe_code)") || line.contains("unsafe {") || line.contains("unsafe fn") {
                found.push(format!("{}:{n}: {}", file.display(), line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "unsafe outside src/pam/:\n{}", found.join("\n"));
}
