//! The login flow in process: [`Login`] driven through test doubles of its
//! five seams (a scripted conversation, a recording log, fixed accounts, a
//! recording mailer, a clock the test sets), on real files in a temp
//! directory owned by whoever runs the tests. Milliseconds each, no root.
//!
//! The scripted conversation is kanidm's idea: every step is expected in
//! order, and dropping the script with steps left fails the test.
//!
//! The doubles and [`World`] are here; the tests are in one file per area:
//! verifying (`verify.rs`), email codes (`email.rs`), text messages and the
//! method menu (`sms.rs`), backup and bypass codes (`backup.rs`), users who
//! are not enrolled (`enroll.rs`).

mod backup;
mod email;
mod enroll;
mod sms;
mod verify;

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

/// `[sms]` with a command (never run here: the recording double sends).
const SMS: &str = "[sms]\ncommand = [\"/usr/local/bin/send-sms\", \"{phone}\"]\n";
const PHONE: &str = "+15551234567";

fn line_with<'a>(log: &'a RecordingLog, needle: &str) -> Option<&'a str> {
    log.0.iter().map(|(_, l)| l.as_str()).find(|l| l.contains(needle))
}
