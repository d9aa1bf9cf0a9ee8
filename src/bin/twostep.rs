//! The `twostep` admin command; everything lives in `pam_twostep::cli`.
fn main() -> std::process::ExitCode {
    pam_twostep::cli::main()
}
