//! A fake SMTP server on a local port, speaking enough of RFC 5321 for a real client: the greeting,
//! `EHLO`/`HELO`, `MAIL FROM`, `RCPT TO`, `DATA` (dot-terminated, dot-unstuffed), `RSET`, `NOOP`,
//! `QUIT`. It offers no TLS and no authentication, so the client is pointed at it with a plain
//! `smtp://127.0.0.1:port` URL. Every accepted mail is kept for the test to read.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One accepted mail: the envelope and the raw message (headers and body).
#[derive(Clone, Debug)]
pub struct FakeMail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

impl FakeMail {
    /// The message's body, after the headers, with soft line breaks of quoted-printable undone.
    pub fn body(&self) -> String {
        let body = self
            .data
            .split_once("\r\n\r\n")
            .map_or(self.data.as_str(), |(_, body)| body);
        body.replace("=\r\n", "").replace("=3D", "=")
    }
}

type Inbox = Arc<Mutex<Vec<FakeMail>>>;

/// A running fake; dropping it stops accepting connections.
pub struct FakeSmtp {
    url: String,
    inbox: Inbox,
    task: tokio::task::JoinHandle<()>,
}

impl FakeSmtp {
    /// Starts the fake on a free local port.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("smtp://{}", listener.local_addr()?);
        let inbox: Inbox = Arc::default();
        let accepting = inbox.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, accepting.clone()));
            }
        });
        Ok(Self { url, inbox, task })
    }

    /// The URL to configure as `RINGBACK_SMTP_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The mails accepted so far.
    pub fn mails(&self) -> Vec<FakeMail> {
        self.inbox
            .lock()
            .map(|mails| mails.clone())
            .unwrap_or_default()
    }

    /// Waits until at least `count` mails were accepted, or `timeout` passed; returns them.
    pub async fn wait_for_mails(&self, count: usize, timeout: Duration) -> Vec<FakeMail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mails = self.mails();
            if mails.len() >= count || tokio::time::Instant::now() >= deadline {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for FakeSmtp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One client connection, until `QUIT` or the connection ends.
async fn session(stream: TcpStream, inbox: Inbox) {
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader);
    let mut envelope = FakeMail {
        from: String::new(),
        to: Vec::new(),
        data: String::new(),
    };
    if writer.write_all(b"220 fake.smtp ESMTP\r\n").await.is_err() {
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-fake.smtp\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" | "NOOP" => b"250 OK\r\n",
            "MAIL" => {
                envelope.from = address_of(&command);
                b"250 OK\r\n"
            }
            "RCPT" => {
                envelope.to.push(address_of(&command));
                b"250 OK\r\n"
            }
            "RSET" => {
                envelope.to.clear();
                b"250 OK\r\n"
            }
            "DATA" => {
                if writer
                    .write_all(b"354 End with <CRLF>.<CRLF>\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                let Some(data) = read_data(&mut lines).await else {
                    return;
                };
                envelope.data = data;
                if let Ok(mut mails) = inbox.lock() {
                    mails.push(envelope.clone());
                }
                envelope.to.clear();
                b"250 OK queued\r\n"
            }
            "QUIT" => {
                let _ = writer.write_all(b"221 Bye\r\n").await;
                return;
            }
            _ => b"502 Command not implemented\r\n",
        };
        if writer.write_all(reply).await.is_err() {
            return;
        }
    }
}

/// The address between `<` and `>` of a `MAIL FROM:` or `RCPT TO:` line.
fn address_of(command: &str) -> String {
    command
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(address, _)| address.to_owned())
        .unwrap_or_default()
}

/// The message of a `DATA` command, up to the line holding a single dot.
async fn read_data<R: tokio::io::AsyncBufRead + Unpin>(lines: &mut R) -> Option<String> {
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        if line == ".\r\n" || line == ".\n" {
            return Some(data);
        }
        data.push_str(line.strip_prefix('.').unwrap_or(&line));
    }
}
