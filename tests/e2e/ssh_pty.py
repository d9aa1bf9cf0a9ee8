#!/usr/bin/python3
"""Drives a real program (OpenSSH `ssh`, `login`, `su`, ...) through a pty the
way a person would, for the end-to-end tests in tests/sshd.rs and
tests/console.rs.

Argument: one JSON object
  {"argv": [...], "answers": [[PROMPT, [ANSWER, ...]], ...], "timeout": SECONDS,
   "env": {...}}
Whenever PROMPT (a literal string) appears, the next of its answers is typed.
An answer made by from_file() (tests/e2e/mod.rs) is read from a file
when its prompt appears. When a prompt's answers run out, the program is closed (as if the person gave
up) and "unanswered" names the prompt.
Prints one JSON object: {"transcript": everything the terminal showed,
"exit": exit status or null, "signal": signal or null, "unanswered": PROMPT or null}.
"""
import io
import json
import os
import sys

import pexpect

from answers import resolve


def main():
    spec = json.loads(sys.argv[1])
    argv = spec["argv"]
    prompts = [p for p, _ in spec["answers"]]
    queues = {p: list(a) for p, a in spec["answers"]}
    env = dict(os.environ)
    env.update(spec.get("env", {}))
    log = io.StringIO()
    child = pexpect.spawn(argv[0], argv[1:], encoding="utf-8", codec_errors="replace",
                          timeout=spec.get("timeout", 30), env=env, dimensions=(24, 200))
    child.logfile_read = log
    unanswered = None
    while True:
        i = child.expect_exact(prompts + [pexpect.EOF, pexpect.TIMEOUT])
        if i == len(prompts):
            break
        if i == len(prompts) + 1:
            unanswered = "TIMEOUT"
            break
        queue = queues[prompts[i]]
        if not queue:
            unanswered = prompts[i]
            break
        child.sendline(resolve(queue.pop(0), log.getvalue()))
    child.close(force=True)
    print(json.dumps({"transcript": log.getvalue(), "exit": child.exitstatus,
                      "signal": child.signalstatus, "unanswered": unanswered}))


if __name__ == "__main__":
    main()
