"""Builders for edge-case e-mails the tests construct themselves."""

from __future__ import annotations

import tarfile
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from io import BytesIO
from pathlib import Path


def simple(
    subject: str = "Hello",
    body: str = "Just a note.",
    sender: str | None = "Ann <ann@example.org>",
    date: str | None = "Tue, 03 Sep 2002 10:15:00 +0200",
    html: bool = False,
) -> bytes:
    msg = EmailMessage()
    if subject is not None:
        msg["Subject"] = subject
    if sender is not None:
        msg["From"] = sender
    msg["To"] = "bob@example.com"
    if date is not None:
        msg["Date"] = date
    msg.set_content(body, subtype="html" if html else "plain")
    return msg.as_bytes()


def nested_multipart() -> bytes:
    """mixed( alternative( plain, related( html, image ) ), pdf attachment )."""
    outer = MIMEMultipart("mixed")
    outer["Subject"] = "Quarterly report"
    outer["From"] = "Finance <finance@corp.example>"
    alt = MIMEMultipart("alternative")
    alt.attach(MIMEText("See the report at http://intranet.corp.example/q3 today.", "plain"))
    related = MIMEMultipart("related")
    related.attach(
        MIMEText(
            '<html><body><p>See <a href="http://intranet.corp.example/q3">'
            'the report</a></p><img src="cid:logo"></body></html>',
            "html",
        )
    )
    related.attach(MIMEApplication(b"\x89PNG\r\n\x1a\n" + bytes(200), "png"))
    alt.attach(related)
    outer.attach(alt)
    outer.attach(MIMEApplication(b"%PDF-1.4 " + bytes(range(256)) * 4, "pdf", Name="report.pdf"))
    return outer.as_bytes()


def write_archive(path: Path, members: dict[str, bytes], mode: str = "w:bz2") -> Path:
    with tarfile.open(path, mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, BytesIO(data))
    return path
