"""A tiny SMTP sink for the tests (aiosmtpd): binds 127.0.0.1 on a free port,
prints the port on its first line, and writes each message to OUTDIR/NNNNN.eml,
its envelope recipients to NNNNN.rcpt and its envelope sender to NNNNN.from
(numbered from 00001 across all connections; each file renamed into place once
complete, the .eml last). It exits when the process that started it is gone,
even one that was killed.

Used by tests/email.rs and tests/sms.rs (through tests/common/smtp.rs) and by
scripts/pamharness.py (scripts/memcheck, scripts/faultcheck).

    /usr/bin/python3 tests/common/smtp_sink.py OUTDIR
"""

import asyncio
import os
import socket
import sys

from aiosmtpd.smtp import SMTP

OUTDIR = sys.argv[1]


class Sink:
    count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(OUTDIR, "%05d" % self.count)
        parts = (
            (".from", envelope.mail_from.encode()),
            (".rcpt", "\n".join(envelope.rcpt_tos).encode()),
            (".eml", envelope.original_content),
        )
        for ext, data in parts:
            with open(base + ext + ".tmp", "wb") as f:
                f.write(data)
            os.rename(base + ext + ".tmp", base + ext)
        return "250 Message accepted"


async def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sink = Sink()  # one for all connections: it numbers the messages
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(sink), sock=sock)
    print(sock.getsockname()[1], flush=True)
    # Gone with the process that started it, even when that one was killed.
    parent = os.getppid()
    async with server:
        while os.getppid() == parent:
            await asyncio.sleep(1)


asyncio.run(main())
