#!/usr/bin/python3
"""Logs in to an SSH server with paramiko: an optional public key first, then
keyboard-interactive, then runs one command. Used by tests/sshd.rs.

Argument: one JSON object
  {"port": N, "user": NAME, "answers": [[PROMPT, [ANSWER, ...]], ...],
   "key": PATH or null, "command": CMD, "host": ADDRESS (default 127.0.0.1)}
Prints one JSON object: {"ok": bool, "error": text or null,
"rounds": [{"title", "instructions", "prompts": [[text, echo], ...]}, ...],
"stdout": text, "exit": status or null}.
"""
import json
import socket
import sys

import paramiko

from answers import resolve


def main():
    spec = json.loads(sys.argv[1])
    queues = {p: list(a) for p, a in spec["answers"]}
    rounds = []

    def handler(title, instructions, prompt_list):
        rounds.append({"title": title, "instructions": instructions,
                       "prompts": [[p, echo] for p, echo in prompt_list]})
        answers = []
        for text, _echo in prompt_list:
            # sshd puts PAM's info messages in front of the next prompt's text:
            # a prompt is answered by the queue of the prompt it ends with.
            queue = queues.get(text) or next((q for p, q in queues.items() if text.endswith(p)), None)
            if not queue:
                raise paramiko.AuthenticationException("no answer left for %r" % text)
            seen = "\n".join(r["instructions"] + "\n" + "\n".join(p for p, _ in r["prompts"]) for r in rounds)
            answers.append(resolve(queue.pop(0), seen))
        return answers

    result = {"ok": False, "error": None, "rounds": rounds, "stdout": "", "exit": None}
    sock = socket.create_connection((spec.get("host", "127.0.0.1"), spec["port"]), timeout=30)
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=30)
        if spec.get("key"):
            key = paramiko.Ed25519Key.from_private_key_file(spec["key"])
            transport.auth_publickey(spec["user"], key)
        transport.auth_interactive(spec["user"], handler)
        result["ok"] = transport.is_authenticated()
        chan = transport.open_session(timeout=30)
        chan.exec_command(spec["command"])
        result["stdout"] = chan.makefile("r").read().decode()
        result["exit"] = chan.recv_exit_status()
    except (paramiko.SSHException, OSError) as e:
        result["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        transport.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
