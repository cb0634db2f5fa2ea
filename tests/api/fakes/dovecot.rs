//! A real IMAP server: Debian's Dovecot (`dovecot-imapd`, which `.ci/run` installs), started
//! in its own process with its own configuration in a fresh folder, listening on loopback
//! with TLS only (the tests' certificate for `localhost`), one user whose mail is a Maildir
//! the tests deliver into directly, as a mail delivery agent would. Killed when dropped.
//! It may be told to hide IDLE (as a server without RFC 2177 would), to drop every
//! connection (`doveadm kick`), and its log says how many message bodies each session fetched.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The uid Dovecot's mail processes run as (it refuses root).
const MAIL_UID: u32 = 65534;

pub struct Dovecot {
    pub port: u16,
    /// The user's Maildir.
    pub maildir: PathBuf,
    /// Its configuration, log and state.
    dir: PathBuf,
    user: String,
    _child: tokio::process::Child,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn fixture(path: &str) -> String {
    format!("{}/tests/{path}", env!("CARGO_MANIFEST_DIR"))
}

impl Dovecot {
    /// Starts Dovecot for `user` with `password`, once it accepts connections.
    pub async fn start(user: &str, password: &str) -> Dovecot {
        Dovecot::start_with(user, password, true).await
    }

    /// Starts Dovecot offering IDLE or not (its other capabilities as usual, MOVE and UIDPLUS included).
    pub async fn start_with(user: &str, password: &str, idle: bool) -> Dovecot {
        let binary = ["/usr/sbin/dovecot", "/usr/bin/dovecot"].into_iter().find(|p| Path::new(p).exists());
        let binary = binary.expect("Dovecot is not installed: apt-get install dovecot-imapd (as .ci/run does)");
        let dir = std::env::temp_dir().join(format!("taskbridge-dovecot-{}", uuid::Uuid::new_v4().simple()));
        let home = dir.join("home");
        let maildir = home.join("Maildir");
        for sub in ["run", "state"] {
            std::fs::create_dir_all(dir.join(sub)).expect("dovecot dirs");
        }
        for sub in ["new", "cur", "tmp", ".Taken/new", ".Taken/cur", ".Taken/tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
        }
        chown_all(&home);
        std::fs::write(dir.join("passwd"), format!("{user}:{{PLAIN}}{password}\n")).expect("passwd");
        let port = free_port();
        let d = dir.display();
        let config = format!(
            "protocols = imap\nlisten = 127.0.0.1\nbase_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n\
             ssl = required\nssl_cert = <{cert}\nssl_key = <{key}\ndisable_plaintext_auth = yes\n\
             auth_mechanisms = plain login\nfirst_valid_uid = 1\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {d}/passwd\n}}\n\
             userdb {{\n  driver = static\n  args = uid={MAIL_UID} gid={MAIL_UID} home={home}\n}}\n\
             mail_location = maildir:~/Maildir\n{capability}\
             service imap-login {{\n  inet_listener imap {{\n    port = 0\n  }}\n  inet_listener imaps {{\n    port = {port}\n    ssl = yes\n  }}\n}}\n",
            cert = fixture("fixtures/tls/server.pem"),
            key = fixture("fixtures/tls/server-key.pem"),
            home = home.display(),
            capability = if idle { String::new() } else { format!("imap_capability = {NO_IDLE}\n") },
        );
        std::fs::write(dir.join("dovecot.conf"), config).expect("config");
        let child = tokio::process::Command::new(binary)
            .arg("-F")
            .arg("-c")
            .arg(dir.join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start Dovecot");
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Dovecot { port, maildir, dir, user: user.to_string(), _child: child };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let log = std::fs::read_to_string(dir.join("dovecot.log")).unwrap_or_default();
        panic!("Dovecot did not start within 10 s: {log}");
    }

    /// Delivers `raw` into `folder` (`""` for the inbox), seen or not.
    pub fn deliver(&self, folder: &str, name: &str, raw: &str, seen: bool) {
        let dir = if folder.is_empty() { self.maildir.clone() } else { self.maildir.join(format!(".{folder}")) };
        let path = if seen { dir.join("cur").join(format!("{name}:2,S")) } else { dir.join("new").join(name) };
        // Written in tmp/ and moved into place, as Maildir asks: the server may move a
        // message on (new/ to cur/) the moment it appears.
        let staging = dir.join("tmp").join(name);
        std::fs::write(&staging, raw.replace('\n', "\r\n")).expect("deliver");
        chown_all(&staging);
        std::fs::rename(&staging, &path).expect("deliver into place");
    }

    /// The messages in `folder` (`""` for the inbox): (file name, seen).
    pub fn messages(&self, folder: &str) -> Vec<(String, bool)> {
        let dir = if folder.is_empty() { self.maildir.clone() } else { self.maildir.join(format!(".{folder}")) };
        let mut found = Vec::new();
        for sub in ["new", "cur"] {
            for entry in std::fs::read_dir(dir.join(sub)).into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                let seen = sub == "cur" && name.rsplit_once(":2,").is_some_and(|(_, flags)| flags.contains('S'));
                found.push((name, seen));
            }
        }
        found
    }
}

impl Dovecot {
    /// Drops every connection of the user, as a server restart or a network failure would.
    pub fn kick(&self) {
        let status = std::process::Command::new("doveadm")
            .arg("-c")
            .arg(self.dir.join("dovecot.conf"))
            .args(["kick", &self.user])
            .stdout(Stdio::null())
            .status()
            .expect("doveadm");
        assert!(status.success(), "doveadm kick");
    }

    /// The message bodies fetched by the sessions that have ended, in all (from each
    /// session's logout line in the log).
    pub fn bodies_fetched(&self) -> u64 {
        let log = std::fs::read_to_string(self.dir.join("dovecot.log")).unwrap_or_default();
        log.lines()
            .filter_map(|line| line.split("body_count=").nth(1))
            .filter_map(|rest| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse::<u64>().ok())
            .sum()
    }
}

/// Dovecot 2.3's capabilities once logged in, without IDLE.
const NO_IDLE: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT THREAD=REFERENCES MULTIAPPEND UNSELECT \
                       CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE ESEARCH SEARCHRES WITHIN \
                       LIST-STATUS BINARY MOVE LITERAL+ SPECIAL-USE";

/// Hands `path` (and everything under it) to the mail uid.
fn chown_all(path: &Path) {
    let status = std::process::Command::new("chown")
        .arg("-R")
        .arg(format!("{MAIL_UID}:{MAIL_UID}"))
        .arg(path)
        .status()
        .expect("chown");
    assert!(status.success(), "chown {}", path.display());
}
