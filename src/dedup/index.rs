//! An in-memory index of a project's tasks for duplicate search: BM25F retrieval over
//! title and body terms, then a rescoring of the best candidates with three similarity
//! signals, less a penalty when the words a candidate shares with the query are shared by
//! many other titles too (template text, generic words). Documents can be added, replaced
//! and removed one at a time.

use std::collections::HashMap;

use super::text::{char_grams, counts, word_terms};

/// Candidates kept from retrieval for rescoring.
pub const RETRIEVE: usize = 50;
const BM25_K1: f64 = 1.2;
const TITLE_WEIGHT: f64 = 3.0;
const TITLE_B: f64 = 0.3;
const BODY_WEIGHT: f64 = 1.0;
const BODY_B: f64 = 0.75;
/// The three signals weigh the same.
const W_COSINE: f64 = 1.0 / 3.0;
const W_COVERAGE: f64 = 1.0 / 3.0;
const W_CHARS: f64 = 1.0 / 3.0;
/// Only this much of a body is indexed: the start of a description says what it is about.
pub const BODY_CHARS: usize = 600;
/// The shared-evidence penalty: `min(JOINT_CAP, JOINT_BETA × ln n)`, where n counts the
/// titles holding every query word the candidate's title holds (the candidate included).
/// Evidence only one title has costs nothing; evidence eight titles have costs the cap.
const JOINT_BETA: f64 = 0.15;
const JOINT_CAP: f64 = 0.3;
/// Counting stops here: from e^(JOINT_CAP / JOINT_BETA) ≈ 7.4 titles on, the cap applies.
const JOINT_COUNT_MAX: u32 = 8;

type TermId = u32;

#[derive(Debug, Clone, Copy)]
struct Posting {
    doc: u32,
    tf_title: u16,
    tf_body: u16,
}

/// What is kept per document; title features are recomputed from the title when needed,
/// which keeps a million tasks within about a gigabyte.
#[derive(Debug)]
struct Doc {
    id: String,
    title: String,
    /// Terms of title ∪ body, to undo the document's statistics on removal.
    terms: Vec<TermId>,
}

/// What retrieval reads of each document, for every posting it walks: kept apart from
/// [`Doc`] and small, so that the walk reads little memory.
#[derive(Debug, Clone, Copy)]
struct DocStats {
    len_title: u32,
    len_body: u32,
    alive: bool,
}

/// Character n-grams are counted by a 64-bit hash: collisions are negligible, and no
/// gram strings are kept.
fn gram_key(gram: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    gram.hash(&mut h);
    h.finish()
}

/// Maps keyed by a gram's 64-bit hash ([`gram_key`]): the key is already a hash, so it is
/// used as it is instead of being hashed again (SipHash was a tenth of intake's CPU time).
type GramMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<KeyIsHash>>;

/// A [`std::hash::Hasher`] for keys that are hashes already: it keeps the `u64` it is given.
#[derive(Default)]
struct KeyIsHash(u64);

impl std::hash::Hasher for KeyIsHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed through `write_u64`; anything else still spreads.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A scored candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub id: String,
    pub title: String,
    /// Similarity in [0, 1].
    pub similarity: f64,
}

#[derive(Debug, Default)]
pub struct Index {
    docs: Vec<Doc>,
    /// Per document, in the same order as `docs`.
    stats: Vec<DocStats>,
    by_id: HashMap<String, u32>,
    term_ids: HashMap<String, TermId>,
    postings: Vec<Vec<Posting>>,
    /// Documents containing the term in title or body (retrieval and coverage).
    df_any: Vec<u32>,
    /// Documents containing the term in the title (title cosine).
    df_title: Vec<u32>,
    df_grams: GramMap<u32>,
    alive: u32,
    sum_len_title: u64,
    sum_len_body: u64,
    dead_postings: usize,
}

/// The character grams of `text` ([`char_grams`]) as (key, count), sorted by key; made
/// without a string per gram. `keys` is scratch space, reused between calls.
fn gram_counts(text: &str, keys: &mut Vec<u64>) -> Vec<(u64, u32)> {
    keys.clear();
    let mut padded = String::new();
    let mut at: Vec<usize> = Vec::new();
    for run in super::text::runs(text) {
        padded.clear();
        padded.push(' ');
        padded.push_str(&run.to_lowercase());
        padded.push(' ');
        at.clear();
        at.extend(padded.char_indices().map(|(i, _)| i));
        at.push(padded.len());
        let chars = at.len() - 1;
        for n in super::text::CHAR_N.0..=super::text::CHAR_N.1 {
            for start in 0..(chars + 1).saturating_sub(n) {
                keys.push(gram_key(&padded[at[start]..at[start + n]]));
            }
        }
    }
    keys.sort_unstable();
    let mut out: Vec<(u64, u32)> = Vec::with_capacity(keys.len());
    for &k in keys.iter() {
        match out.last_mut() {
            Some((last, n)) if *last == k => *n += 1,
            _ => out.push((k, 1)),
        }
    }
    out
}

fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

impl Index {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.alive as usize
    }

    pub fn is_empty(&self) -> bool {
        self.alive == 0
    }

    /// The title of document `id`, while it is indexed.
    pub fn title(&self, id: &str) -> Option<&str> {
        let doc = *self.by_id.get(id)? as usize;
        self.stats[doc].alive.then_some(self.docs[doc].title.as_str())
    }

    fn term_id(&mut self, term: String) -> TermId {
        if let Some(&id) = self.term_ids.get(&term) {
            return id;
        }
        let id = self.postings.len() as TermId;
        self.term_ids.insert(term, id);
        self.postings.push(Vec::new());
        self.df_any.push(0);
        self.df_title.push(0);
        id
    }

    /// Adds a document, replacing an earlier one with the same id.
    pub fn upsert(&mut self, id: &str, title: &str, body: &str) {
        self.remove(id);
        let body = truncate_chars(body, BODY_CHARS);
        let title_counts = counts(word_terms(title));
        let body_counts = counts(word_terms(body));
        let grams: Vec<u64> = counts(char_grams(title)).into_keys().map(|g| gram_key(&g)).collect();
        let doc = self.docs.len() as u32;
        let mut per_term: HashMap<TermId, (u16, u16)> = HashMap::new();
        for (term, tf) in &title_counts {
            let t = self.term_id(term.clone());
            per_term.entry(t).or_default().0 = (*tf).min(u16::MAX as u32) as u16;
            self.df_title[t as usize] += 1;
        }
        for (term, tf) in &body_counts {
            let t = self.term_id(term.clone());
            per_term.entry(t).or_default().1 = (*tf).min(u16::MAX as u32) as u16;
        }
        let mut terms: Vec<TermId> = per_term.keys().copied().collect();
        terms.sort_unstable();
        for &t in &terms {
            let (tf_title, tf_body) = per_term[&t];
            self.postings[t as usize].push(Posting { doc, tf_title, tf_body });
            self.df_any[t as usize] += 1;
        }
        for g in grams {
            *self.df_grams.entry(g).or_insert(0) += 1;
        }
        let len_title: u32 = title_counts.values().sum();
        let len_body: u32 = body_counts.values().sum();
        self.sum_len_title += u64::from(len_title);
        self.sum_len_body += u64::from(len_body);
        self.alive += 1;
        self.by_id.insert(id.to_string(), doc);
        self.docs.push(Doc { id: id.to_string(), title: title.to_string(), terms });
        self.stats.push(DocStats { len_title, len_body, alive: true });
    }

    /// Takes a document out; its postings are skipped and compacted later.
    pub fn remove(&mut self, id: &str) {
        let Some(doc) = self.by_id.remove(id) else {
            return;
        };
        let stats = &mut self.stats[doc as usize];
        if !stats.alive {
            return;
        }
        stats.alive = false;
        let stats = *stats;
        let d = &self.docs[doc as usize];
        for &t in &d.terms {
            self.df_any[t as usize] -= 1;
        }
        for term in counts(word_terms(&d.title)).into_keys() {
            if let Some(&t) = self.term_ids.get(&term) {
                self.df_title[t as usize] -= 1;
            }
        }
        for gram in counts(char_grams(&d.title)).into_keys() {
            let key = gram_key(&gram);
            if let Some(n) = self.df_grams.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    self.df_grams.remove(&key);
                }
            }
        }
        self.sum_len_title -= u64::from(stats.len_title);
        self.sum_len_body -= u64::from(stats.len_body);
        self.dead_postings += d.terms.len();
        self.alive -= 1;
        if self.dead_postings > 100_000 && self.dead_postings > self.postings.len() {
            self.compact();
        }
    }

    fn compact(&mut self) {
        let stats = &self.stats;
        for list in &mut self.postings {
            list.retain(|p| stats[p.doc as usize].alive);
        }
        self.dead_postings = 0;
    }

    fn n(&self) -> f64 {
        f64::from(self.alive.max(1))
    }

    /// Smoothed idf: ln((1 + N) / (1 + df)) + 1; unseen terms have df = 0.
    fn idf(&self, df: u32) -> f64 {
        ((1.0 + self.n()) / (1.0 + f64::from(df))).ln() + 1.0
    }

    fn weight(&self, tf: u32, df: u32) -> f64 {
        (1.0 + f64::from(tf).ln()) * self.idf(df)
    }

    /// Best candidates for `query`, most similar first (ties by insertion order).
    pub fn search(&self, query: &str, keep: usize) -> Vec<Scored> {
        if self.alive == 0 {
            return Vec::new();
        }
        let q_terms = counts(word_terms(query));
        let mut unique: Vec<&String> = q_terms.keys().collect();
        unique.sort();
        let known: Vec<(usize, TermId)> =
            unique.iter().enumerate().filter_map(|(i, t)| self.term_ids.get(*t).map(|&id| (i, id))).collect();

        // 1. Retrieval: BM25F over title and body, binary query terms.
        let (ranked, _) = self.retrieve(&known);

        // 2. Rescoring.
        let q_norm_title = self.norm(q_terms.iter().map(|(t, tf)| (*tf, self.title_df(t))));
        // Grams by key, with each key's idf looked up once per search: the candidates share
        // most of their grams with the query and with each other.
        let mut gram_idf: GramMap<f64> = GramMap::default();
        let mut gram_keys = Vec::new();
        let q_grams = gram_counts(query, &mut gram_keys);
        let q_weights: Vec<f64> = q_grams.iter().map(|&(g, tf)| self.gram_weight(&mut gram_idf, g, tf)).collect();
        let q_norm_grams = q_weights.iter().map(|w| w.powi(2)).sum::<f64>().sqrt();
        let coverage_weights: Vec<f64> = unique
            .iter()
            .map(|t| {
                let df = self.term_ids.get(*t).map(|&id| self.df_any[id as usize]).unwrap_or(0);
                self.idf(df).powi(2)
            })
            .collect();
        let coverage_total: f64 = coverage_weights.iter().sum();
        let unique_ids: Vec<Option<TermId>> = unique.iter().map(|t| self.term_ids.get(*t).copied()).collect();
        // Candidates often share the same words with the query: each set is counted once.
        let mut joint_counts: HashMap<Vec<TermId>, u32> = HashMap::new();

        let mut scored: Vec<(f64, u32)> = ranked
            .iter()
            .map(|&(doc, _, mask)| {
                let d = &self.docs[doc as usize];
                let d_terms = counts(word_terms(&d.title));
                let cos_title = self.cosine(&q_terms, q_norm_title, &d_terms, |t| self.title_df(t));
                let covered: f64 = coverage_weights
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i < 64 && mask & (1 << i) != 0)
                    .map(|(_, w)| w)
                    .sum();
                let coverage = if coverage_total > 0.0 { covered / coverage_total } else { 0.0 };
                let d_grams = gram_counts(&d.title, &mut gram_keys);
                let cos_chars = self.gram_cosine(&q_grams, &q_weights, q_norm_grams, &d_grams, &mut gram_idf);
                let shared: Vec<TermId> = unique
                    .iter()
                    .zip(&unique_ids)
                    .filter(|(t, _)| d_terms.contains_key(**t))
                    .filter_map(|(_, id)| *id)
                    .collect();
                let penalty = if shared.is_empty() {
                    JOINT_CAP // found through its body alone
                } else {
                    let n = *joint_counts.entry(shared).or_insert_with_key(|terms| self.titles_with_all(terms));
                    (JOINT_BETA * f64::from(n.max(1)).ln()).min(JOINT_CAP)
                };
                {
                    // Rounded so that sums taken in a different order tie exactly, and ties
                    // go to the older task.
                    let sim = W_COSINE * cos_title + W_COVERAGE * coverage + W_CHARS * cos_chars - penalty;
                    ((sim.max(0.0) * 1e9).round() / 1e9, doc)
                }
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored
            .into_iter()
            .take(keep)
            .map(|(similarity, doc)| {
                let d = &self.docs[doc as usize];
                Scored { id: d.id.clone(), title: d.title.clone(), similarity }
            })
            .collect()
    }

    /// The query terms' BM25 weights, rarest first: the order every score is summed in.
    fn retrieval_terms(&self, known: &[(usize, TermId)]) -> Vec<QueryTerm> {
        let mut terms: Vec<QueryTerm> = known
            .iter()
            .filter(|&&(_, t)| self.df_any[t as usize] > 0)
            .map(|&(qi, t)| {
                let df = f64::from(self.df_any[t as usize]);
                QueryTerm { qi, t, idf: (1.0 + (self.n() - df + 0.5) / (df + 0.5)).ln() }
            })
            .collect();
        terms.sort_by_key(|q| (self.df_any[q.t as usize], q.qi));
        terms
    }

    /// What posting `p` of query term `q` adds to its document's score, with the averages
    /// of the field lengths `avg`; below `q.idf × (K1 + 1)` whatever the posting.
    fn contribution(&self, q: &QueryTerm, p: &Posting, avg: (f64, f64)) -> f64 {
        let d = &self.stats[p.doc as usize];
        let pt = if p.tf_title > 0 {
            TITLE_WEIGHT * f64::from(p.tf_title) / (1.0 - TITLE_B + TITLE_B * f64::from(d.len_title) / avg.0)
        } else {
            0.0
        };
        let pb = if p.tf_body > 0 {
            BODY_WEIGHT * f64::from(p.tf_body) / (1.0 - BODY_B + BODY_B * f64::from(d.len_body) / avg.1)
        } else {
            0.0
        };
        let tf = pt + pb;
        q.idf * tf * (BM25_K1 + 1.0) / (tf + BM25_K1)
    }

    fn field_averages(&self) -> (f64, f64) {
        (
            (self.sum_len_title as f64 / self.n()).max(f64::EPSILON),
            (self.sum_len_body as f64 / self.n()).max(f64::EPSILON),
        )
    }

    /// The [`RETRIEVE`] live documents with the best BM25F scores, best first (ties to the
    /// older), each with its score and the mask of query terms it holds.
    ///
    /// Terms are walked rarest first. Once the terms left could not lift a document that
    /// none of the walked terms found above the [`RETRIEVE`]th best score so far, their
    /// long posting lists are no longer walked: only the documents that can still make the
    /// cut look themselves up in them (max-score pruning). The result is exactly what
    /// walking every list gives, for a fraction of the work when a query holds common words.
    /// Also answers whether it stopped walking lists early.
    fn retrieve(&self, known: &[(usize, TermId)]) -> (Vec<(u32, f64, u64)>, bool) {
        let terms = self.retrieval_terms(known);
        let avg = self.field_averages();
        let bound = |q: &QueryTerm| q.idf * (BM25_K1 + 1.0);
        // Dense accumulators: a posting costs an array write, not a hash-map lookup.
        let mut scores = vec![0f64; self.docs.len()];
        let mut masks = vec![0u64; self.docs.len()];
        let mut touched: Vec<u32> = Vec::new();
        let mut left: f64 = terms.iter().map(bound).sum();
        let mut walked = 0;
        let mut cut = None;
        while walked < terms.len() {
            let q = &terms[walked];
            // Checking costs a pass over the found documents: worth it before a long list.
            if touched.len() >= RETRIEVE && self.postings[q.t as usize].len() > touched.len() {
                let kth = kth_best(&touched, &scores);
                // A margin keeps rounding from pruning a document that could tie.
                if left * (1.0 + 1e-9) < kth {
                    cut = Some(kth);
                    break;
                }
            }
            for p in &self.postings[q.t as usize] {
                if !self.stats[p.doc as usize].alive {
                    continue;
                }
                let i = p.doc as usize;
                if masks[i] == 0 && scores[i] == 0.0 {
                    touched.push(p.doc);
                }
                scores[i] += self.contribution(q, p, avg);
                if q.qi < 64 {
                    masks[i] |= 1 << q.qi;
                }
            }
            left -= bound(q);
            walked += 1;
        }
        let mut found = touched;
        if let Some(kth) = cut {
            // Only a document that can still reach the cut matters; it finds the rest of
            // its terms by a forward search in their (document-ordered) lists.
            found.retain(|&d| scores[d as usize] + left * (1.0 + 1e-9) >= kth);
            found.sort_unstable();
            for q in &terms[walked..] {
                let list = self.postings[q.t as usize].as_slice();
                let mut at = 0;
                for &d in &found {
                    at += list[at..].partition_point(|p| p.doc < d);
                    if let Some(p) = list.get(at).filter(|p| p.doc == d) {
                        scores[d as usize] += self.contribution(q, p, avg);
                        if q.qi < 64 {
                            masks[d as usize] |= 1 << q.qi;
                        }
                    }
                }
            }
        }
        (top_retrieved(found.into_iter().map(|d| (d, scores[d as usize], masks[d as usize])).collect()), cut.is_some())
    }

    /// How many live titles hold every one of `terms`, counted up to [`JOINT_COUNT_MAX`].
    /// Posting lists are in document order, so the shortest is walked and the others are
    /// searched forward from where the last match left them.
    fn titles_with_all(&self, terms: &[TermId]) -> u32 {
        let mut lists: Vec<&[Posting]> = terms.iter().map(|&t| self.postings[t as usize].as_slice()).collect();
        lists.sort_by_key(|l| l.len());
        let Some((shortest, rest)) = lists.split_first() else { return 0 };
        let mut from = vec![0usize; rest.len()];
        let mut n = 0;
        'docs: for p in shortest.iter().filter(|p| p.tf_title > 0 && self.stats[p.doc as usize].alive) {
            for (list, at) in rest.iter().zip(from.iter_mut()) {
                *at += list[*at..].partition_point(|q| q.doc < p.doc);
                if !list.get(*at).is_some_and(|q| q.doc == p.doc && q.tf_title > 0) {
                    continue 'docs;
                }
            }
            n += 1;
            if n >= JOINT_COUNT_MAX {
                break;
            }
        }
        n
    }

    fn title_df(&self, term: &str) -> u32 {
        self.term_ids.get(term).map(|&t| self.df_title[t as usize]).unwrap_or(0)
    }

    /// The tf-idf weight of gram `key` seen `tf` times, its idf kept in `idf` for the search.
    fn gram_weight(&self, idf: &mut GramMap<f64>, key: u64, tf: u32) -> f64 {
        let idf = *idf.entry(key).or_insert_with(|| self.idf(self.df_grams.get(&key).copied().unwrap_or(0)));
        (1.0 + f64::from(tf).ln()) * idf
    }

    /// TF-IDF cosine of the query's grams (`query`, with their `weights` and norm) against
    /// one document's, both sorted by key.
    fn gram_cosine(
        &self,
        query: &[(u64, u32)],
        weights: &[f64],
        q_norm: f64,
        doc: &[(u64, u32)],
        idf: &mut GramMap<f64>,
    ) -> f64 {
        let mut d_norm = 0.0;
        let mut dot = 0.0;
        let mut q = 0;
        for &(key, tf) in doc {
            let w = self.gram_weight(idf, key, tf);
            d_norm += w.powi(2);
            q += query[q..].partition_point(|&(k, _)| k < key);
            if query.get(q).is_some_and(|&(k, _)| k == key) {
                dot += weights[q] * w;
            }
        }
        let d_norm = d_norm.sqrt();
        if q_norm == 0.0 || d_norm == 0.0 {
            return 0.0;
        }
        dot / (q_norm * d_norm)
    }

    fn norm(&self, items: impl Iterator<Item = (u32, u32)>) -> f64 {
        items.map(|(tf, df)| self.weight(tf, df).powi(2)).sum::<f64>().sqrt()
    }

    /// TF-IDF cosine of the query against one document's counts.
    fn cosine(
        &self,
        query: &HashMap<String, u32>,
        q_norm: f64,
        doc: &HashMap<String, u32>,
        df: impl Fn(&str) -> u32,
    ) -> f64 {
        let d_norm = self.norm(doc.iter().map(|(t, tf)| (*tf, df(t))));
        if q_norm == 0.0 || d_norm == 0.0 {
            return 0.0;
        }
        let dot: f64 = query
            .iter()
            .filter_map(|(t, qtf)| doc.get(t).map(|dtf| self.weight(*qtf, df(t)) * self.weight(*dtf, df(t))))
            .sum();
        dot / (q_norm * d_norm)
    }
}

/// A query term as retrieval weighs it.
struct QueryTerm {
    /// The term's place among the query's distinct terms (its bit in a document's mask).
    qi: usize,
    t: TermId,
    idf: f64,
}

/// The [`RETRIEVE`]th best score among `docs` (which hold at least that many).
fn kth_best(docs: &[u32], scores: &[f64]) -> f64 {
    let mut best: Vec<f64> = docs.iter().map(|&d| scores[d as usize]).collect();
    let (_, kth, _) = best.select_nth_unstable_by(RETRIEVE - 1, |a, b| b.total_cmp(a));
    *kth
}

/// The best [`RETRIEVE`] of `found` (document, score, mask), best first, ties to the older.
fn top_retrieved(mut ranked: Vec<(u32, f64, u64)>) -> Vec<(u32, f64, u64)> {
    let by_score = |a: &(u32, f64, u64), b: &(u32, f64, u64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if ranked.len() > RETRIEVE {
        ranked.select_nth_unstable_by(RETRIEVE - 1, by_score);
        ranked.truncate(RETRIEVE);
    }
    ranked.sort_by(by_score);
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> Index {
        let mut i = Index::new();
        i.upsert("1", "Login page crashes on Safari", "users cannot sign in using safari 17");
        i.upsert("2", "Add dark mode to settings", "a dark theme option in the settings screen");
        i.upsert("3", "Export invoices as CSV", "finance wants a csv export of all invoices");
        i
    }

    #[test]
    fn the_same_work_ranks_first() {
        let i = index();
        let found = i.search("Safari crash on the login page", 3);
        assert_eq!(found[0].id, "1");
        assert!(found[0].similarity > 0.5, "{found:?}");
        let found = i.search("CSV export for invoices", 3);
        assert_eq!(found[0].id, "3");
    }

    #[test]
    fn unrelated_text_finds_nothing_similar() {
        let i = index();
        let found = i.search("Book a meeting room for Thursday", 3);
        assert!(found.iter().all(|s| s.similarity < 0.2), "{found:?}");
    }

    #[test]
    fn evidence_many_titles_share_weighs_less() {
        let mut i = index();
        for n in 0..9 {
            i.upsert(&format!("t{n}"), &format!("Intermittent browser_tab_{n}.js | Test timed out"), "");
        }
        let term = |word: &str| word_terms(word).first().and_then(|t| i.term_ids.get(t)).copied().expect("indexed");
        let (timed, intermittent, safari, login) = (term("timed"), term("intermittent"), term("safari"), term("login"));
        assert_eq!(i.titles_with_all(&[timed, intermittent]), JOINT_COUNT_MAX);
        assert_eq!(i.titles_with_all(&[timed, safari]), 0);
        assert_eq!(i.titles_with_all(&[safari, login]), 1);
        // The same template with another test: close to the one title of its kind, far
        // from any of nine (about 0.47 of similarity, less the whole penalty).
        let query = "Intermittent browser_window.js | Test timed out";
        let mut alone = index();
        alone.upsert("t0", "Intermittent browser_tab_0.js | Test timed out", "");
        let once = alone.search(query, 1)[0].similarity;
        let among_many = i.search(query, 1)[0].similarity;
        assert!(once > 0.7 && among_many < 0.2, "{among_many} vs {once}");
        i.remove("t0");
        i.remove("t1");
        assert_eq!(i.titles_with_all(&[timed, intermittent]), 7);
    }

    proptest::proptest! {
        /// The grams counted by key are the grams [`char_grams`] makes, counted.
        #[test]
        fn gram_counts_are_the_grams_counted(text in "[ a-zA-Zé0-9_.|ÄßİΣ-]{0,40}") {
            let mut expected: Vec<(u64, u32)> =
                counts(char_grams(&text)).into_iter().map(|(g, n)| (gram_key(&g), n)).collect();
            expected.sort_unstable();
            proptest::prop_assert_eq!(gram_counts(&text, &mut Vec::new()), expected);
        }
    }

    /// Retrieval by walking every posting list, for comparison with the pruned walk.
    fn retrieve_walking_all(i: &Index, known: &[(usize, TermId)]) -> Vec<(u32, f64, u64)> {
        let avg = i.field_averages();
        let mut found: HashMap<u32, (f64, u64)> = HashMap::new();
        for q in i.retrieval_terms(known) {
            for p in i.postings[q.t as usize].iter().filter(|p| i.stats[p.doc as usize].alive) {
                let entry = found.entry(p.doc).or_default();
                entry.0 += i.contribution(&q, p, avg);
                if q.qi < 64 {
                    entry.1 |= 1 << q.qi;
                }
            }
        }
        top_retrieved(found.into_iter().map(|(d, (score, mask))| (d, score, mask)).collect())
    }

    #[test]
    fn pruned_retrieval_finds_what_walking_every_list_finds() {
        // Skewed word frequencies, as in real backlogs: a few words in most tasks.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let r = (seed % 1_000_000) as f64 / 1_000_000.0;
            ((n as f64).powf(r) as usize).min(n - 1)
        };
        let words: Vec<String> = (0..400).map(|w| format!("w{w}")).collect();
        let mut sentence =
            |len: usize| (0..len).map(|_| words[next(words.len())].as_str()).collect::<Vec<_>>().join(" ");
        let mut i = Index::new();
        for d in 0..3_000 {
            let (title, body) = (sentence(3 + d % 7), sentence(20));
            i.upsert(&format!("t{d}"), &title, &body);
        }
        for d in (0..3_000).step_by(7) {
            i.remove(&format!("t{d}"));
        }
        let mut pruned = 0;
        for n in 0..300 {
            let query = sentence(2 + n % 12);
            let q_terms = counts(word_terms(&query));
            let mut unique: Vec<&String> = q_terms.keys().collect();
            unique.sort();
            let known: Vec<(usize, TermId)> =
                unique.iter().enumerate().filter_map(|(qi, t)| i.term_ids.get(*t).map(|&id| (qi, id))).collect();
            let (found, cut) = i.retrieve(&known);
            assert_eq!(found, retrieve_walking_all(&i, &known), "{query}");
            pruned += usize::from(cut);
        }
        assert!(pruned > 100, "the queries should exercise the pruning: {pruned}");
    }

    #[test]
    fn removed_and_replaced_documents() {
        let mut i = index();
        i.remove("1");
        assert_eq!(i.len(), 2);
        assert!(i.search("Safari crash on the login page", 3).iter().all(|s| s.id != "1"));
        i.upsert("2", "Safari login crash", "");
        assert_eq!(i.len(), 2);
        assert_eq!(i.search("Safari crash on the login page", 1)[0].id, "2");
    }
}
