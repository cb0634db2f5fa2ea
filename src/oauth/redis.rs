//! The little of Redis the OAuth states need (SET with expiry, GETDEL), spoken in RESP over
//! one connection per call: states are few, and a crate would cost more build than it saves.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A Redis server: `redis://[:password@]host[:port][/db]` (or with `user:password@`).
#[derive(Clone)]
pub struct Redis {
    addr: String,
    auth: Option<(Option<String>, String)>,
    db: Option<u32>,
    timeout: Duration,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redis({})", self.addr)
    }
}

enum Reply {
    Simple(String),
    Bulk(Option<String>),
    #[cfg_attr(not(test), allow(dead_code))]
    Integer(i64),
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
        Ok(Redis { addr, auth, db, timeout: Duration::from_secs(5) })
    }

    async fn call(&self, command: &[&str]) -> Result<Reply, String> {
        let work = async {
            let stream = TcpStream::connect(&self.addr).await.map_err(|e| format!("connect: {e}"))?;
            let mut stream = BufReader::new(stream);
            if let Some((user, password)) = &self.auth {
                let mut auth = vec!["AUTH"];
                if let Some(user) = user {
                    auth.push(user);
                }
                auth.push(password);
                exchange(&mut stream, &auth).await?;
            }
            if let Some(db) = self.db {
                exchange(&mut stream, &["SELECT", &db.to_string()]).await?;
            }
            exchange(&mut stream, command).await
        };
        tokio::time::timeout(self.timeout, work).await.map_err(|_| "Redis did not answer in time".to_string())?
    }

    pub async fn set_ex(&self, key: &str, value: &str, ttl: Duration) -> Result<(), String> {
        match self.call(&["SET", key, value, "EX", &ttl.as_secs().max(1).to_string()]).await? {
            Reply::Simple(ok) if ok == "OK" => Ok(()),
            _ => Err("Redis refused the SET".into()),
        }
    }

    /// The value, removed in the same step (so it is answered once).
    pub async fn get_del(&self, key: &str) -> Result<Option<String>, String> {
        match self.call(&["GETDEL", key]).await? {
            Reply::Bulk(value) => Ok(value),
            _ => Err("Redis answered GETDEL oddly".into()),
        }
    }

    pub async fn ping(&self) -> Result<(), String> {
        match self.call(&["PING"]).await? {
            Reply::Simple(pong) if pong == "PONG" => Ok(()),
            _ => Err("Redis answered PING oddly".into()),
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

/// The largest value read back (a state's binding is well under 1 KiB).
const MAX_REPLY: i64 = 1024 * 1024;

async fn exchange(stream: &mut BufReader<TcpStream>, command: &[&str]) -> Result<Reply, String> {
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
        Some('-') => Err(format!("Redis: {rest}")),
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
