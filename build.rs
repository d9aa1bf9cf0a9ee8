//! Links the unwinder (libgcc_eh) into the module instead of depending on
//! libgcc_s.so.1: sshd does not load libgcc_s, so with the dependency every
//! connection loaded and unloaded a second shared library along with
//! pam_twostep.so (about 80 µs of a login's wall time; docs/benchmarks.md).
//! Found through the C compiler, as gcc itself finds it.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
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
