#!/usr/bin/env python3
"""Writes a synthetic Postfix log (classic syslog stamps) of about SIZE_MB megabytes to stdout.

Every line comes from the templates below, written for this benchmark: a mix of delivered,
deferred-then-delivered and bounced messages, local pickups, forwarded local deliveries, RCPT
refusals, header refusals, SASL failures, postscreen and TLS lines. Seeded: the same size gives
the same log. Usage: gen-postfix-log.py SIZE_MB > postfix.log
"""
import random
import sys

size = int(float(sys.argv[1]) * 1024 * 1024)
rnd = random.Random(7)
out = sys.stdout
MON = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
HEX = "0123456789ABCDEF"
domains = [f"d{i}.example" for i in range(400)]
users = [f"user{i}" for i in range(5000)]
written = 0
t = 0  # seconds since Jan 1 00:00, in the log's year
qn = 0


def stamp():
    day = t // 86400
    # 30-day months keep it simple; the log stays within one year.
    mon, mday = divmod(day, 30)
    s = t % 86400
    return f"{MON[min(mon, 11)]} {mday + 1:2d} {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def qid():
    global qn
    qn += 1
    return "".join(HEX[(qn * 2654435761 >> (4 * k)) & 15] for k in range(6)) + f"{qn & 0xFFFFF:05X}"


def ip():
    return f"198.{18 + rnd.randrange(2)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"


buf = []
while written < size:
    t += rnd.randrange(0, 3)
    st = stamp()
    pid = rnd.randrange(1000, 60000)
    r = rnd.random()
    cip = ip()
    host = f"mail{rnd.randrange(9999)}.{rnd.choice(domains)}"
    sender = f"{rnd.choice(users)}@{rnd.choice(domains)}"
    rcpt = f"{rnd.choice(users)}@{rnd.choice(domains)}"
    lines = []
    if r < 0.06:
        lines += [
            f"{st} mx postfix/smtpd[{pid}]: connect from {host}[{cip}]",
            f"{st} mx postfix/smtpd[{pid}]: NOQUEUE: reject: RCPT from {host}[{cip}]: 554 5.7.1 <{rcpt}>: Relay access denied; from=<{sender}> to=<{rcpt}> proto=ESMTP helo=<{host}>",
            f"{st} mx postfix/smtpd[{pid}]: disconnect from {host}[{cip}] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4",
        ]
    elif r < 0.09:
        lines += [
            f"{st} mx postfix/smtpd[{pid}]: connect from unknown[{cip}]",
            f"{st} mx postfix/smtpd[{pid}]: warning: unknown[{cip}]: SASL LOGIN authentication failed: authentication failure, sasl_username={rnd.choice(users)}",
            f"{st} mx postfix/smtpd[{pid}]: disconnect from unknown[{cip}] ehlo=1 auth=0/1 quit=1 commands=2/3",
        ]
    elif r < 0.11:
        lines += [
            f"{st} mx postfix/postscreen[{pid}]: CONNECT from [{cip}]:{rnd.randrange(1024, 65535)} to [192.0.2.1]:25",
            f"{st} mx postfix/postscreen[{pid}]: PREGREET 11 after 0.{rnd.randrange(10, 99)} from [{cip}]:{rnd.randrange(1024, 65535)}: EHLO x\\r\\n",
        ]
    else:
        q = qid()
        size_b = rnd.randrange(800, 200000)
        local = r < 0.14
        if local:
            lines += [f"{st} mx postfix/pickup[{pid}]: {q}: uid=1000 from=<{rnd.choice(users)}>"]
        else:
            lines += [
                f"{st} mx postfix/smtpd[{pid}]: connect from {host}[{cip}]",
                f"{st} mx postfix/smtpd[{pid}]: Anonymous TLS connection established from {host}[{cip}]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
                f"{st} mx postfix/smtpd[{pid}]: {q}: client={host}[{cip}]",
            ]
        lines += [
            f"{st} mx postfix/cleanup[{pid + 1}]: {q}: message-id=<{q}.{rnd.randrange(10**9)}@{host}>",
        ]
        if rnd.random() < 0.01:
            lines += [f"{st} mx postfix/cleanup[{pid + 1}]: {q}: reject: header Subject: win big now from {host}[{cip}]; from=<{sender}> to=<{rcpt}> proto=ESMTP helo=<{host}>: 5.7.1 message content rejected"]
            if not local:
                lines += [f"{st} mx postfix/smtpd[{pid}]: disconnect from {host}[{cip}] ehlo=1 mail=1 rcpt=1 data=0/1 quit=1 commands=4/5"]
            buf.extend(lines)
            written += sum(len(x) + 1 for x in lines)
            continue
        nr = 1 if rnd.random() < 0.8 else 2
        lines += [f"{st} mx postfix/qmgr[900]: {q}: from=<{sender}>, size={size_b}, nrcpt={nr} (queue active)"]
        if not local:
            lines += [f"{st} mx postfix/smtpd[{pid}]: disconnect from {host}[{cip}] ehlo=1 mail=1 rcpt={nr} data=1 quit=1 commands={3 + nr + 1}"]
        for k in range(nr):
            to = rcpt if k == 0 else f"{rnd.choice(users)}@{rnd.choice(domains)}"
            mx = f"mx{rnd.randrange(3)}.{to.split('@')[1]}"
            rip = f"203.0.113.{rnd.randrange(1, 255)}"
            d = f"{rnd.randrange(0, 5)}.{rnd.randrange(10, 99)}"
            x = rnd.random()
            if local and x < 0.3:
                lines += [f"{st} mx postfix/local[{pid + 2}]: {q}: to=<{to}>, orig_to=<{to.split('@')[0]}>, relay=local, delay={d}, delays=0.01/0/0/0.02, dsn=2.0.0, status=sent (forwarded as {qid()})"]
                continue
            if x < 0.08:
                lines += [f"{st} mx postfix/smtp[{pid + 2}]: {q}: to=<{to}>, relay={mx}[{rip}]:25, delay={d}, delays=0.1/0/0.2/0.3, dsn=4.7.1, status=deferred (host {mx}[{rip}] said: 450 4.7.1 <{to}>: Recipient address rejected: Greylisted, try again later (in reply to RCPT TO command))"]
                t2 = t + 300
                lines += [f"{st} mx postfix/smtp[{pid + 3}]: {q}: to=<{to}>, relay={mx}[{rip}]:25, delay={d}, delays=300/0/0.2/0.3, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {qid()})"]
            elif x < 0.13:
                lines += [f"{st} mx postfix/smtp[{pid + 2}]: {q}: to=<{to}>, relay={mx}[{rip}]:25, delay={d}, delays=0.1/0/0.2/0.3, dsn=5.1.1, status=bounced (host {mx}[{rip}] said: 550 5.1.1 <{to}>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command))"]
            else:
                lines += [f"{st} mx postfix/smtp[{pid + 2}]: {q}: to=<{to}>, relay={mx}[{rip}]:25, delay={d}, delays=0.1/0/0.2/0.3, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {qid()})"]
        lines += [f"{st} mx postfix/qmgr[900]: {q}: removed"]
    buf.extend(lines)
    written += sum(len(x) + 1 for x in lines)
    if len(buf) > 20000:
        out.write("\n".join(buf) + "\n")
        buf.clear()
if buf:
    out.write("\n".join(buf) + "\n")
