//! Judging a stack: its auth handlers run through a model of libpam's
//! dispatcher (`_pam_dispatch_aux`: impression and status,
//! `ok`/`done`/`bad`/`die`/`reset`/jumps, a substack ending at its own `done`
//! or `die`) once for every outcome the modules may have, and what all those
//! paths say about twostep's place in it ([`Verdict`]).

use super::control::{Action, Actions, Ret};
use super::load::Service;
use super::stack::{Handler, Kind, Origin};

/// Paths explored per stack before giving up ("cannot tell").
const MAX_PATHS: usize = 50_000;

/// What the model found for one service's auth stack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Twostep can be reached without a password module having said yes before it.
    pub after_wrong_password: bool,
    /// Every path reaching twostep reaches it before any password module
    /// (the public key + code pattern).
    pub code_first: bool,
    /// The stack can succeed without twostep running; the line that ended it (or none: the end).
    pub skipped: Option<Option<Origin>>,
    /// The stack can succeed with twostep run and no password module having said yes.
    pub code_alone: bool,
    /// Twostep is never reached at all.
    pub never_reached: bool,
    /// Some path ends in success (else every login through the stack fails).
    pub can_succeed: bool,
    /// The model could not follow the stack (why).
    pub unknown: Option<String>,
}

impl Verdict {
    /// `safe`, `after_wrong_password`, `code_first`, `skippable`, `never_reached` or `unknown`, for JSON.
    pub fn order(&self) -> &'static str {
        if self.unknown.is_some() {
            "unknown"
        } else if self.never_reached {
            "never_reached"
        } else if self.skipped.is_some() {
            "skippable"
        } else if self.code_first {
            "code_first"
        } else if self.after_wrong_password {
            "after_wrong_password"
        } else {
            "safe"
        }
    }
}

/// The state of libpam's dispatcher between two handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Impression {
    Undef,
    Positive,
    Negative,
}

#[derive(Debug, Clone)]
struct State {
    impression: Impression,
    /// `true` when the status is PAM_SUCCESS.
    status_ok: bool,
    /// Saved at the entry of each substack level, for `reset`.
    saved: Vec<(Impression, bool)>,
    twostep_ran: bool,
    password_ran: bool,
    password_ok: bool,
    /// Twostep ran before any password module said yes.
    reached_after_wrong: bool,
    /// Twostep ran before any password module ran.
    reached_first: bool,
    ended_by: Option<usize>,
}

struct Explorer<'a> {
    h: &'a [Handler],
    paths: usize,
    verdict: Verdict,
    /// Paths reaching twostep, and how many of those before any password module.
    reached: usize,
    reached_first: usize,
}

impl Explorer<'_> {
    fn finish(&mut self, s: &State) {
        self.paths += 1;
        self.reached += usize::from(s.twostep_ran);
        self.reached_first += usize::from(s.reached_first);
        self.verdict.after_wrong_password |= s.reached_after_wrong;
        let success = s.impression == Impression::Positive && s.status_ok;
        self.verdict.can_succeed |= success;
        if success && !s.twostep_ran && self.verdict.skipped.is_none() {
            self.verdict.skipped = Some(s.ended_by.map(|i| self.h[i].origin.clone()));
        }
        if success && s.twostep_ran && !s.password_ok {
            self.verdict.code_alone = true;
        }
    }

    /// Runs the stack from handler `i` in state `s`, once per possible outcome.
    fn run(&mut self, mut i: usize, mut s: State, prev_level: usize) {
        let h = self.h;
        let mut prev = prev_level;
        while i < h.len() {
            if self.paths >= MAX_PATHS {
                self.verdict.unknown = Some("the stack has too many possible paths".into());
                return;
            }
            let level = h[i].level;
            if prev < level {
                s.saved.resize(level + 1, (Impression::Undef, false));
                s.saved[level] = (s.impression, s.status_ok);
            }
            prev = level;
            if matches!(h[i].kind, Kind::Substack) {
                i += 1;
                continue;
            }
            let Some(actions) = h[i].actions else {
                self.verdict.unknown = Some(format!("libpam does not understand the control {:?}", h[i].control));
                return;
            };
            let outcomes = h[i].outcomes();
            let (&last, others) = outcomes.split_last().expect("at least one outcome");
            for &r in others {
                let mut branch = s.clone();
                if let Some(next) = self.step(i, r, actions, &mut branch) {
                    self.run(next, branch, level);
                } else {
                    self.finish(&branch);
                }
                if self.verdict.unknown.is_some() {
                    return;
                }
            }
            match self.step(i, last, actions, &mut s) {
                Some(next) => i = next,
                None => break,
            }
        }
        self.finish(&s);
    }

    /// Applies return code `r` of handler `i`; the next handler to run, or
    /// `None` when the stack has ended.
    fn step(&mut self, i: usize, r: Ret, actions: Actions, s: &mut State) -> Option<usize> {
        let h = self.h;
        let me = &h[i];
        if me.is_twostep() && !s.twostep_ran {
            s.twostep_ran = true;
            s.reached_after_wrong = !s.password_ok;
            if !s.password_ran {
                s.reached_first = true;
            }
        }
        if me.is_password() {
            s.password_ran = true;
            s.password_ok |= r == Ret::Success;
        }
        let level = me.level;
        // The end of the current level: the first later handler at a lower level.
        let level_end = |from: usize| (from + 1..h.len()).find(|&j| h[j].level < level).unwrap_or(h.len());
        match actions.of(r) {
            Action::Reset => {
                let (imp, ok) = s.saved.get(level).copied().unwrap_or((Impression::Undef, false));
                s.impression = imp;
                s.status_ok = ok;
            }
            a @ (Action::Ok | Action::Done) => {
                if (s.impression == Impression::Undef || (s.impression == Impression::Positive && s.status_ok))
                    && r != Ret::Ignore
                {
                    s.impression = Impression::Positive;
                    s.status_ok = r == Ret::Success;
                }
                if s.impression != Impression::Negative && a == Action::Done {
                    s.ended_by = Some(i);
                    let end = level_end(i);
                    return if level == 0 { None } else { Some(end) };
                }
            }
            a @ (Action::Bad | Action::Die) => {
                if s.impression != Impression::Negative {
                    s.impression = Impression::Negative;
                    s.status_ok = false;
                }
                if a == Action::Die {
                    let end = level_end(i);
                    return if level == 0 { None } else { Some(end) };
                }
            }
            Action::Ignore => {}
            Action::Jump(n) => {
                // Skip n handlers of this level (a substack counts as one).
                let mut j = i;
                let mut left = n;
                while left > 0 && j + 1 < h.len() && h[j + 1].level >= level {
                    j += 1;
                    while j + 1 < h.len() && h[j + 1].level > level {
                        j += 1;
                    }
                    left -= 1;
                }
                if left > 0 {
                    // libpam: "bad jump in stack", the result is a failure.
                    s.impression = Impression::Negative;
                    s.status_ok = false;
                }
                return Some(j + 1);
            }
        }
        Some(i + 1)
    }
}

/// What the auth stack of `service` does around twostep; `None` when its
/// auth stack does not load the module.
pub fn analyse(service: &Service) -> Option<Verdict> {
    if !service.auth.iter().any(Handler::is_twostep) {
        return None;
    }
    let start = State {
        impression: Impression::Undef,
        status_ok: false,
        saved: vec![(Impression::Undef, false)],
        twostep_ran: false,
        password_ran: false,
        password_ok: false,
        reached_after_wrong: false,
        reached_first: false,
        ended_by: None,
    };
    let mut e = Explorer { h: &service.auth, paths: 0, verdict: Verdict::default(), reached: 0, reached_first: 0 };
    e.run(0, start, 0);
    e.verdict.never_reached = e.reached == 0 && e.verdict.unknown.is_none();
    e.verdict.code_first = e.reached > 0 && e.reached_first == e.reached;
    Some(e.verdict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::check::pam_stack::dir;
    use crate::cli::check::pam_stack::load::load;
    use std::path::Path;

    fn verdict(files: &[(&str, &str)], service: &str) -> Verdict {
        let d = dir(files);
        analyse(&load(d.path(), service)).expect("the module is in the stack")
    }

    fn shipped(name: &str) -> String {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("pam-config/pam.d").join(name)).unwrap()
    }

    /// Debian 12's /etc/pam.d/common-auth as pam-auth-update writes it.
    const DEBIAN_COMMON_AUTH: &str = "auth\t[success=1 default=ignore]\tpam_unix.so nullok\n\
        auth\trequisite\t\t\tpam_deny.so\nauth\trequired\t\t\tpam_permit.so\n";

    /// RHEL 9's password-auth (auth part).
    const RHEL_PASSWORD_AUTH: &str = "auth required pam_env.so\n\
        auth required pam_faildelay.so delay=2000000\n\
        auth [default=1 ignore=ignore success=ok] pam_usertype.so isregular\n\
        auth [default=1 ignore=ignore success=ok] pam_localuser.so\n\
        auth sufficient pam_unix.so nullok\n\
        auth [default=1 ignore=ignore success=ok] pam_usertype.so isregular\n\
        auth sufficient pam_sss.so forward_pass\n\
        auth required pam_deny.so\n";

    #[test]
    fn the_shipped_password_stacks_ask_for_the_code_only_after_a_right_password() {
        for name in ["sshd", "login"] {
            let v = verdict(&[("common-auth", DEBIAN_COMMON_AUTH), (name, &shipped(name))], name);
            assert_eq!(v.order(), "safe", "{name}: {v:?}");
            assert!(!v.code_alone, "{name}: {v:?}");
        }
        let v = verdict(&[("svc", &shipped("password-then-code"))], "svc");
        assert_eq!((v.order(), v.code_alone), ("safe", false), "{v:?}");
    }

    #[test]
    fn the_shipped_publickey_stack_asks_for_the_code_first_and_a_code_alone_logs_in() {
        let v = verdict(&[("common-auth", DEBIAN_COMMON_AUTH), ("sshd", &shipped("sshd-publickey"))], "sshd");
        assert_eq!(v.order(), "code_first", "{v:?}");
        assert!(v.code_alone && v.skipped.is_none(), "{v:?}");
    }

    #[test]
    fn a_required_password_module_does_not_stop_a_wrong_password() {
        let v = verdict(&[("s", "auth required pam_unix.so\nauth required pam_twostep.so\n")], "s");
        assert_eq!(v.order(), "after_wrong_password", "{v:?}");
        let v = verdict(&[("s", "auth requisite pam_unix.so\nauth required pam_twostep.so\n")], "s");
        assert_eq!(v.order(), "safe", "{v:?}");
    }

    #[test]
    fn rhel_substack_reaches_twostep_after_a_wrong_password_and_include_skips_it() {
        let files = [
            ("password-auth", RHEL_PASSWORD_AUTH),
            ("sub", "auth substack password-auth\nauth required pam_twostep.so\n"),
            ("inc", "auth include password-auth\nauth required pam_twostep.so\n"),
        ];
        let v = verdict(&files, "sub");
        assert_eq!(v.order(), "after_wrong_password", "{v:?}");
        let v = verdict(&files, "inc");
        assert_eq!(v.order(), "skippable", "{v:?}");
        let end = v.skipped.clone().unwrap().unwrap();
        assert_eq!((end.file.file_name().unwrap().to_str(), end.line), (Some("password-auth"), 5));
        assert_eq!(end.via.len(), 1, "{end:?}");
    }

    #[test]
    fn jumps_count_a_substack_as_one_module_and_die_ends_only_the_substack() {
        let files = [
            ("pw", "auth requisite pam_deny.so\nauth requisite pam_deny.so\n"),
            ("s", "auth [success=1 default=ignore] pam_unix.so\nauth substack pw\nauth required pam_twostep.so\n"),
        ];
        let v = verdict(&files, "s");
        // A right password jumps over the whole substack to twostep: the stack can succeed.
        assert!(v.can_succeed, "{v:?}");
        // A wrong password dies in the substack, which ends only the substack.
        assert_eq!(v.order(), "after_wrong_password", "{v:?}");
        let files = [(
            "s",
            "auth [success=3 default=ignore] pam_unix.so\nauth requisite pam_deny.so\n\
             auth required pam_permit.so\nauth required pam_twostep.so\n",
        )];
        let v = verdict(&files, "s");
        assert_eq!(v.order(), "never_reached", "the jump goes past twostep: {v:?}");
        assert!(!v.can_succeed, "a jump to the end decides nothing, and that fails: {v:?}");
    }

    #[test]
    fn a_missing_include_fails_and_an_unknown_control_is_not_guessed() {
        let v = verdict(&[("s", "@include nothere\nauth required pam_twostep.so\n")], "s");
        assert_eq!(v.order(), "code_first", "{v:?}");
        let d = dir(&[("s", "auth include nothere\nauth required pam_twostep.so\n")]);
        let s = load(d.path(), "s");
        assert_eq!(s.unreadable.len(), 1, "{s:?}");
        assert!(!analyse(&s).unwrap().code_alone, "the failed include fails the stack");
        let v = verdict(&[("s", "auth [success=ok bogus=die] pam_unix.so\nauth required pam_twostep.so\n")], "s");
        assert_eq!(v.order(), "unknown", "{v:?}");
    }
}
