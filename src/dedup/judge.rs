//! A model's judgement as one more signal on the offline decision.
//!
//! With a language model configured, the best candidates of a request that is not plainly
//! new are shown to the model ("same work or different?", [`crate::llm::judge`]). Its
//! verdicts change the offline [`Decision`] by these rules, which only ever make an
//! automatic merge rarer, except for one narrow upgrade:
//!
//! - **Not judged:** a `new` request (nothing likely to merge; no model call), and a request
//!   the model could not judge (failure, timeout, an answer outside the schema): the offline
//!   decision stands.
//! - **`duplicate`:** the model saying `different` of the best candidate makes it a
//!   `possible_duplicate`: never merged against the model's word, still suggested.
//! - **`possible_duplicate`:** `different` for every judged candidate makes it `new` (the
//!   details and the model agree it is other work; its candidates are still kept). A
//!   candidate judged `same` goes to the front of the suggestions.
//! - **The upgrade:** a `possible_duplicate` becomes a `duplicate` only when the model says
//!   `same` of the best candidate and of no other, no key detail of the request conflicts
//!   with that candidate's ([`super::details`]; a conflict always blocks a merge), the
//!   decision score is in the upper half of the suggestion band (at least halfway from
//!   `suggest_at` to `merge_at`), and the project merges on its own at all (`merge_at`
//!   below 1). A paraphrase the words barely connect is therefore still only suggested,
//!   however sure the model is: the model can close the last gap, not make a merge from
//!   nothing.
//!
//! `unsure` counts as no verdict.

use crate::llm::Sameness;

use super::{Decision, Settings, Verdict, details};

/// Candidates shown to the model, best first (those that reach the suggestion band).
pub const JUDGED: usize = 3;

/// The candidates of `decision` worth a model's judgement: none for a `new` request, else
/// the best and those after it whose similarity reaches the suggestion band, at most
/// [`JUDGED`].
pub fn to_judge(decision: &Decision, bands: Settings) -> usize {
    if decision.verdict == Verdict::New {
        return 0;
    }
    let rest = decision.candidates.iter().skip(1).take(JUDGED - 1).take_while(|c| c.similarity >= bands.suggest_at);
    decision.candidates.len().min(1) + rest.count()
}

/// The score from which a model's `same` may upgrade a possible duplicate to a merge.
pub fn upgrade_at(bands: Settings) -> f64 {
    bands.suggest_at + (bands.merge_at - bands.suggest_at) / 2.0
}

/// What the model's verdicts changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    None,
    /// A confident candidate the model called other work: suggested, not merged.
    Held,
    /// A possible duplicate the model called other work: a new task.
    Dropped,
    /// A possible duplicate the model called the same work, safely: merged.
    Upgraded,
    /// The model's `same` moved to the front of the suggestions.
    Reordered,
}

/// Applies `verdicts` (one for each of the first `verdicts.len()` candidates) to
/// `decision`, made with `bands` for `query`, by the rules of this module.
pub fn apply(decision: &mut Decision, bands: Settings, query: &str, verdicts: &[Sameness]) -> Change {
    let Some(best) = verdicts.first().copied() else { return Change::None };
    match decision.verdict {
        Verdict::New => Change::None,
        Verdict::Duplicate if best == Sameness::Different => {
            decision.verdict = Verdict::PossibleDuplicate;
            Change::Held
        }
        Verdict::Duplicate => Change::None,
        Verdict::PossibleDuplicate if verdicts.iter().all(|v| *v == Sameness::Different) => {
            decision.verdict = Verdict::New;
            Change::Dropped
        }
        Verdict::PossibleDuplicate => {
            let others_same = verdicts.iter().skip(1).any(|v| *v == Sameness::Same);
            if best == Sameness::Same && !others_same && may_upgrade(decision, bands, query) {
                decision.verdict = Verdict::Duplicate;
                return Change::Upgraded;
            }
            let first_same = verdicts.iter().position(|v| *v == Sameness::Same);
            match first_same {
                Some(i) if i > 0 => {
                    // Stable: the model's `same`s first, each group in the offline order.
                    let judged = decision.candidates.len().min(verdicts.len());
                    let mut head: Vec<_> = decision.candidates.drain(..judged).zip(verdicts).collect();
                    head.sort_by_key(|(_, v)| **v != Sameness::Same);
                    let rest = std::mem::take(&mut decision.candidates);
                    decision.candidates = head.into_iter().map(|(c, _)| c).chain(rest).collect();
                    Change::Reordered
                }
                _ => Change::None,
            }
        }
    }
}

/// Whether a possible duplicate may be merged into its best candidate on the model's word.
fn may_upgrade(decision: &Decision, bands: Settings, query: &str) -> bool {
    let Some(best) = decision.candidates.first() else { return false };
    bands.merge_at < 1.0
        && decision.conflict.is_none()
        && decision.score >= upgrade_at(bands)
        && details::conflict(query, &best.title).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::Scored;
    use Sameness::{Different, Same, Unsure};

    fn decision(verdict: Verdict, score: f64, titles: &[&str]) -> Decision {
        let candidates = titles
            .iter()
            .enumerate()
            .map(|(i, t)| Scored { id: format!("t{i}"), title: t.to_string(), similarity: score - i as f64 * 0.01 })
            .collect();
        Decision { candidates, score, verdict, conflict: None }
    }

    fn ids(d: &Decision) -> Vec<&str> {
        d.candidates.iter().map(|c| c.id.as_str()).collect()
    }

    const BANDS: Settings = Settings { merge_at: 0.65, suggest_at: 0.30 };
    const QUERY: &str = "Update the onboarding checklist for new hires";

    #[test]
    fn different_work_is_never_merged() {
        let mut d = decision(Verdict::Duplicate, 0.9, &["Update the onboarding checklist"]);
        assert_eq!(apply(&mut d, BANDS, QUERY, &[Different]), Change::Held);
        assert_eq!(d.verdict, Verdict::PossibleDuplicate);

        for agreeing in [&[Same][..], &[Unsure], &[]] {
            let mut d = decision(Verdict::Duplicate, 0.9, &["Update the onboarding checklist"]);
            assert_ne!(apply(&mut d, BANDS, QUERY, agreeing), Change::Held);
            assert_eq!(d.verdict, Verdict::Duplicate, "{agreeing:?}");
        }
    }

    #[test]
    fn a_suggestion_the_model_calls_other_work_is_dropped() {
        let mut d = decision(Verdict::PossibleDuplicate, 0.5, &["a", "b"]);
        assert_eq!(apply(&mut d, BANDS, QUERY, &[Different, Different]), Change::Dropped);
        assert_eq!((d.verdict, d.candidates.len()), (Verdict::New, 2), "the candidates are kept");

        let mut d = decision(Verdict::PossibleDuplicate, 0.5, &["a", "b"]);
        assert_eq!(apply(&mut d, BANDS, QUERY, &[Different, Unsure]), Change::None);
        assert_eq!(d.verdict, Verdict::PossibleDuplicate);
    }

    #[test]
    fn same_upgrades_only_in_the_upper_half_without_conflict() {
        assert!((upgrade_at(BANDS) - 0.475).abs() < 1e-9);
        let title = "Update the onboarding checklist";
        let mut d = decision(Verdict::PossibleDuplicate, 0.5, &[title, "other"]);
        assert_eq!(apply(&mut d, BANDS, QUERY, &[Same, Different]), Change::Upgraded);
        assert_eq!(d.verdict, Verdict::Duplicate);

        // Too far from the merge band: the model cannot make a merge from little.
        let mut d = decision(Verdict::PossibleDuplicate, 0.45, &[title]);
        assert_eq!(apply(&mut d, BANDS, QUERY, &[Same]), Change::None);
        assert_eq!(d.verdict, Verdict::PossibleDuplicate);

        // A key detail differs: "Japanese" is not "German", whatever the model says.
        let mut d = decision(Verdict::PossibleDuplicate, 0.6, &["Translate the pricing page into German"]);
        assert_eq!(apply(&mut d, BANDS, "Translate the pricing page into Japanese", &[Same]), Change::None);
        assert_eq!(d.verdict, Verdict::PossibleDuplicate);

        // A conflict found in the merge band blocks it too.
        let mut d = decision(Verdict::PossibleDuplicate, 0.8, &[title]);
        d.conflict = crate::dedup::details::conflict("Translate it into Japanese", "Translate it into German");
        assert!(d.conflict.is_some());
        assert_eq!(apply(&mut d, BANDS, QUERY, &[Same]), Change::None);

        // Two tasks the same: which one is unclear, so a person chooses.
        let mut d = decision(Verdict::PossibleDuplicate, 0.6, &[title, "other"]);
        assert_eq!(apply(&mut d, BANDS, QUERY, &[Same, Same]), Change::None);
        assert_eq!(d.verdict, Verdict::PossibleDuplicate);

        // A project that merges nothing on its own.
        let strict = Settings { merge_at: 1.0, suggest_at: 0.2 };
        let mut d = decision(Verdict::PossibleDuplicate, 0.95, &[title]);
        assert_eq!(apply(&mut d, strict, QUERY, &[Same]), Change::None);
        assert_eq!(d.verdict, Verdict::PossibleDuplicate);
    }

    #[test]
    fn the_models_choice_leads_the_suggestions() {
        let mut d = decision(Verdict::PossibleDuplicate, 0.4, &["a", "b", "c", "d"]);
        assert_eq!(apply(&mut d, BANDS, QUERY, &[Different, Unsure, Same]), Change::Reordered);
        assert_eq!(ids(&d), ["t2", "t0", "t1", "t3"]);
        assert_eq!(d.verdict, Verdict::PossibleDuplicate);
    }

    #[test]
    fn only_requests_that_may_be_duplicates_are_judged() {
        let d = decision(Verdict::New, 0.2, &["a", "b"]);
        assert_eq!(to_judge(&d, BANDS), 0);
        let mut d = decision(Verdict::PossibleDuplicate, 0.35, &["a", "b", "c", "d", "e"]);
        assert_eq!(to_judge(&d, BANDS), 3);
        d.candidates[1].similarity = 0.1;
        d.candidates[2].similarity = 0.1;
        assert_eq!(to_judge(&d, BANDS), 1, "the best always; the rest when they reach the band");
        let d = decision(Verdict::Duplicate, 0.9, &[]);
        assert_eq!(to_judge(&d, BANDS), 0);
    }
}
