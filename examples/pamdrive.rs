//! pamdrive: a tiny PAM application for tests and for trying a configuration by hand.
//!
//! ```text
//! pamdrive --confdir DIR --service NAME (--user USER | --user-hex HEX) [--rhost HOST] [--account] [--silent]
//!          [--report-core] [--raw-answers] [--conv-fail-at N] [--null-reply-at N] [--null-resp-at N]
//!          [--no-authenticate]
//! ```
//!
//! It calls `pam_start_confdir` (so the service file is read from DIR, never
//! from /etc/pam.d), then `pam_authenticate` (and with `--account`,
//! `pam_setcred` and `pam_acct_mgmt`); `--silent` passes `PAM_SILENT` to
//! each. `--no-authenticate` leaves `pam_authenticate` out, as cron and at do
//! (they only call `pam_setcred` and `pam_acct_mgmt`: use with `--account`). Every conversation message is printed to stdout as one JSON line (`{"style":"prompt_echo_off","text":"…"}`) and
//! flushed; each prompt is answered with the next line of stdin (end of input
//! makes the conversation fail, like Ctrl-D). The last line is
//! `{"step":"authenticate","code":0,"name":"PAM_SUCCESS"}` (one per PAM call).
//! With `--report-core`, each conversation call and the end of
//! `pam_authenticate` also print `{"probe":"conversation","core":N,"dumpable":D}`
//! (this process's soft RLIMIT_CORE and PR_GET_DUMPABLE, as the module left them).
//!
//! Bad-input options (tests/bad_input.rs): `--user-hex` passes any bytes but
//! NUL as PAM_USER (hex-encoded, e.g. `ff61` for invalid UTF-8). With
//! `--raw-answers` each answer is the raw bytes of its stdin line (no UTF-8
//! check, a NUL byte kept inside the reply buffer, so the module sees the C
//! string up to it, as a client passing wire bytes to strdup-like code would).
//! `--conv-fail-at N` makes the Nth call of the conversation function (counting
//! from 1) return PAM_CONV_ERR; `--null-reply-at N` makes it return
//! PAM_SUCCESS with no reply array; `--null-resp-at N` makes it return a reply
//! array whose `resp` strings are NULL. None of them reads stdin.
//! Like pamtester, but scriptable, parallel-safe and honest about every message.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::io::{BufRead, Write};
use std::ptr;

#[repr(C)]
struct PamMessage {
    msg_style: c_int,
    msg: *const c_char,
}

#[repr(C)]
struct PamResponse {
    resp: *mut c_char,
    resp_retcode: c_int,
}

#[repr(C)]
struct PamConv {
    conv: extern "C" fn(c_int, *mut *const PamMessage, *mut *mut PamResponse, *mut c_void) -> c_int,
    appdata_ptr: *mut c_void,
}

#[link(name = "pam")]
unsafe extern "C" {
    fn pam_start_confdir(
        service: *const c_char,
        user: *const c_char,
        conv: *const PamConv,
        confdir: *const c_char,
        pamh: *mut *mut c_void,
    ) -> c_int;
    fn pam_authenticate(pamh: *mut c_void, flags: c_int) -> c_int;
    fn pam_setcred(pamh: *mut c_void, flags: c_int) -> c_int;
    fn pam_acct_mgmt(pamh: *mut c_void, flags: c_int) -> c_int;
    fn pam_set_item(pamh: *mut c_void, item: c_int, value: *const c_void) -> c_int;
    fn pam_end(pamh: *mut c_void, status: c_int) -> c_int;
}

const PAM_RHOST: c_int = 4;
const PAM_ESTABLISH_CRED: c_int = 0x2;
const PAM_SILENT: c_int = 0x8000;
const PAM_CONV_ERR: c_int = 19;
const PAM_BUF_ERR: c_int = 5;

fn code_name(code: c_int) -> &'static str {
    match code {
        0 => "PAM_SUCCESS",
        1 => "PAM_OPEN_ERR",
        2 => "PAM_SYMBOL_ERR",
        3 => "PAM_SERVICE_ERR",
        4 => "PAM_SYSTEM_ERR",
        5 => "PAM_BUF_ERR",
        6 => "PAM_PERM_DENIED",
        7 => "PAM_AUTH_ERR",
        8 => "PAM_CRED_INSUFFICIENT",
        9 => "PAM_AUTHINFO_UNAVAIL",
        10 => "PAM_USER_UNKNOWN",
        11 => "PAM_MAXTRIES",
        19 => "PAM_CONV_ERR",
        25 => "PAM_IGNORE",
        26 => "PAM_ABORT",
        _ => "PAM_OTHER",
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

static REPORT_CORE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static RAW_ANSWERS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// Calls of the conversation function so far.
static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// `--conv-fail-at`, `--null-reply-at`, `--null-resp-at` (0: never).
static FAIL_AT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static NULL_REPLY_AT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static NULL_RESP_AT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// `bytes` (without its NUL terminator) copied into malloc'd memory, NUL-terminated.
fn malloc_reply(bytes: &[u8]) -> *mut c_char {
    // SAFETY: a fresh allocation of len + 1 bytes; the module frees it.
    let p = unsafe { libc::malloc(bytes.len() + 1) } as *mut u8;
    if !p.is_null() {
        // SAFETY: p has room for len + 1 bytes and does not overlap `bytes`.
        unsafe {
            ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
            *p.add(bytes.len()) = 0;
        }
    }
    p as *mut c_char
}

/// With `--report-core`: the core dump settings at this moment, as one JSON line.
fn report_core(when: &str) {
    if !REPORT_CORE.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one rlimit through a valid pointer.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut limit) };
    // SAFETY: PR_GET_DUMPABLE takes no pointers.
    let dumpable = unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) };
    let core = if rc == 0 { limit.rlim_cur.to_string() } else { "null".into() };
    emit(&format!("{{\"probe\":{},\"core\":{core},\"dumpable\":{dumpable}}}", json_string(when)));
}

fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

extern "C" fn converse(
    num_msg: c_int,
    msg: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
    _appdata: *mut c_void,
) -> c_int {
    if num_msg <= 0 || msg.is_null() || resp.is_null() {
        return PAM_CONV_ERR;
    }
    report_core("conversation");
    use std::sync::atomic::Ordering::Relaxed;
    let call = CALLS.fetch_add(1, Relaxed) + 1;
    let n = num_msg as usize;
    let print_all = || {
        for i in 0..n {
            // SAFETY: Linux-PAM passes an array of n message pointers to NUL-terminated strings.
            let m = unsafe { &**msg.add(i) };
            // SAFETY: as above.
            let text = unsafe { CStr::from_ptr(m.msg) }.to_string_lossy();
            let style = match m.msg_style {
                1 => "prompt_echo_off",
                2 => "prompt_echo_on",
                3 => "error",
                4 => "info",
                _ => "other",
            };
            emit(&format!("{{\"style\":{},\"text\":{}}}", json_string(style), json_string(&text)));
        }
    };
    if FAIL_AT.load(Relaxed) == call {
        print_all();
        return PAM_CONV_ERR;
    }
    if NULL_REPLY_AT.load(Relaxed) == call {
        print_all();
        // SAFETY: resp is a valid out-pointer provided by libpam.
        unsafe { *resp = ptr::null_mut() };
        return 0;
    }
    if NULL_RESP_AT.load(Relaxed) == call {
        print_all();
        // SAFETY: calloc of n zeroed responses (every resp NULL); the module frees it.
        let replies = unsafe { libc::calloc(n, std::mem::size_of::<PamResponse>()) } as *mut PamResponse;
        if replies.is_null() {
            return PAM_BUF_ERR;
        }
        // SAFETY: as above.
        unsafe { *resp = replies };
        return 0;
    }
    // SAFETY: calloc of n zeroed responses; libpam (the module) frees it.
    let replies = unsafe { libc::calloc(n, std::mem::size_of::<PamResponse>()) } as *mut PamResponse;
    if replies.is_null() {
        return PAM_BUF_ERR;
    }
    for i in 0..n {
        // SAFETY: Linux-PAM passes an array of n message pointers.
        let m = unsafe { &**msg.add(i) };
        // SAFETY: message text is a NUL-terminated string owned by the module.
        let text = unsafe { CStr::from_ptr(m.msg) }.to_string_lossy();
        let style = match m.msg_style {
            1 => "prompt_echo_off",
            2 => "prompt_echo_on",
            3 => "error",
            4 => "info",
            _ => "other",
        };
        emit(&format!("{{\"style\":{},\"text\":{}}}", json_string(style), json_string(&text)));
        if m.msg_style == 1 || m.msg_style == 2 {
            let mut line = Vec::new();
            let raw = RAW_ANSWERS.load(Relaxed);
            let read = std::io::stdin().lock().read_until(b'\n', &mut line);
            // Without --raw-answers a line that is not UTF-8 ends the conversation, as before.
            let read = if !raw && std::str::from_utf8(&line).is_err() { Ok(0) } else { read };
            match read {
                Ok(0) | Err(_) => {
                    for j in 0..i {
                        // SAFETY: entries before i were filled by strdup below.
                        unsafe { libc::free((*replies.add(j)).resp as *mut c_void) };
                    }
                    // SAFETY: allocated above with calloc.
                    unsafe { libc::free(replies as *mut c_void) };
                    return PAM_CONV_ERR;
                }
                Ok(_) => {}
            }
            let answer = line.strip_suffix(b"\n").unwrap_or(&line);
            let answer: Vec<u8> =
                if raw { answer.to_vec() } else { answer.iter().copied().filter(|b| *b != 0).collect() };
            // SAFETY: the entry exists (i < n); the module frees the string.
            unsafe { (*replies.add(i)).resp = malloc_reply(&answer) };
        }
    }
    // SAFETY: resp is a valid out-pointer provided by libpam.
    unsafe { *resp = replies };
    0
}

const USAGE: &str = "usage: pamdrive --confdir DIR --service NAME (--user USER | --user-hex HEX) [--rhost HOST] [--account] [--silent] [--report-core] [--raw-answers] [--conv-fail-at N] [--null-reply-at N] [--null-resp-at N] [--no-authenticate]";

fn usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(2);
}

/// `--user-hex`: pairs of hex digits to bytes.
fn hex_bytes(hex: &str) -> Vec<u8> {
    if !hex.len().is_multiple_of(2) {
        usage();
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or_else(|_| usage())).collect()
}

fn number(arg: Option<String>) -> usize {
    arg.and_then(|a| a.parse().ok()).unwrap_or_else(|| usage())
}

fn main() {
    let mut confdir = None;
    let mut service = None;
    let mut user = None;
    let mut rhost = None;
    let mut account = false;
    let mut authenticate = true;
    let mut flags: c_int = 0;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--confdir" => confdir = args.next(),
            "--service" => service = args.next(),
            "--user" => user = args.next().map(String::into_bytes),
            "--user-hex" => user = args.next().map(|h| hex_bytes(&h)),
            "--raw-answers" => RAW_ANSWERS.store(true, std::sync::atomic::Ordering::Relaxed),
            "--conv-fail-at" => FAIL_AT.store(number(args.next()), std::sync::atomic::Ordering::Relaxed),
            "--null-reply-at" => NULL_REPLY_AT.store(number(args.next()), std::sync::atomic::Ordering::Relaxed),
            "--null-resp-at" => NULL_RESP_AT.store(number(args.next()), std::sync::atomic::Ordering::Relaxed),
            "--rhost" => rhost = args.next(),
            "--account" => account = true,
            "--no-authenticate" => authenticate = false,
            "--silent" => flags |= PAM_SILENT,
            "--report-core" => REPORT_CORE.store(true, std::sync::atomic::Ordering::Relaxed),
            _ => usage(),
        }
    }
    let (Some(confdir), Some(service), Some(user)) = (confdir, service, user) else { usage() };
    let confdir = CString::new(confdir).unwrap();
    let service = CString::new(service).unwrap();
    let user = CString::new(user).unwrap_or_else(|_| usage());
    let conv = PamConv { conv: converse, appdata_ptr: ptr::null_mut() };
    let mut pamh: *mut c_void = ptr::null_mut();
    // SAFETY: all pointers are valid NUL-terminated strings / structs that outlive the call.
    let rc = unsafe { pam_start_confdir(service.as_ptr(), user.as_ptr(), &conv, confdir.as_ptr(), &mut pamh) };
    if rc != 0 {
        emit(&format!("{{\"step\":\"start\",\"code\":{rc},\"name\":\"{}\"}}", code_name(rc)));
        std::process::exit(1);
    }
    if let Some(h) = rhost {
        let h = CString::new(h).unwrap();
        // SAFETY: libpam copies the item.
        unsafe { pam_set_item(pamh, PAM_RHOST, h.as_ptr() as *const c_void) };
    }
    let mut last = 0;
    if authenticate {
        // SAFETY: pamh is the handle pam_start_confdir returned.
        last = unsafe { pam_authenticate(pamh, flags) };
        report_core("after");
        emit(&format!("{{\"step\":\"authenticate\",\"code\":{last},\"name\":\"{}\"}}", code_name(last)));
    }
    if account {
        // SAFETY: as above.
        let rc = unsafe { pam_setcred(pamh, PAM_ESTABLISH_CRED | flags) };
        emit(&format!("{{\"step\":\"setcred\",\"code\":{rc},\"name\":\"{}\"}}", code_name(rc)));
        // SAFETY: as above.
        last = unsafe { pam_acct_mgmt(pamh, flags) };
        emit(&format!("{{\"step\":\"acct_mgmt\",\"code\":{last},\"name\":\"{}\"}}", code_name(last)));
    }
    // SAFETY: ends the transaction started above.
    unsafe { pam_end(pamh, last) };
}
