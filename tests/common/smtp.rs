//! A local SMTP server for the email tests: a small aiosmtpd sink (started
//! and stopped, by PID, by each test) whose messages land in the test's temp
//! dir, and the `[email]` table that sends to it through the real `msmtp`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const FROM: &str = "twostep@test.example";

/// A tiny SMTP sink: binds 127.0.0.1 on a free port, prints the port, and
/// writes each message to OUTDIR/NNN.eml (envelope recipients in NNN.rcpt,
/// the envelope sender in NNN.from),
/// renamed into place once complete.
const SMTP_SINK: &str = r#"
import asyncio, os, socket, sys
from aiosmtpd.smtp import SMTP

OUTDIR = sys.argv[1]

class Sink:
    count = 0
    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(OUTDIR, "%03d" % self.count)
        parts = ((".from", envelope.mail_from.encode()), (".rcpt", "\n".join(envelope.rcpt_tos).encode()),
                 (".eml", envelope.original_content))
        for ext, data in parts:
            with open(base + ext + ".tmp", "wb") as f:
                f.write(data)
            os.rename(base + ext + ".tmp", base + ext)
        return "250 Message accepted"

async def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sink = Sink()
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(sink), sock=sock)
    print(sock.getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"#;

/// The SMTP server of one test; killed (by PID) and reaped on drop.
pub struct Smtp {
    child: Child,
    pub port: u16,
    pub inbox: PathBuf,
}

impl Smtp {
    pub fn start(dir: &Path) -> Smtp {
        let inbox = dir.join("inbox");
        std::fs::create_dir(&inbox).unwrap();
        let script = dir.join("smtp_sink.py");
        std::fs::write(&script, SMTP_SINK).unwrap();
        let mut child = Command::new("/usr/bin/python3")
            .arg(&script)
            .arg(&inbox)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP sink (python3-aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("SMTP sink did not print its port: {line:?}"));
        Smtp { child, port, inbox }
    }

    /// The `[email]` table sending through msmtp to this server.
    pub fn config(&self, extra: &str) -> String {
        format!(
            "[email]\ncommand = [\"/usr/bin/msmtp\", \"--host=127.0.0.1\", \"--port={}\", \"--from={FROM}\", \"-t\"]\nfrom = \"{FROM}\"\n{extra}\n",
            self.port
        )
    }

    /// Names of the delivered messages, in order.
    pub fn messages(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&self.inbox)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        v.sort();
        v
    }

    /// Waits for message number `n` (1-based) and returns its text.
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

    pub fn recipients(&self, n: usize) -> String {
        std::fs::read_to_string(self.inbox.join(format!("{n:03}.rcpt"))).unwrap()
    }

    pub fn envelope_sender(&self, n: usize) -> String {
        std::fs::read_to_string(self.inbox.join(format!("{n:03}.from"))).unwrap()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
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
