//! `taskbridge eval-dedup`: the live duplicate decision, run over files, one JSON line per
//! query (contract in DESIGN.md). With a model to judge, its verdicts are applied as the
//! live intake applies them ([`super::judge`]).

use std::collections::HashMap;
use std::io::{BufRead, Write};

use serde::Deserialize;
use serde_json::json;

use super::{Index, Settings, judge, semantic};
use crate::llm::{JudgeRequest, JudgedTask, WithFallback};

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} line {line}: {source}")]
    Parse { path: String, line: usize, source: serde_json::Error },
    #[error("writing the results: {0}")]
    Write(std::io::Error),
    #[error("embeddings: {0}")]
    Embeddings(crate::llm::LlmError),
}

/// The models an evaluation may use besides the offline decision, as live intake would.
#[derive(Clone, Copy, Default)]
pub struct Models<'a> {
    /// Judges likely duplicates ([`super::judge`]).
    pub judge: Option<&'a WithFallback>,
    /// Finds candidates by meaning ([`super::semantic`]); a failing server stops the run
    /// (a figure silently made without it would be wrong).
    pub semantic: Option<&'a super::Semantic>,
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

/// Decides each query of `queries` against `corpus`; with `models.semantic`, tasks near a
/// query that is not a plain duplicate are suggested too, and with `models.judge` a model
/// judges the likely duplicates, as in live intake (a failed judgement leaves the offline
/// decision, and the line says `"judged": null`).
pub async fn run(
    corpus: &str,
    queries: &str,
    settings: Settings,
    models: Models<'_>,
    out: &mut impl Write,
) -> Result<(), EvalError> {
    let items: Vec<CorpusItem> = read_lines(corpus)?;
    let queries: Vec<Query> = read_lines(queries)?;
    let mut index = Index::new();
    for item in &items {
        index.upsert(&item.id, &item.title, item.body.as_deref().unwrap_or(""));
    }
    let by_id: HashMap<&str, &CorpusItem> = items.iter().map(|i| (i.id.as_str(), i)).collect();
    let vectors = match models.semantic {
        Some(semantic) => embed_corpus(semantic, &items).await?,
        None => HashMap::new(),
    };
    for (i, q) in queries.iter().enumerate() {
        let mut decision = settings.decide(&index, &q.text);
        if let (Some(semantic), false) = (models.semantic, decision.is_duplicate()) {
            let mut vector =
                semantic.embedder.embed(std::slice::from_ref(&q.text)).await.map_err(EvalError::Embeddings)?;
            let vector = semantic::normalized(vector.pop().unwrap_or_default());
            let near = semantic::nearest(&vector, vectors.iter(), semantic.suggest_at, super::REPORTED);
            let near = near
                .into_iter()
                .filter_map(|(id, cosine)| Some((id.clone(), by_id.get(id.as_str())?.title.clone(), cosine)));
            semantic::add(&mut decision, near.collect());
        }
        let mut judged = None;
        let n = judge::to_judge(&decision, settings);
        if let (Some(model), true) = (models.judge, n > 0) {
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

/// Every corpus item's normalised vector, 32 to a call, as the live search makes them.
async fn embed_corpus(
    semantic: &super::Semantic,
    items: &[CorpusItem],
) -> Result<HashMap<String, Vec<f32>>, EvalError> {
    let mut vectors = HashMap::new();
    for batch in items.chunks(32) {
        let texts: Vec<String> =
            batch.iter().map(|i| semantic::task_text(&i.title, i.body.as_deref().unwrap_or(""))).collect();
        let made = semantic.embedder.embed(&texts).await.map_err(EvalError::Embeddings)?;
        for (item, v) in batch.iter().zip(made) {
            vectors.insert(item.id.clone(), semantic::normalized(v));
        }
    }
    Ok(vectors)
}
