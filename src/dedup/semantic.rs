//! The semantic source of candidates (`TASKBRIDGE_EMBEDDINGS`): a paraphrase that shares no
//! word with its task is still found by the cosine of their embedding vectors.
//!
//! Each task's vector is made from its title and description, stored (migration 0030) with
//! the model and a digest of that text, and made again when either changes. A search
//! compares the request's vector with every vector of the project: brute force, `d`
//! multiply-adds per task (384 for MiniLM: 3.8 million for 10,000 tasks, a few milliseconds
//! on one core; not measured here) and `4 d` bytes of memory per task, which is fine at a
//! project's scale and needs no index to keep. Each request that is not a plain duplicate
//! costs one embeddings call for its own text; tasks are embedded when a search first meets
//! them changed (at most 256 a search, 32 a call), or read back from the store.
//!
//! A semantic candidate is only ever **suggested**: a request the words call new becomes a
//! possible duplicate when a task's cosine reaches `suggest_at`, and the decision score (the
//! words') is left as it is, so neither the merge band nor a model's "same" can merge on a
//! vector's say-so (see [`super::judge`]: an upgrade needs the words' score).

use super::{Decision, Scored, Verdict};

/// Cosine from which a task is a semantic candidate, when not configured (not yet tuned on
/// real vectors: see docs/benchmarks.md).
pub const DEFAULT_SUGGEST_AT: f64 = 0.70;
/// Semantic candidates added to a decision.
const ADDED: usize = 3;

/// `v` scaled to length 1 (a zero vector stays zero), so a cosine is a dot product.
pub fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x = (f64::from(*x) / norm) as f32);
    }
    v
}

/// The dot product of two normalised vectors; 0 for vectors of different dimensions.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum()
}

/// Little-endian f32s, as stored.
pub fn encode(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn decode(bytes: &[u8]) -> Option<Vec<f32>> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// The text a task's vector is made from.
pub fn task_text(title: &str, description: &str) -> String {
    let description: String = description.chars().take(super::index::BODY_CHARS).collect();
    format!("{title}\n{description}").trim().to_string()
}

/// The `n` tasks of `vectors` nearest to `query` at or above `at`, nearest first.
pub fn nearest<'a>(
    query: &[f32],
    vectors: impl Iterator<Item = (&'a String, &'a Vec<f32>)>,
    at: f64,
    n: usize,
) -> Vec<(String, f64)> {
    let mut found: Vec<(String, f64)> = vectors
        .map(|(id, v)| (id, cosine(query, v)))
        .filter(|(_, c)| *c >= at)
        .map(|(id, c)| (id.clone(), c))
        .collect();
    found.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    found.truncate(n);
    found
}

/// Adds the semantic candidates `near` (id, title, cosine) to `decision`: first, making it a
/// possible duplicate, when the words found nothing likely; after the words' candidates
/// otherwise. Tasks already among the candidates are not added twice.
pub fn add(decision: &mut Decision, near: Vec<(String, String, f64)>) {
    let fresh: Vec<Scored> = near
        .into_iter()
        .filter(|(id, _, _)| !decision.candidates.iter().any(|c| &c.id == id))
        .take(ADDED)
        .map(|(id, title, cosine)| Scored { id, title, similarity: cosine })
        .collect();
    if fresh.is_empty() {
        return;
    }
    if decision.verdict == Verdict::New {
        decision.verdict = Verdict::PossibleDuplicate;
        let words = std::mem::take(&mut decision.candidates);
        decision.candidates = fresh.into_iter().chain(words).collect();
    } else {
        decision.candidates.extend(fresh);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_and_compare() {
        let v = normalized(vec![3.0, 4.0]);
        assert_eq!(v, vec![0.6, 0.8]);
        assert_eq!(decode(&encode(&v)), Some(v.clone()));
        assert_eq!(decode(&[1, 2, 3]), None);
        assert!((cosine(&v, &v) - 1.0).abs() < 1e-6);
        assert_eq!(cosine(&v, &[1.0]), 0.0);
        assert_eq!(normalized(vec![0.0, 0.0]), vec![0.0, 0.0]);
    }

    #[test]
    fn nearest_first_and_only_above_the_bar() {
        let (a, b, c) = ("a".to_string(), "b".to_string(), "c".to_string());
        let va = normalized(vec![1.0, 0.0]);
        let vb = normalized(vec![1.0, 1.0]);
        let vc = normalized(vec![0.0, 1.0]);
        let all = [(&a, &va), (&b, &vb), (&c, &vc)];
        let q = normalized(vec![1.0, 0.2]);
        let found = nearest(&q, all.iter().copied(), 0.5, 5);
        assert_eq!(found.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn a_semantic_candidate_is_only_suggested() {
        let mut d = Decision { candidates: vec![], score: 0.0, verdict: Verdict::New, conflict: None };
        add(&mut d, vec![("t1".into(), "Order laptops".into(), 0.9)]);
        assert_eq!((d.verdict, d.candidates[0].id.as_str(), d.score), (Verdict::PossibleDuplicate, "t1", 0.0));

        let word = Scored { id: "t2".into(), title: "x".into(), similarity: 0.8 };
        let mut d = Decision { candidates: vec![word], score: 0.8, verdict: Verdict::Duplicate, conflict: None };
        add(&mut d, vec![("t2".into(), "x".into(), 0.9), ("t3".into(), "y".into(), 0.8)]);
        assert_eq!(d.verdict, Verdict::Duplicate);
        assert_eq!(d.candidates.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["t2", "t3"]);
    }
}
