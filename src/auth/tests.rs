//! The login flow in process: [`Login`] driven through test doubles of its
//! five seams (a scripted conversation, a recording log, fixed accounts, a
//! recording mailer, a clock the test sets), on real files in a temp
//! directory owned by whoever runs the tests. Milliseconds each, no root.
//!
//! The scripted conversation is kanidm's idea: every step is expected in
//! order, and dropping the script with steps left fails the test.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::rc::Rc;

use zeroize::Zeroizing;

use super::text::{PROMPT, PROMPT_WITH_EMAIL};
use super::{ConvError, Conversation, Login, Outcome, Request};
use crate::config::{Config, EmailConfig};
use crate::log::{AuditLog, Level};
use crate::secret::TotpSecret;
use crate::sendmail::{Mailer, Message, SendError};
use crate::store::UserStore;
use crate::store::record::UserRecord;
use crate::store::tally::Tally;
use crate::time::Clock;
use crate::totp;
use crate::trusted_fs::{Owner, private_tempdir};
use crate::user::{Account, Accounts, AccountsError};

const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const T0: u64 = 1_800_000_000;

/// An answer computed from the texts shown so far.
type Answer = Box<dyn FnOnce(&[String]) -> String>;

/// One expected step of the conversation.
enum Step {
    /// A prompt with exactly this text, answered with the given line.
    Ask(&'static str, String),
    /// A prompt with exactly this text that the user aborts (Ctrl-D).
    Abort(&'static str),
    /// An info message containing this text.
    Info(&'static str),
    /// An error message containing this text.
    Error(&'static str),
    /// An answer computed when the prompt comes (e.g. the code for a secret just shown).
    AskWith(&'static str, Answer),
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Ask(p, a) => write!(f, "Ask({p:?}, {a:?})"),
            Step::Abort(p) => write!(f, "Abort({p:?})"),
            Step::Info(t) => write!(f, "Info({t:?})"),
            Step::Error(t) => write!(f, "Error({t:?})"),
            Step::AskWith(p, _) => write!(f, "AskWith({p:?}, <computed>)"),
        }
    }
}

/// The user, as a script; panics on anything unexpected, and on drop if steps are left.
#[derive(Default)]
struct Script {
    steps: VecDeque<Step>,
    /// Every text shown so far (for computed answers).
    shown: Vec<String>,
}

impl Script {
    fn new(steps: Vec<Step>) -> Script {
        Script { steps: steps.into(), shown: Vec::new() }
    }

    fn next(&mut self, what: &str, text: &str) -> Step {
        self.steps.pop_front().unwrap_or_else(|| panic!("unexpected {what} {text:?}; shown so far: {:?}", self.shown))
    }
}

impl Conversation for Script {
    fn ask(&mut self, prompt: &str) -> Result<Zeroizing<String>, ConvError> {
        match self.next("prompt", prompt) {
            Step::Ask(p, answer) if p == prompt => Ok(Zeroizing::new(answer)),
            Step::AskWith(p, answer) if p == prompt => Ok(Zeroizing::new(answer(&self.shown))),
            Step::Abort(p) if p == prompt => Err(ConvError),
            other => panic!("prompt {prompt:?}, but the script expected {other:?}; shown: {:?}", self.shown),
        }
    }

    fn info(&mut self, text: &str) -> Result<(), ConvError> {
        self.shown.push(text.to_string());
        match self.next("info", text) {
            Step::Info(want) if unwrap(text).contains(want) => Ok(()),
            other => panic!("info {text:?}, but the script expected {other:?}"),
        }
    }

    fn error(&mut self, text: &str) -> Result<(), ConvError> {
        self.shown.push(text.to_string());
        match self.next("error", text) {
            Step::Error(want) if unwrap(text).contains(want) => Ok(()),
            other => panic!("error {text:?}, but the script expected {other:?}"),
        }
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert!(self.steps.is_empty(), "the login ended with steps left: {:?}", self.steps);
        }
    }
}

/// Prose as one line (the texts are wrapped at 72 columns).
fn unwrap(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[derive(Default)]
struct RecordingLog(Vec<(Level, String)>);

impl AuditLog for RecordingLog {
    fn log(&mut self, level: Level, line: &str) {
        self.0.push((level, line.to_string()));
    }
}

impl RecordingLog {
    fn results(&self) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|(_, l)| l.split(' ').find_map(|f| f.strip_prefix("result=")).map(str::to_string))
            .collect()
    }
}

/// NSS as a table: name → (canonical name, uid, groups).
#[derive(Default)]
struct FixedAccounts(HashMap<String, (String, u32, Vec<String>)>);

impl FixedAccounts {
    fn with(mut self, name: &str, uid: u32, groups: &[&str]) -> FixedAccounts {
        self.0.insert(name.into(), (name.into(), uid, groups.iter().map(|g| g.to_string()).collect()));
        self
    }
}

impl Accounts for FixedAccounts {
    fn lookup(&self, user: &str) -> Result<Option<Account>, AccountsError> {
        Ok(self.0.get(user).map(|a| Account { name: a.0.clone(), uid: a.1 }))
    }
    fn groups(&self, user: &str) -> Result<Option<Vec<String>>, AccountsError> {
        Ok(self.0.get(user).map(|a| a.2.clone()))
    }
}

/// Keeps what it was asked to send (shared, so a scripted answer can read
/// the code just sent); fails when told to.
#[derive(Default)]
struct RecordingMailer {
    sent: Rc<RefCell<Vec<String>>>,
    fail: bool,
}

impl Mailer for RecordingMailer {
    fn send(&mut self, _cfg: &EmailConfig, message: &Message) -> Result<(), SendError> {
        if self.fail {
            use std::os::unix::process::ExitStatusExt;
            let status = std::process::ExitStatus::from_raw(75 << 8);
            return Err(SendError::Failed { program: "sendmail".into(), status, output: "temporary failure".into() });
        }
        self.sent.borrow_mut().push(message.text().to_string());
        Ok(())
    }
}

/// The code in the last message of `sent`.
fn last_code(sent: &RefCell<Vec<String>>) -> String {
    let sent = sent.borrow();
    let m = sent.last().expect("a message was sent");
    m.lines().map(str::trim).find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit())).unwrap().into()
}

/// A clock the test moves.
struct TestClock(Cell<u64>);

impl Clock for TestClock {
    fn now(&self) -> u64 {
        self.0.get()
    }
}

/// A private installation: config text, the state directories, the doubles.
struct World {
    dir: tempfile::TempDir,
    cfg: Config,
    accounts: FixedAccounts,
    mailer: RecordingMailer,
    clock: Rc<TestClock>,
    log: RecordingLog,
}

impl World {
    fn new(extra: &str) -> World {
        let dir = private_tempdir();
        let text = format!("secrets_dir = \"{0}/secrets\"\ntally_dir = \"{0}/tally\"\n{extra}\n", dir.path().display());
        let cfg = Config::parse(Path::new("/test/twostep.toml"), &text).unwrap();
        let world = World {
            dir,
            cfg,
            accounts: FixedAccounts::default(),
            mailer: RecordingMailer::default(),
            clock: Rc::new(TestClock(Cell::new(T0))),
            log: RecordingLog::default(),
        };
        world.store(); // creates the records directory
        world
    }

    fn store(&self) -> UserStore {
        UserStore::for_admin(&self.cfg.secrets_dir, &self.cfg.tally_dir, Owner::current()).unwrap()
    }

    fn enroll(&self, user: &str, secret: Option<&str>, email: Option<&str>) {
        let rec = UserRecord {
            secret: secret.map(|s| TotpSecret::from_base32(s).unwrap()),
            email: email.map(str::to_string),
            enabled: true,
            created: T0,
        };
        self.store().change(user, |u| u.save_record(rec)).unwrap();
    }

    fn tally(&self, user: &str) -> Tally {
        self.store().tally(user).unwrap()
    }

    /// The app's code `delta` steps from the clock's now.
    fn code(&self, delta: i64) -> String {
        code_for(SECRET, &self.cfg, self.clock.now(), delta)
    }

    fn login(&mut self, user: &str, steps: Vec<Step>) -> Outcome {
        let mut script = Script::new(steps);
        self.login_with(&mut script, user)
    }

    /// A login with another conversation double than the plain script.
    fn login_with(&mut self, conv: &mut dyn Conversation, user: &str) -> Outcome {
        let mut login = Login {
            req: Request { user, typed: None, uid: None, service: "sshd", rhost: "192.0.2.7", debug: false },
            conv,
            log: &mut self.log,
            accounts: &self.accounts,
            mailer: &mut self.mailer,
            clock: &*self.clock,
        };
        login.authenticate_with(&self.cfg, Owner::current())
    }

    fn advance(&self, secs: u64) {
        self.clock.0.set(self.clock.0.get() + secs);
    }
}

fn code_for(secret: &str, cfg: &Config, now: u64, delta: i64) -> String {
    let s = TotpSecret::from_base32(secret).unwrap();
    let step = totp::step_at(&cfg.totp, now).checked_add_signed(delta).unwrap();
    totp::code_at_step(&s, &cfg.totp, step).to_string()
}

/// A code that is wrong at every step of the window around `now`.
fn wrong(cfg: &Config, now: u64) -> String {
    let window: Vec<String> = (-2..=2).map(|d| code_for(SECRET, cfg, now, d)).collect();
    (0..1_000_000).map(|n| format!("{n:06}")).find(|c| !window.contains(c)).unwrap()
}

use Step::{Abort, Ask, AskWith, Error, Info};

#[test]
fn the_right_code_lets_the_user_in_and_a_replay_is_refused() {
    let mut w = World::new("");
    w.enroll("alice", Some(SECRET), None);
    let code = w.code(0);
    assert_eq!(w.login("alice", vec![Ask(PROMPT, code.clone())]), Outcome::Success);
    let replay = vec![Ask(PROMPT, code), Error("already used")];
    assert_eq!(w.login("alice", replay), Outcome::Denied);
    assert_eq!(w.log.results(), ["success", "replay"]);
    assert_eq!(w.tally("alice").failures, vec![T0], "a replay counts as a failure");
}

#[test]
fn five_wrong_codes_lock_until_unlock_time_passes() {
    let mut w = World::new("[lockout]\nunlock_time = 600");
    w.enroll("alice", Some(SECRET), None);
    let bad = wrong(&w.cfg, T0);
    for left in ["4 attempts remain", "3 attempts", "2 attempts", "1 attempt remains"] {
        assert_eq!(w.login("alice", vec![Ask(PROMPT, bad.clone()), Error(left)]), Outcome::Denied);
    }
    let fifth = vec![Ask(PROMPT, bad.clone()), Error("Too many incorrect codes. Try again after")];
    assert_eq!(w.login("alice", fifth), Outcome::Denied);
    // Locked: refused without a prompt, even with the right code in hand.
    w.advance(599);
    assert_eq!(w.login("alice", vec![Error("Too many incorrect codes")]), Outcome::Denied);
    // The lock ends by time alone.
    w.advance(1);
    let code = w.code(0);
    assert_eq!(w.login("alice", vec![Ask(PROMPT, code)]), Outcome::Success);
    assert_eq!(w.tally("alice").failures, Vec::<u64>::new());
}

#[test]
fn root_is_not_locked_when_even_deny_root_is_off() {
    let mut w = World::new("[lockout]\neven_deny_root = false");
    w.accounts = FixedAccounts::default().with("root", 0, &["root"]);
    w.enroll("root", Some(SECRET), None);
    let bad = wrong(&w.cfg, T0);
    for _ in 0..7 {
        assert_eq!(
            w.login("root", vec![Ask(PROMPT, bad.clone()), Error("Incorrect verification code.")]),
            Outcome::Denied
        );
    }
    let code = w.code(0);
    assert_eq!(w.login("root", vec![Ask(PROMPT, code)]), Outcome::Success);
}

#[test]
fn grace_logins_count_down_then_refuse() {
    let mut w = World::new("[policy]\ngrace_logins = 2");
    assert_eq!(w.login("newbie", vec![Info("without it 1 more time")]), Outcome::Ignore);
    assert_eq!(w.login("newbie", vec![Info("This was the last login allowed")]), Outcome::Ignore);
    assert_eq!(w.login("newbie", vec![Error("logins allowed without it are used up")]), Outcome::Denied);
    assert_eq!(w.tally("newbie").grace_used, 2);
}

#[test]
fn enrollment_at_login_saves_the_secret_only_after_a_right_code() {
    let mut w = World::new("[policy]\nenroll_at_login = true");
    let (cfg, now) = (w.cfg.clone(), T0);
    let code_for_shown = move |shown: &[String]| {
        let all = shown.join("\n");
        let uri = all.split_whitespace().find(|s| s.starts_with("otpauth://")).unwrap();
        let secret = uri.split(['?', '&']).find_map(|p| p.strip_prefix("secret=")).unwrap();
        code_for(secret, &cfg, now, 0)
    };
    let steps = vec![
        Info("Set it up now"),
        Info(""), // the QR code
        Info("Cannot scan?"),
        Info("3. Type the code the app shows."),
        Ask(PROMPT, wrong(&w.cfg, T0)),
        Error("That code does not match."),
        AskWith(PROMPT, Box::new(code_for_shown)),
        Info("Two-step verification is set up."),
    ];
    assert_eq!(w.login("newbie", steps), Outcome::Success);
    let rec = w.store().record("newbie").unwrap().expect("saved");
    assert!(rec.secret.is_some() && rec.enabled);
    assert!(w.tally("newbie").last_step.is_some(), "the confirming code cannot be replayed");
    assert!(w.tally("newbie").failures.is_empty(), "a wrong confirmation is not a failed code");
}

#[test]
fn an_aborted_enrollment_saves_nothing() {
    let mut w = World::new("[policy]\nenroll_at_login = true");
    let steps = vec![Info("Set it up now"), Info(""), Info("Cannot scan?"), Info("3."), Abort(PROMPT)];
    assert_eq!(w.login("newbie", steps), Outcome::Aborted);
    assert!(w.store().record("newbie").unwrap().is_none());
}

#[test]
fn an_email_code_works_once_and_asking_again_is_throttled() {
    let mut w = World::new("");
    w.enroll("jane", Some(SECRET), Some("jane@district.example"));
    let steps = vec![
        Ask(PROMPT_WITH_EMAIL, "email".into()),
        Info("A verification code was sent to j***@district.example."),
        Ask(PROMPT, "email".into()),
        Info("A code was already sent to j***@district.example"),
        Abort(PROMPT),
    ];
    assert_eq!(w.login("jane", steps), Outcome::Aborted);
    assert_eq!(w.mailer.sent.borrow().len(), 1, "the throttle sent nothing more");
    let code = last_code(&w.mailer.sent);
    w.advance(60);
    assert_eq!(w.login("jane", vec![Ask(PROMPT_WITH_EMAIL, code.clone())]), Outcome::Success);
    let again = vec![Ask(PROMPT_WITH_EMAIL, code), Error("Incorrect verification code.")];
    assert_eq!(w.login("jane", again), Outcome::Denied, "single use");
}

#[test]
fn an_email_code_expires_by_the_clock_at_the_answer() {
    // The code is typed 601 s after it was sent, inside the same login: judged
    // by the clock at the answer, not at the start of the login.
    let mut w = World::new("[lockout]\nanswer_timeout = 3600");
    w.enroll("erin", None, Some("erin@district.example"));
    let sent = Rc::clone(&w.mailer.sent);
    let mut script = Script::new(vec![
        Info("was sent to"),
        AskWith(PROMPT, Box::new(move |_| last_code(&sent))),
        Error("That email code has expired"),
    ]);
    assert_eq!(w.login_with(&mut slow_user(&mut script, Rc::clone(&w.clock), 601), "erin"), Outcome::Denied);
    assert!(w.tally("erin").failures.is_empty(), "the right code, too late: not a guess");
}

#[test]
fn a_failing_mail_command_takes_the_reserved_code_back() {
    let mut w = World::new("");
    w.enroll("jane", Some(SECRET), Some("jane@district.example"));
    w.mailer.fail = true;
    let steps = vec![Ask(PROMPT_WITH_EMAIL, "email".into()), Error("could not be sent by email")];
    assert_eq!(w.login("jane", steps), Outcome::Denied);
    assert_eq!(w.tally("jane").email_code, None, "no code is pending that never left");
    assert!(w.log.0.iter().any(|(_, l)| l.contains("result=mail_failed") && l.contains("exit status 75")));
    // The user may ask again at once, now that mail works.
    w.mailer.fail = false;
    let steps = vec![Ask(PROMPT_WITH_EMAIL, "email".into()), Info("was sent to"), Abort(PROMPT)];
    assert_eq!(w.login("jane", steps), Outcome::Aborted);
    assert_eq!(w.mailer.sent.borrow().len(), 1);
}

#[test]
fn an_answer_after_answer_timeout_is_refused_unjudged() {
    let mut w = World::new("[lockout]\nanswer_timeout = 60");
    w.enroll("alice", Some(SECRET), None);
    let mut script = Script::new(vec![Ask(PROMPT, wrong(&w.cfg, T0)), Error("That took too long")]);
    assert_eq!(w.login_with(&mut slow_user(&mut script, Rc::clone(&w.clock), 61), "alice"), Outcome::Denied);
    assert!(w.tally("alice").failures.is_empty());
    assert_eq!(w.log.results(), ["answer_timeout"]);
}

/// The script, with something happening in the world after each answer is
/// typed and before the module gets it: time passing, an administrator acting.
struct ThenEachAnswer<'a> {
    inner: &'a mut Script,
    then: Box<dyn FnMut() + 'a>,
}

impl Conversation for ThenEachAnswer<'_> {
    fn ask(&mut self, prompt: &str) -> Result<Zeroizing<String>, ConvError> {
        let answer = self.inner.ask(prompt);
        (self.then)();
        answer
    }
    fn info(&mut self, text: &str) -> Result<(), ConvError> {
        self.inner.info(text)
    }
    fn error(&mut self, text: &str) -> Result<(), ConvError> {
        self.inner.error(text)
    }
}

/// A user who takes `delay` seconds to answer each prompt.
fn slow_user(script: &mut Script, clock: Rc<TestClock>, delay: u64) -> ThenEachAnswer<'_> {
    ThenEachAnswer { inner: script, then: Box::new(move || clock.0.set(clock.0.get() + delay)) }
}

#[test]
fn a_group_rule_refuses_a_user_nss_does_not_know() {
    let mut w = World::new("[policy]\nrequired_groups = [\"staff\"]");
    assert_eq!(w.login("ghost", vec![Error("unavailable")]), Outcome::Denied);
    assert_eq!(w.log.results(), ["denied"]);
    w.accounts = FixedAccounts::default().with("pat", 1000, &["users"]);
    assert_eq!(w.login("pat", vec![]), Outcome::Ignore, "known, not in staff: not required");
    w.accounts = FixedAccounts::default().with("sam", 1001, &["staff"]);
    assert_eq!(w.login("sam", vec![Error("not set up")]), Outcome::Denied);
}

#[test]
fn a_disabled_user_is_not_asked_and_a_reset_reaches_a_waiting_login() {
    let mut w = World::new("");
    w.enroll("bob", Some(SECRET), None);
    w.store()
        .change("bob", |u| {
            let r = u.record()?.cloned().unwrap();
            u.save_record(UserRecord { enabled: false, ..r })
        })
        .unwrap();
    assert_eq!(w.login("bob", vec![]), Outcome::Ignore);

    w.enroll("carol", Some(SECRET), None);
    let store = w.store();
    let mut script = Script::new(vec![Ask(PROMPT, w.code(0)), Error("changed meanwhile")]);
    // The administrator runs `twostep reset` while the user reads the prompt.
    let reset = || {
        store
            .change("carol", |u| -> Result<(), crate::store::files::StoreError> {
                u.remove_record()?;
                u.remove_tally()?;
                Ok(())
            })
            .unwrap()
    };
    let mut resetting = ThenEachAnswer { inner: &mut script, then: Box::new(reset) };
    assert_eq!(w.login_with(&mut resetting, "carol"), Outcome::Denied);
    assert!(w.tally("carol").failures.is_empty(), "not judged, not counted");
}

#[test]
fn the_store_files_are_owned_by_whoever_runs_the_tests() {
    // The point of `Owner`: these tests need no root.
    let w = World::new("");
    w.enroll("alice", Some(SECRET), None);
    let meta = std::fs::metadata(w.dir.path().join("secrets/alice")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), Owner::current().0);
}

#[test]
fn a_trusted_network_skips_the_code_for_enrolled_unenrolled_and_locked_users() {
    // The test logins come from 192.0.2.7.
    let mut w = World::new("[policy]\ntrusted_networks = [\"198.51.100.0/24\", \"192.0.2.0/24\"]");
    w.enroll("alice", Some(SECRET), None);
    assert_eq!(w.login("alice", vec![]), Outcome::Ignore, "enrolled: not asked");
    assert_eq!(w.login("nobody", vec![]), Outcome::Ignore, "required but not enrolled: not refused");
    let locked = Tally { failures: vec![T0; 5], locked_at: Some(T0), ..Tally::default() };
    w.store().change("alice", |u| u.update_tally(|t| *t = locked.clone())).unwrap();
    assert_eq!(w.login("alice", vec![]), Outcome::Ignore, "locked: still not asked");
    assert_eq!(w.tally("alice"), locked, "nor is the lock changed");
    assert_eq!(w.log.results(), ["ignored", "ignored", "ignored"]);
    assert!(
        w.log.0.iter().all(|(_, l)| l.contains("rhost=192.0.2.7 result=ignored method=none")
            && l.ends_with("reason=\"trusted network 192.0.2.0/24\"")),
        "{:?}",
        w.log.0
    );
}

#[test]
fn a_login_from_outside_the_trusted_networks_is_asked_as_usual() {
    let mut w = World::new(
        "[policy]\ntrusted_networks = [\"192.0.2.0/24\"]\n[services.sshd]\ntrusted_networks = [\"192.0.2.8/32\"]",
    );
    w.enroll("alice", Some(SECRET), None);
    let code = w.code(0);
    assert_eq!(w.login("alice", vec![Ask(PROMPT, code)]), Outcome::Success, "sshd's own list replaces [policy]'s");
    assert_eq!(w.login("nobody", vec![Error("not set up")]), Outcome::Denied);
}

#[test]
fn a_damaged_record_refuses_a_login_from_a_trusted_network() {
    let mut w = World::new("[policy]\ntrusted_networks = [\"192.0.2.0/24\"]");
    crate::trusted_fs::write_atomic(&w.cfg.secrets_dir, "alice", b"\xff\xfe").unwrap();
    assert_eq!(w.login("alice", vec![Error("unavailable")]), Outcome::Unavailable, "fail closed");
}
