//! The little of Redis taskbridge needs (SET with expiry, GETDEL for OAuth states; a Lua
//! script for the shared rate limits), spoken in RESP. A few connections are kept open
//! between calls, since a rate limit is checked on every request; a crate would cost more
//! build than it saves.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Idle connections kept for the next calls; more are closed after use.
const MAX_IDLE: usize = 16;

type Connection = BufReader<TcpStream>;

/// A Redis server: `redis://[:password@]host[:port][/db]` (or with `user:password@`).
/// Clones share their idle connections.
#[derive(Clone)]
pub struct Redis {
    addr: String,
    auth: Option<(Option<String>, String)>,
    db: Option<u32>,
    timeout: Duration,
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redis({})", self.addr)
    }
}

enum Reply {
    Simple(String),
    Bulk(Option<String>),
    Integer(i64),
    /// An error reply (`-ERR …`, `-NOSCRIPT …`): the command ran and was refused.
    Error(String),
}

impl Redis {
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url.strip_prefix("redis://").ok_or("a Redis URL starts with redis://")?;
        let (auth, rest) = match rest.rsplit_once('@') {
            Some((auth, rest)) => {
                let (user, password) = match auth.split_once(':') {
                    Some((user, password)) => ((!user.is_empty()).then(|| user.to_string()), password.to_string()),
                    None => (None, auth.to_string()),
                };
                (Some((user, password)), rest)
            }
            None => (None, rest),
        };
        let (host, db) = match rest.split_once('/') {
            Some((host, db)) if !db.is_empty() => (host, Some(db.parse().map_err(|_| "the database is a number")?)),
            Some((host, _)) => (host, None),
            None => (rest, None),
        };
        if host.is_empty() {
            return Err("the Redis URL has no host".into());
        }
        let addr = if host.contains(':') { host.to_string() } else { format!("{host}:6379") };
        Ok(Redis { addr, auth, db, timeout: Duration::from_secs(5), idle: Arc::default() })
    }

    /// The same server and connections, each call bounded by `timeout`.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Redis { timeout, ..self.clone() }
    }

    /// `host:port`, for messages (never the password).
    pub fn address(&self) -> &str {
        &self.addr
    }

    async fn connect(&self) -> Result<Connection, String> {
        let stream = TcpStream::connect(&self.addr).await.map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let mut stream = BufReader::new(stream);
        if let Some((user, password)) = &self.auth {
            let mut auth = vec!["AUTH"];
            if let Some(user) = user {
                auth.push(user);
            }
            auth.push(password);
            expect_ok(exchange(&mut stream, &auth).await?, "AUTH")?;
        }
        if let Some(db) = self.db {
            expect_ok(exchange(&mut stream, &["SELECT", &db.to_string()]).await?, "SELECT")?;
        }
        Ok(stream)
    }

    fn take_idle(&self) -> Option<Connection> {
        self.idle.lock().ok()?.pop()
    }

    fn give_back(&self, connection: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(connection);
        }
    }

    async fn call(&self, command: &[&str]) -> Result<Reply, String> {
        let work = async {
            // A kept connection the server has closed fails at once; a fresh one is tried then.
            if let Some(mut connection) = self.take_idle()
                && let Ok(reply) = exchange(&mut connection, command).await
            {
                self.give_back(connection);
                return Ok(reply);
            }
            let mut connection = self.connect().await?;
            let reply = exchange(&mut connection, command).await?;
            self.give_back(connection);
            Ok(reply)
        };
        tokio::time::timeout(self.timeout, work).await.map_err(|_| "Redis did not answer in time".to_string())?
    }

    pub async fn set_ex(&self, key: &str, value: &str, ttl: Duration) -> Result<(), String> {
        expect_ok(self.call(&["SET", key, value, "EX", &ttl.as_secs().max(1).to_string()]).await?, "SET")
    }

    /// The value, removed in the same step (so it is answered once).
    pub async fn get_del(&self, key: &str) -> Result<Option<String>, String> {
        match self.call(&["GETDEL", key]).await? {
            Reply::Bulk(value) => Ok(value),
            Reply::Error(e) => Err(format!("Redis: {e}")),
            _ => Err("Redis answered GETDEL oddly".into()),
        }
    }

    pub async fn ping(&self) -> Result<(), String> {
        match self.call(&["PING"]).await? {
            Reply::Simple(pong) if pong == "PONG" => Ok(()),
            Reply::Error(e) => Err(format!("Redis: {e}")),
            _ => Err("Redis answered PING oddly".into()),
        }
    }

    /// Runs a Lua script that answers an integer: by its SHA-1 when the server has it
    /// cached, sending the source once when it has not (`NOSCRIPT`).
    pub async fn eval_integer(&self, script: &Script, keys: &[&str], args: &[&str]) -> Result<i64, String> {
        let count = keys.len().to_string();
        let mut command = vec!["EVALSHA", script.sha1.as_str(), count.as_str()];
        command.extend_from_slice(keys);
        command.extend_from_slice(args);
        let reply = match self.call(&command).await? {
            Reply::Error(e) if e.starts_with("NOSCRIPT") => {
                command[0] = "EVAL";
                command[1] = script.source;
                self.call(&command).await?
            }
            other => other,
        };
        match reply {
            Reply::Integer(n) => Ok(n),
            Reply::Error(e) => Err(format!("Redis: {e}")),
            _ => Err("the script answered something other than an integer".into()),
        }
    }

    #[cfg(test)]
    pub async fn ttl(&self, key: &str) -> Result<i64, String> {
        match self.call(&["TTL", key]).await? {
            Reply::Integer(n) => Ok(n),
            _ => Err("Redis answered TTL oddly".into()),
        }
    }
}

/// A Lua script and its SHA-1, under which Redis caches it.
pub struct Script {
    source: &'static str,
    sha1: String,
}

impl Script {
    pub fn new(source: &'static str) -> Self {
        use sha1::Digest;
        let sha1 = sha1::Sha1::digest(source.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        Script { source, sha1 }
    }
}

fn expect_ok(reply: Reply, what: &str) -> Result<(), String> {
    match reply {
        Reply::Simple(ok) if ok == "OK" => Ok(()),
        Reply::Error(e) => Err(format!("Redis refused the {what}: {e}")),
        _ => Err(format!("Redis answered the {what} oddly")),
    }
}

/// The largest value read back (a state's binding is well under 1 KiB).
const MAX_REPLY: i64 = 1024 * 1024;

async fn exchange(stream: &mut Connection, command: &[&str]) -> Result<Reply, String> {
    let mut out = format!("*{}\r\n", command.len()).into_bytes();
    for part in command {
        out.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    stream.get_mut().write_all(&out).await.map_err(|e| format!("write: {e}"))?;
    let mut line = String::new();
    stream.read_line(&mut line).await.map_err(|e| format!("read: {e}"))?;
    let line = line.trim_end_matches(['\r', '\n']);
    let mut chars = line.chars();
    let kind = chars.next();
    let rest = chars.as_str();
    match kind {
        Some('+') => Ok(Reply::Simple(rest.to_string())),
        Some(':') => rest.parse().map(Reply::Integer).map_err(|_| "a bad integer reply".to_string()),
        Some('-') => Ok(Reply::Error(rest.to_string())),
        Some('$') => {
            let len: i64 = rest.parse().map_err(|_| "a bad bulk reply".to_string())?;
            if len < 0 {
                return Ok(Reply::Bulk(None));
            }
            // States are small; a huge length is a broken or hostile server.
            if len > MAX_REPLY {
                return Err("Redis sent a reply larger than a state".into());
            }
            let mut body = vec![0u8; len as usize + 2];
            stream.read_exact(&mut body).await.map_err(|e| format!("read: {e}"))?;
            body.truncate(len as usize);
            String::from_utf8(body).map(|s| Reply::Bulk(Some(s))).map_err(|_| "a non-UTF-8 reply".to_string())
        }
        _ => Err("Redis answered something unknown".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_host_the_password_and_the_database() {
        let r = Redis::parse("redis://:pw@cache.internal:6380/2").expect("parsed");
        assert_eq!(
            (r.addr.as_str(), r.auth.clone(), r.db),
            ("cache.internal:6380", Some((None, "pw".into())), Some(2))
        );
        let r = Redis::parse("redis://127.0.0.1").expect("parsed");
        assert_eq!((r.addr.as_str(), r.auth.is_none(), r.db), ("127.0.0.1:6379", true, None));
        assert!(Redis::parse("http://127.0.0.1").is_err());
        assert_eq!(format!("{:?}", Redis::parse("redis://u:secret@h").expect("parsed")), "Redis(h:6379)");
    }

    /// Against the machine's Redis (`TEST_REDIS_URL`, which `.ci/run` sets): set, expiry,
    /// taken once. Skipped without the variable; a set but unreachable URL fails.
    #[tokio::test]
    async fn a_value_is_kept_with_its_expiry_and_taken_once() {
        let Ok(url) = std::env::var("TEST_REDIS_URL") else { return };
        let redis = Redis::parse(&url).expect("TEST_REDIS_URL");
        redis.ping().await.expect("TEST_REDIS_URL is set but Redis does not answer");
        let key = format!("taskbridge:test:{}", crate::domain::new_id());
        redis.set_ex(&key, "value with spaces\r\nand lines", Duration::from_secs(600)).await.expect("set");
        let ttl = redis.ttl(&key).await.expect("ttl");
        assert!((590..=600).contains(&ttl), "{ttl}");
        assert_eq!(redis.get_del(&key).await.expect("get"), Some("value with spaces\r\nand lines".into()));
        assert_eq!(redis.get_del(&key).await.expect("get"), None, "taken once");
    }
}
