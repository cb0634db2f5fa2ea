//! `taskbridge eval-dedup`: the live duplicate decision, run over files, one JSON line per
//! query (contract in DESIGN.md). With a model to judge, its verdicts are applied as the
//! live intake applies them ([`super::judge`]).

use std::collections::HashMap;
use std::io::{BufRead, Write};

use serde::Deserialize;
use serde_json::json;

use super::{Index, Settings, judge};
use crate::llm::{JudgeRequest, JudgedTask, WithFallback};

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

/// Decides each query of `queries` against `corpus`; with `judge`, a model judges the
/// likely duplicates as in live intake (a failed call leaves the offline decision, and the
/// line says `"judged": null`).
pub async fn run(
    corpus: &str,
    queries: &str,
    settings: Settings,
    judge: Option<&WithFallback>,
    out: &mut impl Write,
) -> Result<(), EvalError> {
    let items: Vec<CorpusItem> = read_lines(corpus)?;
    let queries: Vec<Query> = read_lines(queries)?;
    let mut index = Index::new();
    for item in &items {
        index.upsert(&item.id, &item.title, item.body.as_deref().unwrap_or(""));
    }
    let by_id: HashMap<&str, &CorpusItem> = items.iter().map(|i| (i.id.as_str(), i)).collect();
    for (i, q) in queries.iter().enumerate() {
        let mut decision = settings.decide(&index, &q.text);
        let mut judged = None;
        let n = judge::to_judge(&decision, settings);
        if let (Some(model), true) = (judge, n > 0) {
            let tasks = decision.candidates.iter().take(n).map(|c| JudgedTask {
                title: c.title.clone(),
                description: by_id.get(c.id.as_str()).and_then(|i| i.body.clone()).unwrap_or_default(),
            });
            let request = JudgeRequest { request: q.text.clone(), tasks: tasks.collect() };
            if let Some(verdicts) = model.judge(&request).await {
                judge::apply(&mut decision, settings, &q.text, &verdicts);
                judged = Some(verdicts.iter().map(|v| v.as_str()).collect::<Vec<_>>());
            }
        }
        let best = decision.candidates.first();
        let line = json!({
            "query_index": i,
            "predicted_id": best.map(|c| c.id.as_str()),
            "score": if best.is_some() { super::round(decision.score) } else { 0.0 },
            "is_duplicate": decision.is_duplicate(),
            "decision": decision.verdict.as_str(),
            "conflict": decision.conflict.as_ref().map(ToString::to_string),
            "candidates": decision.candidates.iter().take(super::REPORTED).map(|c| c.id.as_str()).collect::<Vec<_>>(),
            "judged": judged,
        });
        writeln!(out, "{line}").map_err(EvalError::Write)?;
    }
    Ok(())
}
