//! `twostep enroll --batch FILE` and `--from-google-authenticator-all`, through
//! the real binary: what each user's JSON line says, that the secrets it
//! reports are the ones logins accept, what is refused and why, the QR files,
//! and the accounts' google-authenticator files (real accounts from useradd,
//! homes in the test's own directory so parallel tests never see them).

mod common;
mod e2e;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

/// The JSON lines a batch printed.
fn lines(out: &Output) -> Vec<serde_json::Value> {
    stdout(out).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}"))).collect()
}

fn by_user<'a>(lines: &'a [serde_json::Value], user: &str) -> &'a serde_json::Value {
    lines.iter().find(|l| l["user"] == user).unwrap_or_else(|| panic!("no line for {user}: {lines:?}"))
}

fn batch_file(env: &Env, name: &str, text: &str) -> PathBuf {
    let path = env.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_csv_batch_enrolls_each_user_with_a_secret_that_logs_in_and_reports_every_line() {
    let env = Env::new("");
    env.enroll("old");
    let file = batch_file(
        &env,
        "users.csv",
        &format!(
            "user,email,secret\nann,ann@district.org,\nben,,{SECRET}\nold,,\nbad/name,,\ncid,not-an-address,\nann,,\n"
        ),
    );
    let out = env.twostep(&["enroll", "--batch", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "a failed line makes the exit status 1: {out:?}");
    assert_eq!(
        stderr(&out).trim_end(),
        "twostep: batch: 2 enrolled, 1 skipped (already enrolled), 3 failed; the lines with \"status\":\"error\" on standard output say what to fix, then run the batch again"
    );
    let got = lines(&out);
    assert_eq!(got.len(), 6, "one line per user: {got:?}");
    let lines_in_order: Vec<u64> = got.iter().map(|l| l["line"].as_u64().unwrap()).collect();
    assert_eq!(lines_in_order, [2, 3, 4, 5, 6, 7]);

    let ann = by_user(&got, "ann");
    assert_eq!(ann["status"], "enrolled");
    let secret = ann["secret"].as_str().unwrap();
    assert_eq!(
        ann["otpauth_uri"].as_str().unwrap(),
        format!(
            "otpauth://totp/Test%20District:ann?secret={secret}&issuer=Test%20District&algorithm=SHA1&digits=6&period=30"
        )
    );
    assert!(env.login("ann", &[&code(secret, 0)]).succeeded(), "the reported secret is the one on file");
    assert_eq!(env.store().record("ann").unwrap().unwrap().email.as_deref(), Some("ann@district.org"));
    let ben = by_user(&got, "ben");
    assert_eq!((ben["status"].as_str(), ben["secret"].as_str()), (Some("enrolled"), Some(SECRET)));
    assert!(env.login("ben", &[&code(SECRET, 0)]).succeeded());

    let old = by_user(&got, "old");
    assert_eq!(old["status"], "skipped");
    assert!(old["reason"].as_str().unwrap().starts_with("already enrolled (since "), "{old}");
    assert!(old.get("secret").is_none());
    let errors: Vec<&str> =
        got.iter().filter(|l| l["status"] == "error").map(|l| l["reason"].as_str().unwrap()).collect();
    assert!(errors[0].contains("is not a login name"), "{errors:?}");
    assert!(errors[1].starts_with("invalid email address"), "{errors:?}");
    assert_eq!(errors[2], "ann is named twice (first at line 2); name each user once");
    assert!(env.store().record("cid").unwrap().is_none(), "nothing saved for a bad line");

    let log = env.log_lines();
    let enrolls: Vec<&String> = log.iter().filter(|l| l.contains("action=enroll")).collect();
    assert_eq!(enrolls.len(), 2, "one audit line per enrolled user: {log:?}");
    assert!(log.iter().all(|l| !l.contains(secret) && !l.contains(SECRET)), "no secret in the log: {log:?}");
}

#[test]
fn json_lines_on_standard_input_and_force_replace_and_a_lost_import_is_an_error() {
    let env = Env::new("");
    env.enroll("dan");
    env.enroll("eve");
    env.enroll("fay");
    let other = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let input = format!(
        "{{\"user\": \"dan\", \"secret\": \"{SECRET}\"}}\n{{\"user\": \"eve\", \"secret\": \"{other}\"}}\n{{\"user\":\"gus\",\"email\":null}}\n"
    );
    let out = env.twostep_stdin(&["enroll", "--batch", "-"], &input);
    let got = lines(&out);
    assert_eq!(by_user(&got, "dan")["status"], "skipped", "the same secret: nothing lost: {got:?}");
    let eve = by_user(&got, "eve");
    assert_eq!(eve["status"], "error", "another secret would be lost without --force: {eve}");
    assert!(eve["reason"].as_str().unwrap().contains("--force replaces it with this one"), "{eve}");
    assert!(!eve["reason"].as_str().unwrap().contains(other));
    assert_eq!(by_user(&got, "gus")["status"], "enrolled");
    assert_eq!(out.status.code(), Some(1));

    // A clock jump had left the old secrets' last used step an hour ahead: a new
    // secret does not inherit it (its codes would be refused until then).
    for user in ["eve", "fay"] {
        env.update_tally(user, |t| t.last_step = Some(now() / 30 + 120));
    }
    let forced =
        env.twostep_stdin(&["enroll", "--batch", "-", "--force"], &format!("user,secret\neve,{other}\nfay,\n"));
    assert!(forced.status.success(), "{forced:?}");
    assert_eq!(stderr(&forced).trim_end(), "twostep: batch: 2 enrolled, 0 skipped (already enrolled), 0 failed");
    let got = lines(&forced);
    assert_eq!(by_user(&got, "eve")["secret"], other);
    assert!(env.login("eve", &[&code(other, 0)]).succeeded());
    let fay = by_user(&got, "fay")["secret"].as_str().unwrap().to_string();
    assert_ne!(fay, SECRET, "a new secret for a line without one");
    assert!(env.login("fay", &[&code(&fay, 0)]).succeeded());
    assert!(env.log_lines().iter().any(|l| l.contains("user=fay action=re-enroll")));
}

#[test]
fn a_batch_whose_header_is_wrong_enrolls_nobody() {
    let env = Env::new("");
    let out = env.twostep_stdin(&["enroll", "--batch", "-"], "name,email\nann,\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unknown column \"name\""), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    assert!(env.store().enrolled_users().unwrap().is_empty());
    let usage = env.twostep(&["enroll", "ann", "--batch", "x.csv"]);
    assert_eq!(usage.status.code(), Some(2), "a user and a batch are a usage error");
}

/// The SVG path qrcode writes (one `M x y h w v h H x V y` square per dark module) drawn as pixels, then decoded.
fn decode_svg(svg: &str) -> String {
    let attr = |name: &str| {
        let at = svg.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        svg[at..].split('"').next().unwrap().to_string()
    };
    let view: Vec<usize> = attr("viewBox").split_whitespace().map(|v| v.parse().unwrap()).collect();
    let (w, h) = (view[2], view[3]);
    let mut dark = vec![false; w * h];
    for square in attr("d").split('M').filter(|s| !s.is_empty()) {
        // "24 24h6v6H24V24": the corner, then the relative width and height.
        let (corner, steps) = square.split_once('h').unwrap();
        let (x, y) = corner.split_once(' ').unwrap();
        let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
        let (sw, rest) = steps.split_once('v').unwrap();
        let sh = rest.split('H').next().unwrap();
        let (sw, sh): (usize, usize) = (sw.parse().unwrap(), sh.parse().unwrap());
        for py in y..y + sh {
            for px in x..x + sw {
                dark[py * w + px] = true;
            }
        }
    }
    let mut img = rqrr::PreparedImage::prepare_from_bitmap(w, h, |x, y| dark[y * w + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().unwrap().1
}

#[test]
fn qr_svg_writes_one_private_image_per_enrolled_user_that_decodes_to_its_uri() {
    let env = Env::new("");
    let dir = env.path().join("sheets");
    let out =
        env.twostep_stdin(&["enroll", "--batch", "-", "--qr-svg", dir.to_str().unwrap()], "user\nhal\nDOMAIN\\ivy\n");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    for line in lines(&out) {
        let path = PathBuf::from(line["qr_svg"].as_str().unwrap());
        assert_eq!(path.parent().unwrap(), dir);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!((meta.permissions().mode() & 0o777, meta.uid()), (0o600, 0), "{}", path.display());
        assert_eq!(decode_svg(&std::fs::read_to_string(&path).unwrap()), line["otpauth_uri"].as_str().unwrap());
    }
    assert!(dir.join("DOMAIN%5Civy.svg").exists(), "files are named as the store names them");

    let open = env.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let refused = env.twostep_stdin(&["enroll", "--batch", "-", "--qr-svg", open.to_str().unwrap()], "user\njon\n");
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("cannot write QR codes there"), "{}", stderr(&refused));
    assert!(env.store().record("jon").unwrap().is_none(), "nothing enrolled when the sheets cannot be written");
}

/// A temporary account whose home is `home` (not created); removed on drop.
struct HomeAccount {
    name: String,
    home: PathBuf,
    uid: u32,
}

impl HomeAccount {
    fn new(under: &Path) -> HomeAccount {
        let name = e2e::unique("tsb");
        let home = under.join(&name);
        e2e::run(
            Command::new("useradd")
                .args(["--no-create-home", "--shell", "/usr/sbin/nologin", "--home-dir"])
                .arg(&home)
                .arg(&name),
        );
        std::fs::create_dir(&home).unwrap();
        let uid = nix::unistd::User::from_name(&name).unwrap().unwrap().uid.as_raw();
        std::os::unix::fs::chown(&home, Some(uid), None).unwrap();
        HomeAccount { name, home, uid }
    }

    /// Writes `~/.google_authenticator` with `text`, owned by `owner`, mode `mode`.
    fn ga_file(&self, text: &str, owner: u32, mode: u32) -> PathBuf {
        let path = self.home.join(".google_authenticator");
        std::fs::write(&path, text).unwrap();
        std::os::unix::fs::chown(&path, Some(owner), None).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }
}

impl Drop for HomeAccount {
    fn drop(&mut self) {
        let _ = e2e::try_run(Command::new("userdel").arg(&self.name));
    }
}

#[test]
fn every_accounts_google_authenticator_file_migrates_when_it_is_the_accounts_own_and_private() {
    let env = Env::new("");
    let homes = env.path().join("home");
    std::fs::create_dir(&homes).unwrap();
    let ga = format!("{SECRET}\n\" TOTP_AUTH\n\" DISALLOW_REUSE 100\n12345678\n");
    let good = HomeAccount::new(&homes);
    good.ga_file(&ga, good.uid, 0o400);
    let planted = HomeAccount::new(&homes);
    let planted_file = planted.ga_file(&ga, 0, 0o600);
    let shared = HomeAccount::new(&homes);
    shared.ga_file(&ga, shared.uid, 0o644);
    let none = HomeAccount::new(&homes);

    let args = ["enroll", "--from-google-authenticator-all", "--home-root", homes.to_str().unwrap()];
    let out = env.twostep(&args);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).contains("batch: 1 enrolled, 0 skipped (already enrolled), 2 failed, 1 account(s) without a google-authenticator file"),
        "{}",
        stderr(&out)
    );
    let got = lines(&out);
    assert_eq!(got.len(), 3, "only accounts with a file under the root: {got:?}");
    let ok = by_user(&got, &good.name);
    assert_eq!((ok["status"].as_str(), ok["secret"].as_str()), (Some("enrolled"), Some(SECRET)));
    assert!(ok["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("scratch code")), "{ok}");
    assert_eq!(env.store().tally(&good.name).unwrap().last_step, Some(100), "DISALLOW_REUSE carried over");
    assert!(env.login(&good.name, &[&code(SECRET, 0)]).succeeded());

    let reason = |a: &HomeAccount| by_user(&got, &a.name)["reason"].as_str().unwrap().to_string();
    let planted_reason = reason(&planted);
    assert!(
        planted_reason.contains(&format!("belongs to uid 0, not to {} (uid {})", planted.name, planted.uid))
            && planted_reason.contains(&format!("--from-google-authenticator {}", planted_file.display())),
        "{planted_reason}"
    );
    assert!(reason(&shared).contains("can be read by others (mode 0644)"), "{}", reason(&shared));
    for a in [&planted, &shared, &none] {
        assert!(env.store().record(&a.name).unwrap().is_none(), "{} enrolled", a.name);
    }
    assert!(env.log_lines().iter().any(|l| l.contains(&format!("user={} action=migrate", good.name))));

    let again = env.twostep(&args);
    let ok = lines(&again).into_iter().find(|l| l["user"] == good.name.as_str()).unwrap();
    assert_eq!(ok["status"], "skipped", "a second run keeps the migrated user: {ok}");
    assert!(ok["reason"].as_str().unwrap().starts_with("already enrolled with this secret"), "{ok}");
}

#[test]
fn the_batch_migration_keeps_the_scratch_codes_as_backup_codes_that_work_once() {
    let env = Env::new("");
    let homes = env.path().join("home");
    std::fs::create_dir(&homes).unwrap();
    let scratch = ["31415926", "27182818", "14142135"];
    let a = HomeAccount::new(&homes);
    a.ga_file(&format!("{SECRET}\n\" TOTP_AUTH\n{}\n", scratch.join("\n")), a.uid, 0o400);
    let b = HomeAccount::new(&homes);
    b.ga_file(&format!("{SECRET}\n\" TOTP_AUTH\n"), b.uid, 0o600);

    let out = env.twostep(&["enroll", "--from-google-authenticator-all", "--home-root", homes.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(scratch.iter().all(|c| !stdout(&out).contains(c) && !stderr(&out).contains(c)), "not echoed");
    let got = lines(&out);
    let line = by_user(&got, &a.name);
    assert_eq!(line["status"], "enrolled", "{line}");
    assert!(line["notes"].to_string().contains("3 emergency scratch code(s) are kept as backup codes"), "{line}");
    let left = |user: &str| {
        let s: serde_json::Value = serde_json::from_str(&stdout(&env.twostep(&["status", user, "--json"]))).unwrap();
        s["backup_codes_left"].as_u64()
    };
    assert_eq!((left(&a.name), left(&b.name)), (Some(3), Some(0)));
    let on_disk = std::fs::read_to_string(env.secrets.join(&a.name)).unwrap();
    assert!(scratch.iter().all(|c| !on_disk.contains(c)), "only hashes are stored: {on_disk}");

    assert!(env.login(&a.name, &[scratch[1]]).succeeded());
    assert_eq!(env.login(&a.name, &[scratch[1]]).result, "PAM_AUTH_ERR", "once");
    assert!(env.login(&a.name, &["1414 2135"]).succeeded(), "typed grouped");
    assert_eq!(left(&a.name), Some(1));
    assert!(env.login(&b.name, &[scratch[0]]).result == "PAM_AUTH_ERR", "another user's codes are not theirs");
    let logs = env.log_lines();
    assert!(logs.iter().any(|l| l.contains(&format!("user={} action=backup_codes", a.name))), "{logs:?}");
    assert!(!logs.iter().any(|l| l.contains(&format!("user={} action=backup_codes", b.name))), "{logs:?}");
    assert!(logs.iter().all(|l| scratch.iter().all(|c| !l.contains(c))), "no code in a log line: {logs:?}");
}

#[test]
fn enroll_draws_the_qr_code_in_colour_only_when_asked_or_on_a_terminal_and_escapes_names_still() {
    let env = Env::new("");
    let plain = env.twostep(&["enroll", "kim"]);
    assert!(plain.status.success() && !stdout(&plain).contains('\x1b'), "piped: plain text: {plain:?}");
    let coloured = env.twostep(&["enroll", "lee\u{202e}x", "--qr-style", "ansi"]);
    let text = stdout(&coloured);
    assert!(text.contains("lee\\u{202e}x"), "the name is escaped as before: {text}");
    // The only escape sequences are the QR code's own colours, one pair per line of it.
    let without_colours = text.replace("\x1b[30;47m", "").replace("\x1b[0m", "");
    assert!(!without_colours.contains('\x1b'), "{text:?}");
    let qr_lines = text.lines().filter(|l| l.starts_with("\x1b[30;47m") && l.ends_with("\x1b[0m")).count();
    assert!(qr_lines > 10, "{text}");
}
