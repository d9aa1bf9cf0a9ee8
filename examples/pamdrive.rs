//! pamdrive: a tiny PAM application for tests and for trying a configuration by hand.
//!
//! ```text
//! pamdrive --confdir DIR --service NAME --user USER [--rhost HOST] [--account] [--silent] [--report-core]
//! ```
//!
//! It calls `pam_start_confdir` (so the service file is read from DIR, never
//! from /etc/pam.d), then `pam_authenticate` (and with `--account`,
//! `pam_setcred` and `pam_acct_mgmt`); `--silent` passes `PAM_SILENT` to
//! each. Every conversation message is printed to stdout as one JSON line (`{"style":"prompt_echo_off","text":"…"}`) and
//! flushed; each prompt is answered with the next line of stdin (end of input
//! makes the conversation fail, like Ctrl-D). The last line is
//! `{"step":"authenticate","code":0,"name":"PAM_SUCCESS"}` (one per PAM call).
//! With `--report-core`, each conversation call and the end of
//! `pam_authenticate` also print `{"probe":"conversation","core":N,"dumpable":D}`
//! (this process's soft RLIMIT_CORE and PR_GET_DUMPABLE, as the module left them).
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
    let n = num_msg as usize;
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
            let mut line = String::new();
            match std::io::stdin().lock().read_line(&mut line) {
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
            let answer = line.strip_suffix('\n').unwrap_or(&line);
            let answer = CString::new(answer.replace('\0', "")).unwrap();
            // SAFETY: strdup copies into malloc'd memory that the module frees.
            unsafe { (*replies.add(i)).resp = libc::strdup(answer.as_ptr()) };
        }
    }
    // SAFETY: resp is a valid out-pointer provided by libpam.
    unsafe { *resp = replies };
    0
}

fn main() {
    let mut confdir = None;
    let mut service = None;
    let mut user = None;
    let mut rhost = None;
    let mut account = false;
    let mut flags: c_int = 0;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--confdir" => confdir = args.next(),
            "--service" => service = args.next(),
            "--user" => user = args.next(),
            "--rhost" => rhost = args.next(),
            "--account" => account = true,
            "--silent" => flags |= PAM_SILENT,
            "--report-core" => REPORT_CORE.store(true, std::sync::atomic::Ordering::Relaxed),
            _ => {
                eprintln!(
                    "usage: pamdrive --confdir DIR --service NAME --user USER [--rhost HOST] [--account] [--silent] [--report-core]"
                );
                std::process::exit(2);
            }
        }
    }
    let (Some(confdir), Some(service), Some(user)) = (confdir, service, user) else {
        eprintln!(
            "usage: pamdrive --confdir DIR --service NAME --user USER [--rhost HOST] [--account] [--silent] [--report-core]"
        );
        std::process::exit(2);
    };
    let confdir = CString::new(confdir).unwrap();
    let service = CString::new(service).unwrap();
    let user = CString::new(user).unwrap();
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
    // SAFETY: pamh is the handle pam_start_confdir returned.
    let mut last = unsafe { pam_authenticate(pamh, flags) };
    report_core("after");
    emit(&format!("{{\"step\":\"authenticate\",\"code\":{last},\"name\":\"{}\"}}", code_name(last)));
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
