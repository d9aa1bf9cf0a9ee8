//! Reading PAM files as libpam does: logical lines (comments dropped, `\`
//! continuations joined), `@include`, `include` and `substack` followed (a
//! missing file fails its line), every line loading the module kept for the
//! report, and the auth lines flattened into the stack ([`Service`]). [`scan`]
//! and [`load`] are the only I/O of the model.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::control::{Action, Actions, parse_control};
use super::modules::MODULE_NAMES;
use super::stack::{Handler, Kind, Origin};

/// libpam's include depth limit (`PAM_SUBSTACK_MAX_LEVEL`).
const MAX_INCLUDE_DEPTH: usize = 16;
/// The largest PAM file read.
const MAX_FILE: u64 = 1024 * 1024;

/// One line that loads the module, of any type, for the report.
#[derive(Debug, Clone)]
pub struct ModuleLine {
    pub kind: String,
    pub control: String,
    pub args: Vec<String>,
    pub origin: Origin,
}

/// A PAM file read and flattened.
#[derive(Debug)]
pub struct Service {
    /// The file name in the PAM directory (the PAM service name).
    pub name: String,
    pub path: PathBuf,
    /// Every line loading the module, through includes too.
    pub module_lines: Vec<ModuleLine>,
    /// Files this one names that could not be read, with why.
    pub unreadable: Vec<(PathBuf, String)>,
    pub(super) auth: Vec<Handler>,
}

/// Splits a line into words, keeping a `[...]` group (which may hold spaces) as one.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let end = if rest.starts_with('[') {
            rest.find(']').map_or(rest.len(), |i| i + 1)
        } else {
            rest.find(char::is_whitespace).unwrap_or(rest.len())
        };
        // Inside `[...]`, spaces and line continuations separate pairs only.
        out.push(rest[..end].split_whitespace().collect::<Vec<_>>().join(" "));
        rest = rest[end..].trim_start();
    }
    out
}

/// The logical lines of a PAM file: comments dropped, `\` continuations joined,
/// each with the number of the line it starts on.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let (start, mut acc) = pending.take().unwrap_or((i + 1, String::new()));
        let (body, continued) = match raw.strip_suffix('\\') {
            Some(b) => (b, true),
            None => (raw, false),
        };
        acc.push(' ');
        acc.push_str(body);
        if continued {
            pending = Some((start, acc));
            continue;
        }
        let line = acc.split('#').next().unwrap_or("").trim().to_string();
        if !line.is_empty() {
            out.push((start, line));
        }
    }
    if let Some((start, acc)) = pending {
        let line = acc.split('#').next().unwrap_or("").trim().to_string();
        if !line.is_empty() {
            out.push((start, line));
        }
    }
    out
}

/// Reads a PAM file: a regular file, at most [`MAX_FILE`] bytes.
fn read_pam_file(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_FILE {
        return Err(format!("larger than {MAX_FILE} bytes"));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".into())
}

/// Where libpam finds an included file: an absolute path, or a name in `pam_dir`.
fn resolve(pam_dir: &Path, name: &str) -> PathBuf {
    if name.starts_with('/') { PathBuf::from(name) } else { pam_dir.join(name) }
}

struct Loader<'a> {
    pam_dir: &'a Path,
    module_lines: Vec<ModuleLine>,
    unreadable: Vec<(PathBuf, String)>,
    auth: Vec<Handler>,
}

impl Loader<'_> {
    /// Adds the lines of `path` (at substack `level`, included through `via`).
    fn load(&mut self, path: &Path, level: usize, via: &[PathBuf]) -> Result<(), ()> {
        if via.len() >= MAX_INCLUDE_DEPTH {
            self.unreadable.push((path.to_path_buf(), "included too deeply (a loop?)".into()));
            return Err(());
        }
        let text = match read_pam_file(path) {
            Ok(t) => t,
            Err(why) => {
                self.unreadable.push((path.to_path_buf(), why));
                return Err(());
            }
        };
        let mut inner_via = via.to_vec();
        inner_via.push(path.to_path_buf());
        for (number, line) in logical_lines(&text) {
            let origin = Origin { file: path.to_path_buf(), line: number, via: via.to_vec() };
            let w = words(&line);
            if w[0] == "@include" {
                // Debian: the file's lines, as if written here.
                if let Some(name) = w.get(1) {
                    let _ = self.load(&resolve(self.pam_dir, name), level, &inner_via);
                }
                continue;
            }
            let kind = w[0].strip_prefix('-').unwrap_or(&w[0]).to_ascii_lowercase();
            let control = w.get(1).cloned().unwrap_or_default();
            let target = w.get(2).cloned();
            let args: Vec<String> = w.iter().skip(3).cloned().collect();
            let lower = control.to_ascii_lowercase();
            if lower == "include" || lower == "substack" {
                let Some(target) = target else { continue };
                let file = resolve(self.pam_dir, &target);
                let substack = lower == "substack";
                if substack && kind == "auth" {
                    let h = Handler { level, kind: Kind::Substack, actions: None, control, origin: origin.clone() };
                    self.auth.push(h);
                }
                let inner = level + usize::from(substack);
                if self.load(&file, inner, &inner_via).is_err() && kind == "auth" {
                    let h = Handler {
                        level,
                        kind: Kind::MustFail,
                        actions: Some(Actions::all(Action::Bad)),
                        control: lower,
                        origin,
                    };
                    self.auth.push(h);
                }
                continue;
            }
            if let Some(path) = &target {
                let name = path.rsplit('/').next().unwrap_or(path);
                if MODULE_NAMES.contains(&name) {
                    self.module_lines.push(ModuleLine {
                        kind: kind.clone(),
                        control: control.clone(),
                        args: args.clone(),
                        origin: origin.clone(),
                    });
                }
            }
            if kind != "auth" {
                continue;
            }
            let (kind, actions) = match (target, parse_control(&control)) {
                (Some(path), actions) => (Kind::Module { path, args }, actions),
                (None, _) => (Kind::MustFail, Some(Actions::all(Action::Bad))),
            };
            self.auth.push(Handler { level, kind, actions, control, origin });
        }
        Ok(())
    }
}

/// Reads the PAM file `name` in `pam_dir` with everything it includes.
pub fn load(pam_dir: &Path, name: &str) -> Service {
    let path = pam_dir.join(name);
    let mut l = Loader { pam_dir, module_lines: Vec::new(), unreadable: Vec::new(), auth: Vec::new() };
    let _ = l.load(&path, 0, &[]);
    Service { name: name.to_string(), path, module_lines: l.module_lines, unreadable: l.unreadable, auth: l.auth }
}

/// Every regular file of `pam_dir` (sorted), or why it cannot be listed.
pub fn scan(pam_dir: &Path) -> Result<Vec<Service>, std::io::Error> {
    let mut names: Vec<String> = std::fs::read_dir(pam_dir)?
        .filter_map(|e| {
            let e = e.ok()?;
            if !e.file_type().ok()?.is_file() && !std::fs::metadata(e.path()).ok()?.is_file() {
                return None;
            }
            e.file_name().into_string().ok()
        })
        .collect();
    names.sort();
    Ok(names.iter().map(|n| load(pam_dir, n)).collect())
}

/// Why `path` (a PAM file) could be changed by someone other than root, if it can.
pub fn writable_by_others(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.uid() != 0 {
        Some(format!("it is owned by uid {}, not root", meta.uid()))
    } else if meta.mode() & 0o022 != 0 {
        Some(format!("its mode is {:04o} (group or others may write it)", meta.mode() & 0o7777))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::check::pam_stack::dir;

    #[test]
    fn lines_are_read_as_libpam_reads_them() {
        let text = "# comment\n\n-auth  [success=1 \\\n default=ignore] pam_unix.so # trailing\nauth\trequired\t/lib/security/pam_twostep.so config=/x.toml debug\n";
        let d = dir(&[("s", text)]);
        let s = load(d.path(), "s");
        assert_eq!(s.auth.len(), 2, "{s:?}");
        assert_eq!(s.auth[0].control, "[success=1 default=ignore]");
        assert_eq!(s.auth[0].origin.line, 3);
        assert_eq!(s.module_lines.len(), 1);
        let m = &s.module_lines[0];
        assert_eq!((m.kind.as_str(), m.control.as_str(), m.origin.line), ("auth", "required", 5));
        assert_eq!(m.args, ["config=/x.toml", "debug"]);
    }

    #[test]
    fn a_line_is_said_to_come_through_the_file_that_included_it() {
        let d = dir(&[("common-auth", "auth required pam_twostep.so\n"), ("sshd", "@include common-auth\n")]);
        let s = load(d.path(), "sshd");
        let o = &s.module_lines[0].origin;
        assert_eq!(o.describe(d.path()), "common-auth line 1");
        assert_eq!(o.via, [d.path().join("sshd")]);
    }
}
