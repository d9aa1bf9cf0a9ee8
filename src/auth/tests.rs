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

use super::text::{CHOOSE_TEXT_OR_EMAIL, PROMPT, PROMPT_WITH_EMAIL, PROMPT_WITH_TEXT, PROMPT_WITH_TEXT_OR_EMAIL};
use super::text::{EMAIL_NOT_SET_UP, TEXT_EXPIRED, TEXT_NOT_SET_UP};
use super::{ConvError, Conversation, Login, Outcome, Request};
use crate::command::RunError;
use crate::config::{Config, EmailConfig, SmsConfig};
use crate::log::{AuditLog, Level};
use crate::secret::TotpSecret;
use crate::sendmail::{Mailer, Message, SendError};
use crate::sms::{SmsError, SmsSender, TextMessage};
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
    /// A prompt whose answer is shown as it is typed (a choice, a number).
    Type(&'static str, String),
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Ask(p, a) => write!(f, "Ask({p:?}, {a:?})"),
            Step::Abort(p) => write!(f, "Abort({p:?})"),
            Step::Info(t) => write!(f, "Info({t:?})"),
            Step::Error(t) => write!(f, "Error({t:?})"),
            Step::AskWith(p, _) => write!(f, "AskWith({p:?}, <computed>)"),
            Step::Type(p, a) => write!(f, "Type({p:?}, {a:?})"),
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

    fn ask_visible(&mut self, prompt: &str) -> Result<Zeroizing<String>, ConvError> {
        match self.next("visible prompt", prompt) {
            Step::Type(p, answer) if p == prompt => Ok(Zeroizing::new(answer)),
            Step::Abort(p) if p == prompt => Err(ConvError),
            other => panic!("visible prompt {prompt:?}, but the script expected {other:?}; shown: {:?}", self.shown),
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
            return Err(SendError(RunError::Failed {
                program: "sendmail".into(),
                status,
                output: "temporary failure".into(),
            }));
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

/// Keeps the texts it was asked to send, as (number, text); fails when told to.
#[derive(Default)]
struct RecordingSms {
    sent: Rc<RefCell<Vec<(String, String)>>>,
    fail: bool,
}

impl SmsSender for RecordingSms {
    fn send(&mut self, _cfg: &SmsConfig, message: &TextMessage) -> Result<(), SmsError> {
        if self.fail {
            return Err(SmsError(RunError::TimedOut { program: "/usr/bin/sms".into(), secs: 10 }));
        }
        self.sent.borrow_mut().push((message.to().to_string(), message.text().to_string()));
        Ok(())
    }
}

/// The code in the last text of `sent` (its first word).
fn last_text_code(sent: &RefCell<Vec<(String, String)>>) -> String {
    let sent = sent.borrow();
    let (_, text) = sent.last().expect("a text was sent");
    text.split(' ').next().unwrap().to_string()
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
    sms: RecordingSms,
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
            sms: RecordingSms::default(),
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
        self.enroll_phone(user, secret, email, None);
    }

    fn enroll_phone(&self, user: &str, secret: Option<&str>, email: Option<&str>, phone: Option<&str>) {
        let rec = UserRecord {
            secret: secret.map(|s| TotpSecret::from_base32(s).unwrap()),
            email: email.map(str::to_string),
            phone: phone.map(str::to_string),
            enabled: true,
            created: T0,
            ..UserRecord::default()
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
            sms: &mut self.sms,
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

use Step::{Abort, Ask, AskWith, Error, Info, Type};

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

// ---- text messages and the method menu ----

/// `[sms]` with a command (never run here: the recording double sends).
const SMS: &str = "[sms]\ncommand = [\"/usr/local/bin/send-sms\", \"{phone}\"]\n";
const PHONE: &str = "+15551234567";

fn line_with<'a>(log: &'a RecordingLog, needle: &str) -> Option<&'a str> {
    log.0.iter().map(|(_, l)| l.as_str()).find(|l| l.contains(needle))
}

#[test]
fn an_app_only_user_gets_the_plain_prompt_and_asking_for_a_text_is_not_a_failure() {
    let mut w = World::new(SMS);
    w.enroll("alice", Some(SECRET), None);
    let code = w.code(0);
    let steps = vec![
        Ask(PROMPT, "text".into()),
        Error(TEXT_NOT_SET_UP),
        Ask(PROMPT, "email".into()),
        Error(EMAIL_NOT_SET_UP),
        Ask(PROMPT, code),
    ];
    assert_eq!(w.login("alice", steps), Outcome::Success);
    assert!(w.sms.sent.borrow().is_empty() && w.mailer.sent.borrow().is_empty());
    assert_eq!(w.log.results(), ["not_set_up", "not_set_up", "success"]);
    assert!(line_with(&w.log, "method=sms").unwrap().contains("no phone number on file"));
}

#[test]
fn a_text_only_user_gets_a_text_without_asking() {
    let mut w = World::new(SMS);
    w.enroll_phone("tom", None, None, Some(PHONE));
    let sent = Rc::clone(&w.sms.sent);
    let steps = vec![
        Info("A verification code was sent by text message to •••• ••• 4567. It is valid for 10 minutes."),
        AskWith(PROMPT, Box::new(move |_| last_text_code(&sent))),
    ];
    assert_eq!(w.login("tom", steps), Outcome::Success);
    let texts = w.sms.sent.borrow();
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0].0, PHONE);
    assert!(texts[0].1.contains(" is your verification code for "), "{:?}", texts[0]);
    assert_eq!(w.log.results(), ["sms_sent", "success"]);
    assert!(line_with(&w.log, "result=sms_sent").unwrap().contains("method=sms to=****4567"), "{:?}", w.log.0);
    assert!(line_with(&w.log, "result=success").unwrap().contains("method=sms"));
    let t = w.tally("tom");
    assert_eq!((t.sms_code, t.email_code), (None, None), "single use");
}

#[test]
fn with_an_app_and_a_phone_the_app_code_goes_straight_in_and_text_sends_one() {
    let mut w = World::new(SMS);
    w.enroll_phone("ann", Some(SECRET), None, Some(PHONE));
    let code = w.code(0);
    assert_eq!(w.login("ann", vec![Ask(PROMPT_WITH_TEXT, code)]), Outcome::Success);
    assert!(w.sms.sent.borrow().is_empty(), "nothing sent to a user who typed the app's code");

    w.advance(30);
    let sent = Rc::clone(&w.sms.sent);
    let steps = vec![
        Ask(PROMPT_WITH_TEXT, "Text".into()),
        Info("sent by text message to •••• ••• 4567"),
        AskWith(PROMPT, Box::new(move |_| last_text_code(&sent))),
    ];
    assert_eq!(w.login("ann", steps), Outcome::Success);
    assert_eq!(w.log.results(), ["success", "sms_sent", "success"]);
    assert!(line_with(&w.log, "method=sms").is_some());
}

#[test]
fn with_three_methods_one_prompt_offers_both_and_says_where_codes_go() {
    let mut w = World::new(SMS);
    w.enroll_phone("jane", Some(SECRET), Some("jane@district.example"), Some(PHONE));
    let steps = vec![
        Info("A code can be sent by text message to •••• ••• 4567 or by email to j***@district.example."),
        Ask(PROMPT_WITH_TEXT_OR_EMAIL, "text".into()),
        Info("sent by text message"),
        // The text does not come: email as well, in the same login.
        Ask(PROMPT, "email".into()),
        Info("was sent to j***@district.example"),
        Abort(PROMPT),
    ];
    assert_eq!(w.login("jane", steps), Outcome::Aborted);
    let (text_code, mail_code) = (last_text_code(&w.sms.sent), last_code(&w.mailer.sent));
    let t = w.tally("jane");
    assert!(t.sms_code.is_some() && t.email_code.is_some(), "both pending");
    // Either works (here the email one) and retires the other.
    let first = vec![Info("can be sent"), Ask(PROMPT_WITH_TEXT_OR_EMAIL, mail_code)];
    assert_eq!(w.login("jane", first), Outcome::Success);
    assert_eq!(w.tally("jane").sms_code, None);
    let again =
        vec![Info("can be sent"), Ask(PROMPT_WITH_TEXT_OR_EMAIL, text_code), Error("Incorrect verification code.")];
    assert_eq!(w.login("jane", again), Outcome::Denied);
}

#[test]
fn without_an_app_a_user_with_a_phone_and_an_address_chooses() {
    let mut w = World::new(SMS);
    w.enroll_phone("carl", None, Some("carl@district.example"), Some(PHONE));
    let sent = Rc::clone(&w.mailer.sent);
    let steps = vec![
        Info("A code can be sent by text message to"),
        Ask(CHOOSE_TEXT_OR_EMAIL, "email".into()),
        Info("was sent to c***@district.example"),
        AskWith(PROMPT, Box::new(move |_| last_code(&sent))),
    ];
    assert_eq!(w.login("carl", steps), Outcome::Success);
    assert!(w.sms.sent.borrow().is_empty());
    assert!(line_with(&w.log, "result=success").unwrap().contains("method=email"));
}

#[test]
fn a_new_text_waits_for_resend_after_and_then_replaces_the_old_code() {
    let mut w = World::new(&format!("{SMS}resend_after = 60\n"));
    w.enroll_phone("ann", Some(SECRET), None, Some(PHONE));
    let steps = vec![
        Ask(PROMPT_WITH_TEXT, "text".into()),
        Info("sent by text message"),
        Ask(PROMPT, "sms".into()),
        Info("A code was already sent to •••• ••• 4567 at"),
        Abort(PROMPT),
    ];
    assert_eq!(w.login("ann", steps), Outcome::Aborted);
    assert_eq!(w.sms.sent.borrow().len(), 1, "the throttle sent nothing more");
    assert!(line_with(&w.log, "result=sms_throttled").unwrap().contains("next="));
    let old = last_text_code(&w.sms.sent);
    // The email throttle (300 s) is not the text one (60 s).
    w.advance(60);
    let steps = vec![Ask(PROMPT_WITH_TEXT, "text".into()), Info("sent by text message"), Abort(PROMPT)];
    assert_eq!(w.login("ann", steps), Outcome::Aborted);
    assert_eq!(w.sms.sent.borrow().len(), 2);
    let new = last_text_code(&w.sms.sent);
    if old != new {
        let steps = vec![Ask(PROMPT_WITH_TEXT, old), Error("Incorrect verification code.")];
        assert_eq!(w.login("ann", steps), Outcome::Denied, "the replaced code is gone");
    }
    assert_eq!(w.login("ann", vec![Ask(PROMPT_WITH_TEXT, new)]), Outcome::Success);
}

#[test]
fn a_text_code_expires_after_its_own_code_valid_and_is_not_counted() {
    let mut w = World::new(&format!("{SMS}code_valid = 120\nresend_after = 60\n[lockout]\nanswer_timeout = 3600\n"));
    w.enroll_phone("tom", None, None, Some(PHONE));
    let sent = Rc::clone(&w.sms.sent);
    let mut script = Script::new(vec![
        Info("It is valid for 2 minutes."),
        AskWith(PROMPT, Box::new(move |_| last_text_code(&sent))),
        Error(TEXT_EXPIRED),
    ]);
    assert_eq!(w.login_with(&mut slow_user(&mut script, Rc::clone(&w.clock), 121), "tom"), Outcome::Denied);
    assert!(w.tally("tom").failures.is_empty(), "the right code, too late: not a guess");
    assert_eq!(w.tally("tom").sms_code, None, "dropped");
    assert!(line_with(&w.log, "result=expired").unwrap().contains("method=sms"));
}

#[test]
fn wrong_codes_of_every_kind_count_towards_one_lockout() {
    let mut w = World::new(&format!("{SMS}[lockout]\ndeny = 3\nunlock_time = 600\n"));
    w.enroll_phone("jane", Some(SECRET), Some("jane@district.example"), Some(PHONE));
    let bad = wrong(&w.cfg, T0);
    let by_text = vec![
        Info("can be sent"),
        Ask(PROMPT_WITH_TEXT_OR_EMAIL, "text".into()),
        Info("sent by text message"),
        Ask(PROMPT, bad.clone()),
        Error("2 attempts remain"),
    ];
    assert_eq!(w.login("jane", by_text), Outcome::Denied);
    let by_app = vec![Info("can be sent"), Ask(PROMPT_WITH_TEXT_OR_EMAIL, bad.clone()), Error("1 attempt remains")];
    assert_eq!(w.login("jane", by_app), Outcome::Denied);
    let by_email = vec![
        Info("can be sent"),
        Ask(PROMPT_WITH_TEXT_OR_EMAIL, "email".into()),
        Info("was sent to"),
        Ask(PROMPT, bad),
        Error("Too many incorrect codes. Try again after"),
    ];
    assert_eq!(w.login("jane", by_email), Outcome::Denied);
    let wrongs: Vec<&str> =
        w.log.0.iter().map(|(_, l)| l.as_str()).filter(|l| l.contains("result=wrong_code")).collect();
    assert!(
        wrongs[0].contains("method=sms") && wrongs[1].contains("method=totp") && wrongs[2].contains("method=email"),
        "{wrongs:?}"
    );
    // Locked: not asked, nothing sent, even with the pending text code in hand.
    assert_eq!(w.login("jane", vec![Error("Too many incorrect codes")]), Outcome::Denied);
    assert_eq!((w.sms.sent.borrow().len(), w.mailer.sent.borrow().len()), (1, 1));
}

#[test]
fn a_text_only_user_who_is_locked_gets_no_text() {
    let mut w = World::new(&format!("{SMS}[lockout]\ndeny = 1\n"));
    w.enroll_phone("tom", None, None, Some(PHONE));
    let steps = vec![Info("sent by text message"), Ask(PROMPT, "000000x".into()), Error("Too many incorrect codes")];
    assert_eq!(w.login("tom", steps), Outcome::Denied);
    assert_eq!(w.login("tom", vec![Error("Too many incorrect codes")]), Outcome::Denied);
    assert_eq!(w.sms.sent.borrow().len(), 1);
}

#[test]
fn a_phone_on_file_without_an_sms_command_is_not_offered_and_the_log_says_why() {
    let mut w = World::new("");
    w.enroll_phone("ann", Some(SECRET), Some("ann@district.example"), Some(PHONE));
    let code = w.code(0);
    let steps = vec![Ask(PROMPT_WITH_EMAIL, "text".into()), Error(TEXT_NOT_SET_UP), Ask(PROMPT_WITH_EMAIL, code)];
    assert_eq!(w.login("ann", steps), Outcome::Success);
    assert!(line_with(&w.log, "result=not_set_up").unwrap().contains("[sms] command is not set"), "{:?}", w.log.0);
    assert!(w.tally("ann").failures.is_empty());
    // Text messages were the only method: unavailable, with the reason in the log.
    w.enroll_phone("tom", None, None, Some(PHONE));
    assert_eq!(w.login("tom", vec![Error("unavailable")]), Outcome::Denied);
    assert!(line_with(&w.log, "user=tom").unwrap().contains("[sms] command is not set"), "{:?}", w.log.0);
}

#[test]
fn a_failing_sms_command_takes_the_reserved_code_back() {
    let mut w = World::new(SMS);
    w.enroll_phone("ann", Some(SECRET), None, Some(PHONE));
    w.sms.fail = true;
    let steps = vec![Ask(PROMPT_WITH_TEXT, "text".into()), Error("could not be sent by text message")];
    assert_eq!(w.login("ann", steps), Outcome::Denied);
    assert_eq!(w.tally("ann").sms_code, None, "no code is pending that never left");
    assert!(w.tally("ann").failures.is_empty());
    let line = line_with(&w.log, "result=sms_failed").unwrap();
    assert!(line.contains("method=sms") && line.contains("did not finish within 10 seconds"), "{line}");
    w.sms.fail = false;
    let steps = vec![Ask(PROMPT_WITH_TEXT, "text".into()), Info("sent by text message"), Abort(PROMPT)];
    assert_eq!(w.login("ann", steps), Outcome::Aborted, "asked again at once, now that it works");
}

#[test]
fn asking_more_than_three_times_in_one_login_is_judged_as_a_code() {
    let mut w = World::new(SMS);
    w.enroll("alice", Some(SECRET), None);
    let steps = vec![
        Ask(PROMPT, "text".into()),
        Error(TEXT_NOT_SET_UP),
        Ask(PROMPT, "text".into()),
        Error(TEXT_NOT_SET_UP),
        Ask(PROMPT, "email".into()),
        Error(EMAIL_NOT_SET_UP),
        Ask(PROMPT, "text".into()),
        Error("Incorrect verification code. 4 attempts remain"),
    ];
    assert_eq!(w.login("alice", steps), Outcome::Denied);
    assert_eq!(w.tally("alice").failures.len(), 1);
}

#[test]
fn a_damaged_phone_number_is_never_handed_to_the_command() {
    let mut w = World::new(SMS);
    w.enroll_phone("ann", Some(SECRET), None, Some("+1555; reboot"));
    let code = w.code(0);
    assert_eq!(
        w.login("ann", vec![Ask(PROMPT, "text".into()), Error(TEXT_NOT_SET_UP), Ask(PROMPT, code)]),
        Outcome::Success
    );
    assert!(w.sms.sent.borrow().is_empty());
    assert!(line_with(&w.log, "result=bad_phone").is_some(), "{:?}", w.log.0);
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

// ---- backup codes, help-desk bypass codes, disable --for ----

impl World {
    /// Gives `user` (enrolled) a new set of backup codes, as `twostep backup-codes` does; returns them.
    fn give_backup_codes(&self, user: &str) -> Vec<String> {
        let (codes, sealed) = crate::backup_codes::new_set().unwrap();
        self.store()
            .change(user, |u| {
                let r = u.record()?.cloned().unwrap();
                u.save_record(UserRecord { backup_codes: sealed, ..r })
            })
            .unwrap();
        codes.iter().map(|c| c.to_string()).collect()
    }

    /// Gives `user` a bypass code good for `uses` logins during `valid` seconds, as `twostep bypass` does.
    fn give_bypass(&self, user: &str, uses: u32, valid: u64) -> String {
        let (code, bypass) = crate::backup_codes::new_bypass(self.clock.now(), valid, uses, "helpdesk").unwrap();
        self.store()
            .change(user, |u| {
                let r = u.record()?.cloned().unwrap();
                u.save_record(UserRecord { bypass: Some(bypass), ..r })
            })
            .unwrap();
        code.to_string()
    }

    fn record(&self, user: &str) -> UserRecord {
        self.store().record(user).unwrap().unwrap()
    }
}

/// An 8-digit answer that is none of `codes`.
fn not_one_of(codes: &[String]) -> String {
    (0..100_000_000u32).map(|n| format!("{n:08}")).find(|c| !codes.contains(c)).unwrap()
}

#[test]
fn a_backup_code_works_once_and_typed_again_is_a_failed_attempt() {
    let mut w = World::new("");
    w.enroll("alice", Some(SECRET), None);
    let codes = w.give_backup_codes("alice");
    let grouped = crate::backup_codes::grouped(&codes[4]).to_string();
    assert_eq!(w.login("alice", vec![Ask(PROMPT, grouped.clone())]), Outcome::Success);
    assert_eq!(w.record("alice").backup_codes.len(), 9, "spent");
    let line = line_with(&w.log, "result=success").unwrap();
    assert!(line.contains("method=backup backup_codes_left=9") && !line.contains(&codes[4]), "{line}");
    let again = vec![Ask(PROMPT, codes[4].clone()), Error("Incorrect verification code. 4 attempts remain")];
    assert_eq!(w.login("alice", again), Outcome::Denied);
    assert_eq!(w.tally("alice").failures, vec![T0]);
    assert!(line_with(&w.log, "result=wrong_code").unwrap().contains("method=backup"));
    // The others still work.
    assert_eq!(w.login("alice", vec![Ask(PROMPT, codes[0].clone())]), Outcome::Success);
    assert_eq!(w.record("alice").backup_codes.len(), 8);
}

#[test]
fn wrong_backup_codes_count_towards_the_lockout_and_a_locked_user_cannot_use_one() {
    let mut w = World::new("[lockout]\ndeny = 3\nunlock_time = 600");
    w.enroll("alice", Some(SECRET), None);
    let codes = w.give_backup_codes("alice");
    let bad = not_one_of(&codes);
    assert_eq!(w.login("alice", vec![Ask(PROMPT, bad.clone()), Error("2 attempts remain")]), Outcome::Denied);
    assert_eq!(w.login("alice", vec![Ask(PROMPT, wrong(&w.cfg, T0)), Error("1 attempt remains")]), Outcome::Denied);
    let third = vec![Ask(PROMPT, bad), Error("Too many incorrect codes. Try again after")];
    assert_eq!(w.login("alice", third), Outcome::Denied);
    // Locked: not asked, so a right backup code cannot even be typed, and none is spent.
    assert_eq!(w.login("alice", vec![Error("Too many incorrect codes")]), Outcome::Denied);
    assert_eq!(w.record("alice").backup_codes.len(), 10);
    w.advance(600);
    assert_eq!(w.login("alice", vec![Ask(PROMPT, codes[1].clone())]), Outcome::Success);
}

#[test]
fn the_app_code_still_works_with_backup_codes_on_file_and_spends_none() {
    let mut w = World::new("");
    w.enroll("alice", Some(SECRET), None);
    w.give_backup_codes("alice");
    let code = w.code(0);
    assert_eq!(w.login("alice", vec![Ask(PROMPT, code)]), Outcome::Success, "no info: plenty left");
    assert_eq!(w.record("alice").backup_codes.len(), 10);
    assert!(line_with(&w.log, "result=success").unwrap().contains("method=totp"));
}

#[test]
fn with_8_digit_app_codes_both_the_app_code_and_a_backup_code_are_accepted() {
    let mut w = World::new("[totp]\ndigits = 8");
    w.enroll("alice", Some(SECRET), None);
    let codes = w.give_backup_codes("alice");
    let app = w.code(0);
    assert_eq!(app.len(), 8);
    assert_eq!(w.login("alice", vec![Ask(PROMPT, app)]), Outcome::Success);
    assert_eq!(w.record("alice").backup_codes.len(), 10, "an app code spends no backup code");
    assert_eq!(w.login("alice", vec![Ask(PROMPT, codes[2].clone())]), Outcome::Success);
    assert_eq!(w.record("alice").backup_codes.len(), 9);
    assert_eq!(w.log.results(), ["success", "success"]);
    assert!(line_with(&w.log, "method=backup").is_some());
    // A wrong 8-digit answer is logged as a wrong app code here (it could be either).
    let bad = vec![Ask(PROMPT, not_one_of(&codes)), Error("Incorrect verification code.")];
    assert_eq!(w.login("alice", bad), Outcome::Denied);
    assert!(line_with(&w.log, "result=wrong_code").unwrap().contains("method=totp"));
}

#[test]
fn the_user_is_told_after_logging_in_when_two_or_fewer_backup_codes_are_left() {
    let mut w = World::new("");
    w.enroll("alice", Some(SECRET), None);
    let codes = w.give_backup_codes("alice");
    for code in &codes[..7] {
        assert_eq!(w.login("alice", vec![Ask(PROMPT, code.clone())]), Outcome::Success, "3+ left: nothing said");
    }
    let steps = vec![Ask(PROMPT, codes[7].clone()), Info("You have 2 backup codes left. Ask your administrator")];
    assert_eq!(w.login("alice", steps), Outcome::Success);
    // Also after a login with the app, while few are left.
    let steps = vec![Ask(PROMPT, w.code(0)), Info("You have 2 backup codes left.")];
    assert_eq!(w.login("alice", steps), Outcome::Success);
    let steps = vec![Ask(PROMPT, codes[8].clone()), Info("You have 1 backup code left.")];
    assert_eq!(w.login("alice", steps), Outcome::Success);
    let steps = vec![Ask(PROMPT, codes[9].clone()), Info("That was your last backup code.")];
    assert_eq!(w.login("alice", steps), Outcome::Success);
    // None left: not said at every login after.
    w.advance(30);
    assert_eq!(w.login("alice", vec![Ask(PROMPT, w.code(0))]), Outcome::Success);
    assert!(w.record("alice").backup_codes.is_empty());
}

#[test]
fn a_bypass_code_works_for_its_uses_then_is_refused_and_counted() {
    let mut w = World::new("");
    w.enroll("alice", Some(SECRET), None);
    let code = w.give_bypass("alice", 2, 3600);
    let grouped = crate::backup_codes::grouped(&code).to_string();
    assert_eq!(w.login("alice", vec![Ask(PROMPT, grouped)]), Outcome::Success);
    assert_eq!(w.record("alice").bypass.unwrap().uses_left, 1);
    assert_eq!(w.login("alice", vec![Ask(PROMPT, code.clone())]), Outcome::Success);
    assert_eq!(w.record("alice").bypass, None, "used up: gone");
    let lines: Vec<&str> = w.log.0.iter().map(|(_, l)| l.as_str()).filter(|l| l.contains("method=bypass")).collect();
    assert!(lines[0].contains("result=success") && lines[0].contains("bypass_uses_left=1"), "{lines:?}");
    assert!(lines.iter().all(|l| !l.contains(&code)), "{lines:?}");
    let third = vec![Ask(PROMPT, code), Error("Incorrect verification code. 4 attempts remain")];
    assert_eq!(w.login("alice", third), Outcome::Denied);
    assert!(line_with(&w.log, "result=wrong_code").unwrap().contains("method=bypass"));
}

#[test]
fn a_bypass_code_expires_and_after_that_is_refused_without_counting() {
    let mut w = World::new("");
    w.enroll("alice", Some(SECRET), None);
    let code = w.give_bypass("alice", 3, 1800);
    w.advance(1800);
    let late = vec![Ask(PROMPT, code.clone()), Error("That help-desk code has expired")];
    assert_eq!(w.login("alice", late), Outcome::Denied);
    assert!(w.tally("alice").failures.is_empty(), "the right code, too late: not a guess");
    assert!(line_with(&w.log, "result=expired").unwrap().contains("method=bypass"));
    // A wrong 9-digit answer is a wrong code, counted.
    let other = if code == "000000000" { "000000001" } else { "000000000" };
    assert_eq!(w.login("alice", vec![Ask(PROMPT, other.into()), Error("4 attempts remain")]), Outcome::Denied);
}

#[test]
fn a_disable_for_a_while_skips_the_code_until_its_end_then_asks_again() {
    let mut w = World::new("");
    w.enroll("alice", Some(SECRET), None);
    w.store()
        .change("alice", |u| {
            let r = u.record()?.cloned().unwrap();
            u.save_record(UserRecord { enabled: false, disabled_until: Some(T0 + 3600), ..r })
        })
        .unwrap();
    assert_eq!(w.login("alice", vec![]), Outcome::Ignore);
    w.advance(3599);
    assert_eq!(w.login("alice", vec![]), Outcome::Ignore);
    w.advance(1);
    assert_eq!(w.login("alice", vec![Ask(PROMPT, w.code(0))]), Outcome::Success);
    assert_eq!(w.log.results(), ["ignored", "ignored", "success"]);
}

// ---- enrollment at login with a choice (enroll_contact.rs) ----

const CHOOSE: &str = "[policy]\nenroll_at_login = true\nenroll_methods = [\"app\", \"text\", \"email\"]\n";
const MENU_PROMPT: &str = "Type app, text or email: ";
const PHONE_PROMPT: &str = super::text::PHONE_PROMPT;
const ADDRESS_PROMPT: &str = super::text::ADDRESS_PROMPT;

fn choosing(extra: &str) -> World {
    World::new(&format!("{SMS}{CHOOSE}{extra}"))
}

/// The menu, the choice, the number, the "sent" notice: the script up to the code prompt.
fn text_to(number: &'static str, masked_tail: &'static str) -> Vec<Step> {
    vec![
        Info("Choose how you want to get your verification codes:"),
        Type(MENU_PROMPT, "text".into()),
        Type(PHONE_PROMPT, number.into()),
        Info(masked_tail),
    ]
}

fn last_text(w: &World) -> Answer {
    let sent = Rc::clone(&w.sms.sent);
    Box::new(move |_| last_text_code(&sent))
}

#[test]
fn choosing_the_app_at_the_menu_shows_the_qr_code_without_the_heading_again() {
    let mut w = choosing("");
    let (cfg, now) = (w.cfg.clone(), T0);
    let code_for_shown = move |shown: &[String]| {
        let all = shown.join("\n");
        let uri = all.split_whitespace().find(|s| s.starts_with("otpauth://")).unwrap();
        let secret = uri.split(['?', '&']).find_map(|p| p.strip_prefix("secret=")).unwrap();
        code_for(secret, &cfg, now, 0)
    };
    let steps = vec![
        Info("Set it up now. Choose how you want to get your verification codes: app an authenticator app"),
        Type(MENU_PROMPT, " APP ".into()),
        Info("1. Install an authenticator app"),
        Info(""), // the QR code
        Info("Cannot scan?"),
        Info("3. Type the code the app shows."),
        AskWith(PROMPT, Box::new(code_for_shown)),
        Info("Two-step verification is set up."),
    ];
    assert_eq!(w.login("newbie", steps), Outcome::Success);
    assert!(w.store().record("newbie").unwrap().unwrap().secret.is_some());
    assert!(w.sms.sent.borrow().is_empty());
    assert_eq!(w.log.results(), ["enrolled"]);
}

#[test]
fn a_typed_number_becomes_the_method_only_with_the_code_sent_to_it() {
    let mut w = choosing("");
    let mut steps = text_to("+1 (555) 123-4567", "A code was sent by text message to •••• ••• 4567.");
    steps.extend([
        Ask(PROMPT, "000000".into()),
        Error("That code does not match. 2 more tries for this code."),
        AskWith(PROMPT, last_text(&w)),
        Info("Two-step verification is set up. From now on, a code is sent by text message to •••• ••• 4567"),
    ]);
    assert!(!w.sms.sent.borrow().iter().any(|(_, t)| t.starts_with("000000")));
    assert_eq!(w.login("newbie", steps), Outcome::Success);
    assert_eq!(w.sms.sent.borrow()[0].0, PHONE, "sent to the number in E.164 form");
    let rec = w.store().record("newbie").unwrap().expect("saved");
    assert_eq!((rec.phone.as_deref(), rec.secret.is_some(), rec.email.as_deref()), (Some(PHONE), false, None));
    assert_eq!(w.log.results(), ["contact_offered", "contact_failed", "contact_verified", "enrolled"]);
    for result in ["contact_offered", "contact_failed", "contact_verified", "enrolled"] {
        let l = line_with(&w.log, &format!("result={result}")).unwrap();
        assert!(l.contains("method=sms to=****4567"), "{l}");
    }
    let code = w.sms.sent.borrow()[0].1.split(' ').next().unwrap().to_string();
    assert!(!w.log.0.iter().any(|(_, l)| l.contains(&code)), "no code in the log");
    let t = w.tally("newbie");
    assert_eq!(
        (t.contact_code, t.contact_sends.len(), t.failures.len()),
        (None, 0, 0),
        "nothing left, nothing counted"
    );

    // From now on a text-only user: the code comes without asking.
    let steps = vec![Info("sent by text message to •••• ••• 4567"), AskWith(PROMPT, last_text(&w))];
    assert_eq!(w.login("newbie", steps), Outcome::Success);
}

#[test]
fn a_typed_address_is_confirmed_by_the_code_mailed_to_it() {
    let mut w = choosing("");
    let sent = Rc::clone(&w.mailer.sent);
    let steps = vec![
        Info("Choose how you want"),
        Type(MENU_PROMPT, "email".into()),
        Type(ADDRESS_PROMPT, "  new.user@district.example ".into()),
        Info("A code was sent to n***@district.example. It is valid for 10 minutes. Type it to confirm the address"),
        AskWith(PROMPT, Box::new(move |_| last_code(&sent))),
        Info("a code is sent by email to n***@district.example when you log in."),
    ];
    assert_eq!(w.login("newbie", steps), Outcome::Success);
    let rec = w.store().record("newbie").unwrap().unwrap();
    assert_eq!(rec.email.as_deref(), Some("new.user@district.example"));
    assert!(w.mailer.sent.borrow()[0].contains("To: new.user@district.example"));
}

#[test]
fn an_invalid_number_is_refused_before_anything_is_sent() {
    let mut w = choosing("");
    let steps = vec![
        Info("Choose how"),
        Type(MENU_PROMPT, "text".into()),
        Type(PHONE_PROMPT, "555-1234".into()),
        Error("That is not a number codes can be sent to."),
        Type(PHONE_PROMPT, "+1555; reboot".into()),
        Error("That is not a number codes can be sent to."),
        Type(PHONE_PROMPT, "+1 555 123 4567".into()),
        Info("A code was sent by text message"),
        Abort(PROMPT),
    ];
    assert_eq!(w.login("newbie", steps), Outcome::Aborted);
    assert_eq!(w.sms.sent.borrow().len(), 1);
    assert_eq!(w.log.results(), ["contact_failed", "contact_failed", "contact_offered", "aborted"]);
    assert!(!w.log.0.iter().any(|(_, l)| l.contains("reboot") || l.contains("1234 ")), "typed text not logged");
    assert!(w.store().record("newbie").unwrap().is_none(), "aborted: nothing saved");
    assert!(w.tally("newbie").contact_code.is_some(), "the code stays pending for a next login");
}

#[test]
fn a_code_for_one_number_does_not_confirm_another_and_two_numbers_per_login_is_the_limit() {
    let mut w = choosing("");
    let sent = Rc::clone(&w.sms.sent);
    let first_code = Box::new(move |_: &[String]| sent.borrow()[0].1.split(' ').next().unwrap().to_string());
    let mut steps = text_to("+15550000001", "•••• ••• 0001");
    steps.push(Ask(PROMPT, String::new())); // Enter: back to the menu
    steps.extend(text_to("+15550000002", "•••• ••• 0002"));
    steps.extend([
        // The first number's code, for the second number: no.
        AskWith(PROMPT, first_code),
        Error("That code does not match."),
        Ask(PROMPT, String::new()),
        Error("No more numbers or addresses can be tried in this login."),
        // Only the app is left: its steps follow at once.
        Info("1. Install an authenticator app"),
        Info(""),
        Info("Cannot scan?"),
        Info("3. Type"),
        Abort(PROMPT),
    ]);
    assert_eq!(w.login("newbie", steps), Outcome::Aborted);
    assert_eq!(w.sms.sent.borrow().len(), 2);
    assert!(w.store().record("newbie").unwrap().is_none());
}

#[test]
fn codes_to_typed_contacts_are_throttled_per_contact_and_per_hour_and_not_counted_as_failures() {
    let mut w = choosing("");
    // Login 1: a code to number 1, left unanswered.
    let mut steps = text_to("+15550000001", "•••• ••• 0001");
    steps.push(Abort(PROMPT));
    assert_eq!(w.login("newbie", steps), Outcome::Aborted);
    // Login 2, 10 s later: the same number gets no new text, the pending code still works... but wrong it is.
    w.advance(10);
    let mut steps = text_to("+15550000001", "A code was already sent to •••• ••• 0001");
    steps.extend([Ask(PROMPT, "000000".into()), Error("2 more tries"), Abort(PROMPT)]);
    assert_eq!(w.login("newbie", steps), Outcome::Aborted);
    assert_eq!(w.sms.sent.borrow().len(), 1, "throttled: no second text");
    assert!(w.log.results().contains(&"contact_throttled".to_string()));
    // Logins 3 and 4: two more numbers: the hour's three codes are used.
    for n in ["+15550000002", "+15550000003"] {
        let mut steps = text_to(n, "A code was sent by text message");
        steps.push(Abort(PROMPT));
        assert_eq!(w.login("newbie", steps), Outcome::Aborted);
    }
    // Login 5: a fourth number is refused; only the app remains.
    let steps = vec![
        Info("Choose how"),
        Type(MENU_PROMPT, "text".into()),
        Type(PHONE_PROMPT, "+15550000004".into()),
        Error("No more codes can be sent for this account now. Try again after"),
        Error("No more numbers or addresses can be tried in this login."),
        Info("1. Install"),
        Info(""),
        Info("Cannot scan?"),
        Info("3. Type"),
        Abort(PROMPT),
    ];
    assert_eq!(w.login("newbie", steps), Outcome::Aborted);
    assert_eq!(w.sms.sent.borrow().len(), 3);
    assert!(line_with(&w.log, "reason=\"codes per hour used up\"").is_some(), "{:?}", w.log.0);
    assert!(w.tally("newbie").failures.is_empty(), "wrong confirmation codes are not failed logins");
    // An hour later texts can be sent again.
    w.advance(CONTACT_HOUR);
    let mut steps = text_to("+15550000004", "A code was sent by text message");
    steps.push(AskWith(PROMPT, last_text(&w)));
    steps.push(Info("Two-step verification is set up."));
    assert_eq!(w.login("newbie", steps), Outcome::Success);
}

const CONTACT_HOUR: u64 = super::enroll_contact::CONTACT_WINDOW;

#[test]
fn a_code_typed_wrong_three_times_stops_working() {
    let mut w = choosing("");
    let mut steps = text_to("+15550000001", "•••• ••• 0001");
    steps.extend([
        Ask(PROMPT, "000000".into()),
        Error("2 more tries"),
        Ask(PROMPT, "000001".into()),
        Error("1 more try"),
        AskWith(PROMPT, Box::new(|_| "000002".into())),
        Error("That code no longer works"),
        Info("Choose how"),
        Abort(MENU_PROMPT),
    ]);
    assert_eq!(w.login("newbie", steps), Outcome::Aborted);
    assert_eq!(w.tally("newbie").contact_code, None, "gone after three wrong answers");
}

#[test]
fn a_failed_text_takes_the_reservation_back_and_returns_to_the_menu() {
    let mut w = choosing("");
    w.sms.fail = true;
    let steps = vec![
        Info("Choose how"),
        Type(MENU_PROMPT, "text".into()),
        Type(PHONE_PROMPT, "+15551234567".into()),
        Error("could not be sent by text message"),
        Info("Choose how"),
        Abort(MENU_PROMPT),
    ];
    assert_eq!(w.login("newbie", steps), Outcome::Aborted);
    let t = w.tally("newbie");
    assert_eq!((t.contact_code, t.contact_sends.len()), (None, 0), "rolled back: a failed send costs nothing");
    let l = line_with(&w.log, "result=contact_failed").unwrap();
    assert!(l.contains("to=****4567") && l.contains("/usr/bin/sms"), "the command's failure: {l}");
}

#[test]
fn enter_at_the_menu_puts_enrollment_off_while_grace_logins_remain() {
    let mut w = choosing("grace_logins = 1\n");
    let steps = vec![
        Info("To set this up later instead, press Enter (possible 1 more time)."),
        Type(MENU_PROMPT, String::new()),
        Info("This was the last login allowed without it"),
    ];
    assert_eq!(w.login("newbie", steps), Outcome::Ignore);
    // No skips left: Enter is no answer.
    let steps = vec![
        Info("Choose how"),
        Type(MENU_PROMPT, String::new()),
        Error("Please type app, text or email."),
        Type(MENU_PROMPT, "fax".into()),
        Error("Please type app, text or email."),
        Type(MENU_PROMPT, "later".into()),
        Error("Please type app, text or email."),
        Error("Two-step verification was not set up. Nothing was saved."),
    ];
    assert_eq!(w.login("newbie", steps), Outcome::Denied);
    assert_eq!(w.log.results(), ["grace", "enroll_failed"]);
}

#[test]
fn with_one_contact_method_offered_there_is_no_menu() {
    let mut w = World::new("[policy]\nenroll_at_login = true\nenroll_methods = [\"email\"]\n");
    let sent = Rc::clone(&w.mailer.sent);
    let steps = vec![
        Info("Set it up now. Your verification codes will come by email."),
        Type(ADDRESS_PROMPT, "Jo <jo@district.example>".into()),
        Error("That is not an address codes can be sent to."),
        Type(ADDRESS_PROMPT, "jo@district.example".into()),
        Info("A code was sent to j***@district.example."),
        AskWith(PROMPT, Box::new(move |_| last_code(&sent))),
        Info("Two-step verification is set up."),
    ];
    assert_eq!(w.login("jo", steps), Outcome::Success);
    assert_eq!(w.log.results(), ["contact_failed", "contact_offered", "contact_verified", "enrolled"]);
    assert!(line_with(&w.log, "result=contact_failed").unwrap().contains("method=email"));
}

#[test]
fn an_administrator_enrolling_the_user_meanwhile_wins_and_the_pending_code_is_no_login_code() {
    let mut w = choosing("");
    let mut steps = text_to("+15550000001", "•••• ••• 0001");
    let store = w.store();
    let sent = Rc::clone(&w.sms.sent);
    steps.push(AskWith(
        PROMPT,
        Box::new(move |_| {
            // The admin runs `twostep phone newbie …` while the user reads the text.
            let rec = UserRecord { phone: Some(PHONE.into()), enabled: true, created: T0, ..UserRecord::default() };
            store.change("newbie", |u| u.save_record(rec)).unwrap();
            last_text_code(&sent)
        }),
    ));
    steps.push(Error("was set up for this account by another login"));
    assert_eq!(w.login("newbie", steps), Outcome::Denied);
    assert_eq!(w.store().record("newbie").unwrap().unwrap().phone.as_deref(), Some(PHONE), "the admin's record");
}
