//! The local SMTP server of the email tests: `tests/common/smtp_sink.py`
//! (aiosmtpd) on a free port of 127.0.0.1, one per test, writing each message
//! into the test's directory. Stopped (killed by its PID, then reaped) when
//! the [`SmtpSink`] is dropped, also when the test fails; and it exits by
//! itself when the test process is gone.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The envelope sender and `From:` the tests' `[email]` tables use.
pub const FROM: &str = "twostep@test.example";

/// A running SMTP sink and the directory its messages land in.
pub struct SmtpSink {
    child: Child,
    pub port: u16,
    pub inbox: PathBuf,
}

impl SmtpSink {
    /// Starts a sink writing into `dir/inbox` (created here).
    pub fn start(dir: &Path) -> SmtpSink {
        let inbox = dir.join("inbox");
        std::fs::create_dir(&inbox).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/smtp_sink.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(&inbox)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP sink (python3-aiosmtpd)");
        // From here on the sink is stopped on drop, also if it never prints its port.
        let stdout = child.stdout.take().unwrap();
        let mut sink = SmtpSink { child, port: 0, inbox };
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        sink.port = line.trim().parse().unwrap_or_else(|_| panic!("SMTP sink did not print its port: {line:?}"));
        sink
    }

    /// The `[email]` table sending through the real msmtp to this sink, then `extra`.
    pub fn config(&self, extra: &str) -> String {
        format!(
            "[email]\ncommand = [\"/usr/bin/msmtp\", \"--host=127.0.0.1\", \"--port={}\", \"--from={FROM}\", \"-t\"]\nfrom = \"{FROM}\"\n{extra}\n",
            self.port
        )
    }

    /// The file of message number `n` (1-based) with extension `ext` (`eml`, `rcpt`, `from`).
    pub fn file(&self, n: usize, ext: &str) -> PathBuf {
        self.inbox.join(format!("{n:05}.{ext}"))
    }

    /// The delivered messages (`.eml`), in order.
    pub fn messages(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&self.inbox)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        v.sort();
        v
    }

    /// Waits (up to 20 s) for message number `n` (1-based) and returns its text.
    pub fn wait_message(&self, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(p) = self.messages().get(n - 1) {
                return std::fs::read_to_string(p).unwrap();
            }
            assert!(Instant::now() < deadline, "message {n} never arrived");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The envelope recipients of message `n`, one a line.
    pub fn recipients(&self, n: usize) -> String {
        std::fs::read_to_string(self.file(n, "rcpt")).unwrap()
    }

    /// The envelope sender of message `n`.
    pub fn envelope_sender(&self, n: usize) -> String {
        std::fs::read_to_string(self.file(n, "from")).unwrap()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        // Our own child, by its PID (not yet reaped, so not reused).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The code in a delivered message (the indented line of digits in the body).
pub fn code_in(message: &str) -> String {
    let body = message.replace("\r\n", "\n");
    let (_, body) = body.split_once("\n\n").expect("headers and body");
    body.lines()
        .map(str::trim)
        .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no code in {message}"))
        .to_string()
}
