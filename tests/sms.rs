//! Codes by text message end to end: the real module, loaded through real
//! libpam, runs the shipped example commands of `pam-config/sms/`:
//! - `sms-http-gateway` (curl) posting to a real HTTP server on 127.0.0.1
//!   (a small Python server each test starts) that records what it got: the
//!   test reads the code from the posted form and types it at the prompt;
//! - `sms-email-gateway` mailing `DIGITS@DOMAIN` through the real `msmtp` to
//!   a local SMTP server (aiosmtpd, tests/common/smtp.rs), as tests/email.rs does.
//!
//! Plus: a failing and a hung gateway (refused, the reservation rolled back,
//! the code and the token never in the log), and `twostep phone`; and the
//! same gateway behind a real sshd (tests/e2e): a login with a text code,
//! and the lockout counting app, text and backup codes alike.

mod common;
mod e2e;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::smtp::SmtpSink;
use common::*;
use e2e::{Sshd, TestUser, from_file, paramiko, pty, times};

const PHONE: &str = "+15551234567";
const TOKEN: &str = "test-token-3f9a1c";
const PLAIN: &str = "Verification code: ";
const WITH_TEXT: &str = "Verification code (or type \"text\" to get a code by text message): ";
const WITH_BOTH: &str = "Verification code (or type \"text\" or \"email\" to get one sent): ";
const SENT: &str = "A verification code was sent by text message to •••• ••• 4567. It is valid for 10 minutes.";
const SEND_FAILED: &str = "The code could not be sent by text message (the text message service failed). Try again later or contact your administrator.";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// An SMS gateway's REST API, as far as the tests need one: records every
/// POST (path, headers, body) as OUTDIR/NNN.json, renamed into place once
/// complete, and answers 201; under /fail it answers 500 and echoes the
/// request body (as some gateways do), under /hang it never answers.
const GATEWAY: &str = r#"
import http.server, json, os, sys, threading, time
OUTDIR = sys.argv[1]
lock = threading.Lock()
count = [0]

class Gateway(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        with lock:
            count[0] += 1
            base = os.path.join(OUTDIR, "%03d" % count[0])
        with open(base + ".tmp", "w") as f:
            json.dump({"path": self.path, "headers": dict(self.headers), "body": body}, f)
        os.rename(base + ".tmp", base + ".json")
        if self.path == "/hang":
            time.sleep(120)
        status, reply = (500, "gateway error, you sent: " + body) if self.path == "/fail" else (201, '{"status":"queued"}')
        reply = reply.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// The gateway: a child process that prints its port on its first line; killed and reaped on drop.
struct Server {
    child: Child,
    port: u16,
    outdir: PathBuf,
}

impl Server {
    fn start(dir: &Path, name: &str, script: &str) -> Server {
        let outdir = dir.join(format!("{name}-received"));
        std::fs::create_dir(&outdir).unwrap();
        let path = dir.join(format!("{name}.py"));
        std::fs::write(&path, script).unwrap();
        let mut child = Command::new("/usr/bin/python3")
            .arg(&path)
            .arg(&outdir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a test server with /usr/bin/python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("{name} did not print its port: {line:?}"));
        Server { child, port, outdir }
    }

    /// Files with extension `ext` the server has written, in order.
    fn received(&self, ext: &str) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&self.outdir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect();
        v.sort();
        v
    }

    /// Waits for received file number `n` (1-based) and returns its text.
    fn wait(&self, n: usize, ext: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(p) = self.received(ext).get(n - 1) {
                return std::fs::read_to_string(p).unwrap();
            }
            assert!(Instant::now() < deadline, "request {n} never arrived");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `application/x-www-form-urlencoded` → (name, value) pairs.
fn form(body: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let bytes = s.replace('+', " ").into_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                out.push(u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap(), 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    body.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect()
}

/// What the gateway got in request `n`: (path, headers, form fields).
fn posted(gateway: &Server, n: usize) -> (String, serde_json::Value, Vec<(String, String)>) {
    let rec: serde_json::Value = serde_json::from_str(&gateway.wait(n, "json")).unwrap();
    (rec["path"].as_str().unwrap().into(), rec["headers"].clone(), form(rec["body"].as_str().unwrap()))
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("no {name} in {fields:?}"))
}

/// The code at the start of a text message.
fn code_in_text(text: &str) -> String {
    let code = text.split(' ').next().unwrap();
    assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()), "{text:?}");
    code.to_string()
}

/// A root-only curl config for the gateway at `path`, and the `[sms]` table using it.
fn http_setup(extra: &str, path: &str) -> (Env, Server) {
    let env = Env::new("");
    let gateway = Server::start(env.path(), "gateway", GATEWAY);
    let curlrc = env.path().join("sms-gateway.curlrc");
    let url = format!("http://127.0.0.1:{}{path}", gateway.port);
    std::fs::write(&curlrc, format!("url = \"{url}\"\nheader = \"Authorization: Bearer {TOKEN}\"\n")).unwrap();
    std::fs::set_permissions(&curlrc, std::fs::Permissions::from_mode(0o600)).unwrap();
    let script = repo().join("pam-config/sms/sms-http-gateway");
    env.write_config(&format!(
        "[sms]\ncommand = [\"{}\", \"{}\", \"{{phone}}\"]\n{extra}\n",
        script.display(),
        curlrc.display()
    ));
    (env, gateway)
}

#[test]
fn a_code_by_text_through_an_http_gateway_lets_the_user_in_exactly_once() {
    let (env, gateway) = http_setup("", "/v1/messages");
    env.enroll_phone("jane", Some(SECRET), Some("jane@district.org"), Some(PHONE));
    let mut s = Session::start(&env, "jane");
    assert_eq!(s.said("info"), "A code can be sent by text message to •••• ••• 4567 or by email to j***@district.org.");
    s.prompt(WITH_BOTH);
    s.answer("text");
    assert_eq!(s.said("info"), SENT);
    s.prompt(PLAIN);

    let (path, headers, fields) = posted(&gateway, 1);
    assert_eq!(path, "/v1/messages");
    assert_eq!(headers["Authorization"], format!("Bearer {TOKEN}"), "{headers}");
    assert_eq!(headers["Content-Type"], "application/x-www-form-urlencoded");
    assert_eq!(field(&fields, "To"), PHONE);
    let text = field(&fields, "Body");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string();
    let code = code_in_text(text);
    assert_eq!(
        text,
        format!("{code} is your verification code for {host}. It is valid for 10 minutes. Do not share it.")
    );

    s.answer(&code);
    assert!(s.finish().succeeded());
    let logs = env.log_lines();
    assert!(logs.iter().any(|l| l.contains("result=sms_sent method=sms") && l.contains("to=****4567")), "{logs:?}");
    assert!(logs.iter().any(|l| l.contains("user=jane") && l.contains("result=success method=sms")), "{logs:?}");
    assert!(!logs.iter().any(|l| l.contains(&code) || l.contains(TOKEN)), "{logs:?}");
    assert_eq!(env.store().tally("jane").unwrap().sms_code, None, "used up");

    // The same code again: refused, and counted.
    let t = env.login("jane", &[&code]);
    assert_eq!(t.result, "PAM_AUTH_ERR", "{t:?}");
    assert!(t.said().contains("Incorrect verification code. 4 attempts remain"), "{t:?}");
    assert_eq!(gateway.received("json").len(), 1);
}

/// A login of text-only `user` that asks for a text, left at the code prompt.
fn ask_for_text(env: &Env, user: &str) -> Session {
    let mut s = Session::start(env, user);
    s.prompt(WITH_TEXT);
    s.answer("text");
    assert_eq!(s.said("info"), SENT);
    s.prompt(PLAIN);
    s
}

/// A new number (a phone lost or handed on) also takes back a code already
/// texted to the old one; clearing the number does too.
#[test]
fn changing_or_clearing_the_number_takes_back_a_code_already_texted() {
    let (env, gateway) = http_setup("", "/v1/messages");
    let changes: [&[&str]; 2] = [&["phone", "ann", "+15557654321"], &["phone", "ann", "--clear"]];
    for (n, change) in changes.iter().enumerate() {
        env.enroll_phone("ann", Some(SECRET), None, Some(PHONE));
        let mut s = ask_for_text(&env, "ann");
        let code = code_in_text(field(&posted(&gateway, n + 1).2, "Body"));
        assert!(env.twostep(change).status.success(), "{change:?}");
        assert_eq!(env.store().tally("ann").unwrap().sms_code, None, "{change:?}");
        s.answer(&code);
        assert!(!s.finish().succeeded(), "the code texted before `twostep {}` let ann in", change.join(" "));
        env.twostep(&["reset", "ann"]);
    }
}

#[test]
fn a_pending_text_code_survives_a_new_login_and_the_throttle_sends_no_second() {
    let (env, gateway) = http_setup("resend_after = 60", "/v1/messages");
    env.enroll_phone("ann", Some(SECRET), None, Some(PHONE));
    let s = ask_for_text(&env, "ann");
    let code = code_in_text(field(&posted(&gateway, 1).2, "Body"));
    drop(s.finish());

    let mut s = Session::start(&env, "ann");
    s.prompt(WITH_TEXT);
    s.answer("SMS");
    let told = s.said("info");
    assert!(told.starts_with("A code was already sent to •••• ••• 4567 at "), "{told}");
    s.prompt(PLAIN);
    s.answer(&code);
    assert!(s.finish().succeeded());
    assert_eq!(gateway.received("json").len(), 1, "no second text");
    let logs = env.log_lines();
    assert!(logs.iter().any(|l| l.contains("result=sms_throttled") && l.contains("next=")), "{logs:?}");
    let stored = std::fs::read_to_string(env.tally.join("ann")).unwrap_or_default();
    assert!(!stored.contains(&code));
}

#[test]
fn a_gateway_that_fails_refuses_the_login_and_keeps_the_code_and_token_out_of_the_log() {
    let (env, gateway) = http_setup("", "/fail");
    env.enroll_phone("ann", Some(SECRET), None, Some(PHONE));
    let t = env.login("ann", &["text", &code(SECRET, 0)]);
    assert_eq!(t.result, "PAM_AUTH_ERR", "{t:?}");
    assert_eq!(t.prompts(), [WITH_TEXT], "refused at once: {t:?}");
    assert!(t.said().contains(SEND_FAILED), "{t:?}");
    let code = code_in_text(field(&posted(&gateway, 1).2, "Body"));
    let logs = env.log_lines();
    let line = logs.iter().find(|l| l.contains("result=sms_failed")).unwrap_or_else(|| panic!("{logs:?}"));
    assert!(line.contains("method=sms") && line.contains("exit status 22"), "{line}");
    assert!(line.contains("gateway error, you sent:") && line.contains("[code]"), "{line}");
    assert!(!logs.iter().any(|l| l.contains(&code) || l.contains(TOKEN)), "{logs:?}");
    let tally = env.store().tally("ann").unwrap();
    assert_eq!((tally.sms_code, tally.failures.len()), (None, 0), "rolled back, not counted");
}

#[test]
fn a_hung_gateway_is_killed_after_the_timeout_and_the_reservation_rolled_back() {
    let (env, _gateway) = http_setup("timeout = 1", "/hang");
    env.enroll_phone("tom", None, None, Some(PHONE));
    let started = Instant::now();
    let t = env.login("tom", &[]);
    let took = started.elapsed();
    assert_eq!(t.result, "PAM_AUTH_ERR", "{t:?}");
    assert!(t.prompts().is_empty(), "a text-only user is not asked when nothing was sent: {t:?}");
    assert!(t.said().contains(SEND_FAILED), "{t:?}");
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(8), "{took:?}");
    let logs = env.log_lines();
    assert!(
        logs.iter().any(|l| l.contains("result=sms_failed") && l.contains("did not finish within 1 seconds")),
        "{logs:?}"
    );
    assert_eq!(env.store().tally("tom").unwrap().sms_code, None);
}

#[test]
fn the_http_gateway_example_refuses_a_credentials_file_others_can_read() {
    let (env, gateway) = http_setup("", "/v1/messages");
    std::fs::set_permissions(env.path().join("sms-gateway.curlrc"), std::fs::Permissions::from_mode(0o644)).unwrap();
    env.enroll_phone("ann", Some(SECRET), None, Some(PHONE));
    let t = env.login("ann", &["text"]);
    assert!(t.said().contains(SEND_FAILED), "{t:?}");
    let logs = env.log_lines();
    assert!(logs.iter().any(|l| l.contains("result=sms_failed") && l.contains("chmod 600")), "{logs:?}");
    assert!(gateway.received("json").is_empty());
}

#[test]
fn a_text_only_user_gets_a_code_through_the_email_to_sms_example_without_asking() {
    let env = Env::new("");
    let smtp = SmtpSink::start(env.path());
    let script = repo().join("pam-config/sms/sms-email-gateway");
    let msmtp = format!(
        "\"/usr/bin/msmtp\", \"--host=127.0.0.1\", \"--port={}\", \"--from=twostep@test.example\", \"-t\"",
        smtp.port
    );
    env.write_config(&format!(
        "[sms]\ncommand = [\"{}\", \"{{phone}}\", \"sms.test.example\", \"twostep@test.example\", \"--strip=1\", {msmtp}]\n",
        script.display()
    ));
    env.enroll_phone("tom", None, None, Some(PHONE));
    let mut s = Session::start(&env, "tom");
    assert_eq!(s.said("info"), SENT);
    s.prompt(PLAIN);
    let mail = smtp.wait_message(1);
    assert_eq!(smtp.recipients(1).trim(), "5551234567@sms.test.example");
    let body = mail.replace("\r\n", "\n");
    let (headers, body) = body.split_once("\n\n").unwrap();
    assert!(headers.contains("To: 5551234567@sms.test.example"), "{headers}");
    assert!(headers.contains("From: twostep@test.example"), "{headers}");
    let code = code_in_text(body.trim());
    s.answer(&code);
    assert!(s.finish().succeeded());
    let logs = env.log_lines();
    assert!(logs.iter().any(|l| l.contains("user=tom") && l.contains("result=success method=sms")), "{logs:?}");
    assert!(!logs.iter().any(|l| l.contains(&code)), "{logs:?}");
}

#[test]
fn twostep_phone_stores_e164_shows_it_masked_and_clears_it() {
    let env = Env::new("[sms]\ncommand = [\"/usr/local/bin/send-sms\", \"{phone}\"]");
    env.enroll("alice");
    let out = env.twostep(&["phone", "alice", "+1 (555) 123-4567"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("will be sent to +15551234567 (•••• ••• 4567)."), "{}", stdout(&out));
    assert_eq!(env.store().record("alice").unwrap().unwrap().phone.as_deref(), Some(PHONE));
    assert!(env.log_lines().iter().any(|l| l.contains("user=alice action=phone_set")));
    let s: serde_json::Value = serde_json::from_str(&stdout(&env.twostep(&["status", "alice", "--json"]))).unwrap();
    assert_eq!(s["phone"], "•••• ••• 4567");
    assert_eq!(s["methods"], serde_json::json!(["totp", "sms"]));
    let table = stdout(&env.twostep(&["list"]));
    assert!(table.lines().next().unwrap().contains("PHONE"), "{table}");
    assert!(table.contains("totp,sms") && table.contains("•••• ••• 4567"), "bullets are not escaped: {table}");
    let record = std::fs::read_to_string(env.secrets.join("alice")).unwrap();
    assert!(record.starts_with("version = 2\n"), "{record}");

    let out = env.twostep(&["phone", "alice", "--clear"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s: serde_json::Value = serde_json::from_str(&stdout(&env.twostep(&["status", "alice", "--json"]))).unwrap();
    assert_eq!((s["phone"].is_null(), &s["methods"]), (true, &serde_json::json!(["totp"])));
    let record = std::fs::read_to_string(env.secrets.join("alice")).unwrap();
    assert!(record.starts_with("version = 1\n"), "back to what older builds read: {record}");
}

#[test]
fn twostep_phone_refuses_bad_numbers_and_clearing_the_only_method() {
    let env = Env::new("");
    env.enroll("alice");
    for (bad, why) in [
        ("5551234567", "start with + and the country code"),
        ("+1555123456x", "only contain digits"),
        ("+0555123456", "cannot start with 0"),
        ("+1234", "8 to 15 digits"),
        ("+1555123\n4567", "only contain digits"),
    ] {
        let out = env.twostep(&["phone", "alice", bad]);
        assert_eq!(out.status.code(), Some(1), "{bad:?}");
        let err = stderr(&out);
        assert!(err.starts_with("twostep: invalid phone number") && err.contains(why), "{bad:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err:?}");
    }
    assert!(env.store().record("alice").unwrap().unwrap().phone.is_none());
    assert_eq!(env.twostep(&["phone", "alice"]).status.code(), Some(2));
    assert_eq!(env.twostep(&["phone", "alice", PHONE, "--clear"]).status.code(), Some(2));

    // A new user with only a phone: a text-only record, which cannot lose its only method.
    let out = env.twostep(&["phone", "bob", PHONE]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("no authenticator app"), "{}", stdout(&out));
    assert!(stdout(&out).contains("[sms] command is not set"), "{}", stdout(&out));
    let out = env.twostep(&["phone", "bob", "--clear"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("only second factor"), "{}", stderr(&out));
    // With an address as well, either may go.
    assert!(env.twostep(&["email", "bob", "bob@district.org"]).status.success());
    assert!(env.twostep(&["email", "bob", "--clear"]).status.success(), "the phone remains");
    assert!(env.twostep(&["email", "bob", "bob@district.org"]).status.success());
    assert!(env.twostep(&["phone", "bob", "--clear"]).status.success(), "the address remains");
}

#[test]
fn twostep_check_names_a_missing_sms_command_when_users_have_a_phone() {
    let env = Env::new("[sms]\ncommand = [\"/nonexistent/send-sms\", \"{phone}\"]");
    let pam = env.path().join("empty-pam.d");
    std::fs::create_dir(&pam).unwrap();
    let check = |env: &Env| {
        let mut cmd = env.twostep_command(&["--pam-dir", pam.to_str().unwrap(), "check"]);
        cmd.env_remove("SUDO_USER");
        run_with_stdin(cmd, "")
    };
    let out = check(&env);
    let text = unwrapped(&format!("{}{}", stdout(&out), stderr(&out)));
    assert!(text.contains("[sms] command /nonexistent/send-sms does not exist"), "{text}");
    assert!(text.contains("nobody has a phone number now"), "a warning while unused: {text}");
    env.enroll_phone("ann", Some(SECRET), None, Some(PHONE));
    let out = check(&env);
    let text = unwrapped(&format!("{}{}", stdout(&out), stderr(&out)));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("codes by text message cannot be sent, and logins that need one are refused"), "{text}");
}

/// The next message, which must be a visible prompt (echo on) with this text.
fn visible_prompt(s: &mut Session, text: &str) {
    let m = s.next();
    assert_eq!((m.style.as_str(), m.text.as_str()), ("prompt_echo_on", text), "{:?}", s.seen);
}

#[test]
fn a_new_user_sets_up_a_typed_number_at_login_confirmed_through_the_http_gateway() {
    let (env, gateway) =
        http_setup("[policy]\nenroll_at_login = true\nenroll_methods = [\"app\", \"text\"]\n", "/v1/messages");
    let mut s = Session::start(&env, "newbie");
    let menu = s.next();
    assert!(menu.text.contains("\n  text   text messages to your mobile phone"), "{menu:?}");
    visible_prompt(&mut s, "Type app or text: ");
    s.answer("text");
    visible_prompt(&mut s, "Mobile number with country code, e.g. +1 555 123 4567: ");
    s.answer("+1 555 123-4567");
    assert_eq!(
        s.said("info"),
        "A code was sent by text message to •••• ••• 4567. It is valid for 10 minutes. \
         Type it to confirm the number, or press Enter to go back."
    );
    s.prompt(PLAIN);
    let (_, _, fields) = posted(&gateway, 1);
    assert_eq!(field(&fields, "To"), PHONE, "the typed number, in E.164 form");
    let code = code_in_text(field(&fields, "Body"));
    assert!(env.store().record("newbie").unwrap().is_none(), "nothing saved before the code");
    s.answer(&code);
    let told = s.said("info");
    assert!(told.starts_with("Two-step verification is set up."), "{told}");
    assert!(s.finish().succeeded());
    assert_eq!(env.store().record("newbie").unwrap().unwrap().phone.as_deref(), Some(PHONE));
    let logs = env.log_lines();
    for result in ["contact_offered", "contact_verified", "enrolled"] {
        let want = format!("result={result} method=sms to=****4567");
        assert!(logs.iter().any(|l| l.contains("user=newbie") && l.contains(&want)), "{want}: {logs:?}");
    }
    assert!(!logs.iter().any(|l| l.contains(&code) || l.contains(TOKEN) || l.contains("5551234567")), "{logs:?}");

    // The next login: a text-only user, the code comes through the gateway without asking.
    let mut s = Session::start(&env, "newbie");
    assert_eq!(s.said("info"), SENT);
    s.prompt(PLAIN);
    s.answer(&code_in_text(field(&posted(&gateway, 2).2, "Body")));
    assert!(s.finish().succeeded());
}

#[test]
fn a_wrong_confirmation_code_through_real_pam_saves_nothing_and_counts_no_failure() {
    let (env, gateway) = http_setup("[policy]\nenroll_at_login = true\nenroll_methods = [\"text\"]\n", "/v1/messages");
    // One method: no menu. Ctrl-D after one wrong code.
    let t = env.login("newbie", &["+15551234567", "000000"]);
    assert_eq!(t.result, "PAM_CONV_ERR", "{t:?}");
    let code = code_in_text(field(&posted(&gateway, 1).2, "Body"));
    assert_ne!(code, "000000");
    assert!(t.said().contains("That code does not match. 2 more tries for this code."), "{t:?}");
    assert!(env.store().record("newbie").unwrap().is_none());
    let tally = env.store().tally("newbie").unwrap();
    assert_eq!((tally.failures.len(), tally.contact_code.map(|c| c.tries)), (0, Some(1)));
    let logs = env.log_lines();
    assert!(logs.iter().any(|l| l.contains("result=contact_failed method=sms to=****4567")), "{logs:?}");
}

const PW_PAM: &str = "pam-config/pam.d/sshd";
const PW_SSHD: &str = "pam-config/sshd_config.d/10-twostep-password.conf";
const PASSWORD: &str = "Password: ";

/// The answer the e2e drivers type at a prompt: the code of the gateway's
/// request `n`, read from what it recorded once it arrives.
fn code_from_gateway(gateway: &Server, n: usize) -> String {
    from_file(&gateway.outdir.join(format!("{n:03}.json")), r"Body=(\d{6})\+is\+your")
}

#[test]
fn a_text_code_through_the_http_gateway_logs_in_over_a_real_sshd() {
    let (env, gateway) = http_setup("", "/v1/messages");
    let user = TestUser::new();
    env.enroll_phone(&user.name, Some(SECRET), None, Some(PHONE));
    let sshd = Sshd::start(&env, &user, PW_PAM, PW_SSHD);
    let answers = [
        (PASSWORD, vec![user.password.clone()]),
        (WITH_TEXT, vec!["text".to_string()]),
        (PLAIN, vec![code_from_gateway(&gateway, 1)]),
    ];
    let run = paramiko(&sshd, &user, None, &answers, "id -un");
    assert!(run.ok, "{run:?}\n{}", sshd.log_text());
    assert_eq!(run.stdout.trim(), user.name);
    assert_eq!(run.prompts().len(), 3, "{run:?}");
    assert!(unwrapped(run.prompts()[2]).starts_with(SENT), "the notice in front of the prompt: {run:?}");
    let (_, headers, fields) = posted(&gateway, 1);
    assert_eq!((field(&fields, "To"), &headers["Authorization"]), (PHONE, &format!("Bearer {TOKEN}").into()));
    let code = code_in_text(field(&fields, "Body"));
    let logs = env.log_lines();
    let ok = format!("user={} service={} rhost=127.0.0.1 result=success method=sms", user.name, sshd.service());
    assert!(logs.iter().any(|l| l.contains(&ok)), "{logs:?}");
    assert!(!logs.iter().any(|l| l.contains(&code) || l.contains(TOKEN)), "{logs:?}");

    // Used once: the same code again over sshd is refused.
    let again = [(PASSWORD, vec![user.password.clone()]), (WITH_TEXT, vec![code])];
    let run = paramiko(&sshd, &user, None, &again, "true");
    assert!(!run.ok && run.instructions().contains("Incorrect verification code. 4 attempts remain"), "{run:?}");
    assert_eq!(gateway.received("json").len(), 1, "one text sent in all");
}

#[test]
fn the_lockout_counts_app_text_and_backup_codes_alike_over_a_real_sshd() {
    let (env, gateway) = http_setup("[lockout]\ndeny = 3\nunlock_time = 600", "/v1/messages");
    let user = TestUser::new();
    env.enroll_phone(&user.name, Some(SECRET), None, Some(PHONE));
    let sshd = Sshd::start(&env, &user, PW_PAM, PW_SSHD);
    // OpenSSH's three rounds: a wrong app code; a text asked for, then a wrong
    // code; a wrong 8-digit (backup) code, which locks.
    let wrong = wrong_code(SECRET);
    let argv = sshd.ssh_argv(&user, "keyboard-interactive", &[], "true");
    let answers = [
        (PASSWORD, times(&user.password, 3)),
        (WITH_TEXT, vec![wrong.clone(), "text".into(), "0000 0000".into()]),
        (PLAIN, vec![wrong]),
    ];
    let run = pty(&argv, &answers, &[]);
    assert_ne!(run.exit, Some(0), "{run:?}");
    let seen = unwrapped(&run.transcript);
    for told in [
        "Incorrect verification code. 2 attempts remain",
        SENT,
        "Incorrect verification code. 1 attempt remains",
        "Incorrect verification code. Too many incorrect codes. Try again after ",
    ] {
        assert!(seen.contains(told), "{told:?} not in {seen}");
    }
    let logs = env.log_lines();
    for (result, method) in
        [("wrong_code", "totp"), ("wrong_code", "sms"), ("wrong_code", "backup"), ("locked", "backup")]
    {
        let want = format!("result={result} method={method}");
        assert!(logs.iter().any(|l| l.contains(&user.name) && l.contains(&want)), "{want}: {logs:?}");
    }

    // Locked: the text code still pending is not even asked for.
    let pending = [(PASSWORD, vec![user.password.clone()]), (PLAIN, vec![code_from_gateway(&gateway, 1)])];
    let run = paramiko(&sshd, &user, None, &pending, "true");
    assert!(!run.ok && run.instructions().contains("Too many incorrect codes"), "{run:?}");
    assert_eq!(run.prompts(), [PASSWORD], "{run:?}");
    assert_eq!(gateway.received("json").len(), 1);
    assert!(env.store().tally(&user.name).unwrap().sms_code.is_some(), "still pending, unjudged");
}
