//! Links the unwinder (libgcc_eh) into the module instead of depending on
//! libgcc_s.so.1: sshd does not load libgcc_s, so with the dependency every
//! connection loaded and unloaded a second shared library along with
//! pam_twostep.so (about 80 µs of a login's wall time; docs/benchmarks.md).
//! Found through the C compiler, as gcc itself finds it.
//!
//! Also names the source the module is built from (`TWOSTEP_SOURCE_ID`, a
//! hash of `src/`, `Cargo.toml` and `Cargo.lock`): the compiled config a
//! login keeps (src/config/cache.rs) is only read back by a module built from
//! the same source, so an upgrade never reads a copy laid out, defaulted or
//! checked by other code.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    source_id();
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux")
        || std::env::var("CARGO_CFG_TARGET_ENV").as_deref() != Ok("gnu")
    {
        return;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let Ok(out) = Command::new(cc).arg("-print-file-name=libgcc_eh.a").output() else { return };
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let path = std::path::Path::new(&path);
    // Without an absolute answer gcc did not find it: keep the default (libgcc_s).
    if let (true, Some(dir)) = (path.is_absolute() && path.exists(), path.parent()) {
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-lib=static=gcc_eh");
    }
}

/// FNV-1a (64 bits) over the names, sizes and contents of the source files, in name order.
fn source_id() {
    let mut files = vec![Path::new("Cargo.toml").to_path_buf(), Path::new("Cargo.lock").to_path_buf()];
    let mut dirs = vec![Path::new("src").to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable").flatten() {
            let path = entry.path();
            if path.is_dir() { dirs.push(path) } else { files.push(path) }
        }
    }
    files.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            hash = (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for file in &files {
        // A missing Cargo.lock (a fresh checkout of a library) hashes as empty.
        let data = std::fs::read(file).unwrap_or_default();
        eat(file.to_string_lossy().as_bytes());
        eat(&(data.len() as u64).to_le_bytes());
        eat(&data);
    }
    for watched in ["src", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={watched}");
    }
    println!("cargo:rustc-env=TWOSTEP_SOURCE_ID={hash:016x}");
}
