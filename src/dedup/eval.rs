//! `taskbridge eval-dedup`: the live duplicate decision, run over files, one JSON line per
//! query (contract in DESIGN.md).

use std::io::{BufRead, Write};

use serde::Deserialize;
use serde_json::json;

use super::{Index, Settings};

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} line {line}: {source}")]
    Parse { path: String, line: usize, source: serde_json::Error },
    #[error("writing the results: {0}")]
    Write(std::io::Error),
}

/// Only these fields are read; anything else on a line is ignored.
#[derive(Deserialize)]
struct CorpusItem {
    id: String,
    title: String,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Deserialize)]
struct Query {
    text: String,
}

fn read_lines<T: for<'de> Deserialize<'de>>(path: &str) -> Result<Vec<T>, EvalError> {
    let file = std::fs::File::open(path).map_err(|source| EvalError::Read { path: path.into(), source })?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| EvalError::Read { path: path.into(), source })?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(&line).map_err(|source| EvalError::Parse {
            path: path.into(),
            line: i + 1,
            source,
        })?);
    }
    Ok(out)
}

pub fn run(corpus: &str, queries: &str, settings: Settings, out: &mut impl Write) -> Result<(), EvalError> {
    let items: Vec<CorpusItem> = read_lines(corpus)?;
    let queries: Vec<Query> = read_lines(queries)?;
    let mut index = Index::new();
    for item in &items {
        index.upsert(&item.id, &item.title, item.body.as_deref().unwrap_or(""));
    }
    for (i, q) in queries.iter().enumerate() {
        let decision = settings.decide(&index, &q.text);
        let best = decision.candidates.first();
        let line = json!({
            "query_index": i,
            "predicted_id": best.map(|c| c.id.as_str()),
            "score": if best.is_some() { super::round(decision.score) } else { 0.0 },
            "is_duplicate": decision.is_duplicate(),
            "decision": decision.verdict.as_str(),
            "conflict": decision.conflict.as_ref().map(ToString::to_string),
            "candidates": decision.candidates.iter().take(super::REPORTED).map(|c| c.id.as_str()).collect::<Vec<_>>(),
        });
        writeln!(out, "{line}").map_err(EvalError::Write)?;
    }
    Ok(())
}
