//! Reading a question without a model: whom it is about (only the tenant's real assignees
//! are people), the time it asks about, what it wants (open work, blockers, load, recent
//! changes) and the words left for a topic search. Words are matched whole, never as parts
//! of other words ("plate" is not "late"), and a question of which nothing is understood
//! is read as `Unknown` rather than guessed at.
//!
//! Two steps: [`understand`] reads the text; [`Question::settle`] then sets aside topic words
//! nothing in the workspace mentions and decides whether anything was understood at all.

use std::collections::HashSet;

use chrono::{Datelike, Duration, NaiveDate};

use crate::dedup::text::word_terms;
use crate::domain::task::Priority;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Open tasks: someone's, in a time window, about a topic, or simply the most pressing.
    Tasks,
    /// What is blocked or stuck, and what blocks it.
    Blockers,
    /// Who carries too much work, or how much the named people carry.
    Load,
    /// Tasks changed since [`Question::since`].
    Changes(Change),
    /// Not understood; [`Question::trouble`] says why.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Any,
    Created,
    Completed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Due on or before this day.
    DueBy(NaiveDate),
    /// Due before this day.
    Overdue(NaiveDate),
    /// Due on one of these days (both included).
    DueBetween(NaiveDate, NaiveDate),
}

/// Why a question could not be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trouble {
    /// Nothing in it was understood; the topic words nothing in scope mentions.
    NotUnderstood(Vec<String>),
    /// Someone is asked about by a name no task is assigned to.
    NoSuchPerson(String),
    /// A name several assignees share, and who they are.
    Ambiguous(String, Vec<String>),
    /// "My tasks": the caller is an API key, not one of the assignees.
    AboutMe,
    /// A pronoun with nobody named in the conversation before.
    WhoIsMeant(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub intent: Intent,
    /// The first person it names, as the tasks spell it.
    pub person: Option<String>,
    /// Everyone it names, `person` first.
    pub people: Vec<String>,
    pub window: Option<Window>,
    /// For changes: from the start of this day (UTC).
    pub since: Option<NaiveDate>,
    /// "What is blocking …": high-priority and blocked work first.
    pub blocking: bool,
    pub priority: Option<Priority>,
    pub in_progress: bool,
    pub unassigned: bool,
    /// What it is about, as comparable terms.
    pub terms: Vec<String>,
    /// The topic's words as written (lower-cased); they give `terms`.
    pub topic: Vec<String>,
    /// Topic words nothing in scope mentions, left out of the search.
    pub set_aside: Vec<String>,
    pub trouble: Option<Trouble>,
    /// "her", "his" with no name in the question: whoever the conversation was about.
    pub pronoun: Option<String>,
    /// A word in a person's place ("what is dave working on") that no assignee is called.
    stranger: Option<String>,
    /// It asks about tasks in so many words ("what's due", "anything", "tasks").
    cued: bool,
}

impl Question {
    /// Whether it asks for nothing in particular ("anything?"): the most pressing work.
    pub fn is_open_ended(&self) -> bool {
        self.person.is_none()
            && self.window.is_none()
            && !self.blocking
            && self.terms.is_empty()
            && self.priority.is_none()
            && !self.in_progress
            && !self.unassigned
    }

    /// Makes `people` (named earlier in the conversation) the ones a pronoun refers to.
    pub fn refer_to(&mut self, people: Vec<String>) {
        if self.people.is_empty() && !people.is_empty() {
            self.person = people.first().cloned();
            self.people = people;
            self.pronoun = None;
        }
    }

    /// The words whose mention in the workspace `settle` asks about: the topic's, and a
    /// stranger's (a project can be asked about like a person: "beta's tasks").
    pub fn words_to_check(&self) -> Vec<String> {
        self.topic.iter().chain(&self.stranger).cloned().collect()
    }

    /// Sets aside the topic words for which `known` holds for none of their terms, and
    /// decides whether the question was understood: a topic nothing mentions is no reading
    /// of a question unless a person, load or changes carry it.
    pub fn settle(mut self, known: impl Fn(&str) -> bool) -> Question {
        let mentioned = |word: &str| word_terms(word).iter().any(|t| known(t));
        if let Some(word) = self.stranger.take() {
            if mentioned(&word) {
                self.topic.insert(0, word);
            } else if self.people.is_empty() && self.trouble.is_none() {
                self.trouble = Some(Trouble::NoSuchPerson(word));
            }
        }
        let (kept, aside): (Vec<String>, Vec<String>) = self.topic.drain(..).partition(|w| mentioned(w));
        self.topic = kept;
        self.set_aside = aside;
        self.terms = terms_of(&self.topic);
        if self.trouble.is_none()
            && self.intent == Intent::Tasks
            && self.people.is_empty()
            && let Some(p) = &self.pronoun
        {
            self.trouble = Some(Trouble::WhoIsMeant(p.clone()));
        }
        let carried = !self.people.is_empty() || matches!(self.intent, Intent::Load | Intent::Changes(_));
        let lost = !self.set_aside.is_empty() && self.topic.is_empty() && !carried;
        let anchored = self.intent != Intent::Tasks
            || !self.people.is_empty()
            || !self.terms.is_empty()
            || self.priority.is_some()
            || self.in_progress
            || self.unassigned
            || self.cued;
        if self.trouble.is_none() && (lost || !anchored || self.intent == Intent::Unknown) {
            self.trouble = Some(Trouble::NotUnderstood(self.set_aside.clone()));
        }
        if self.trouble.is_some() {
            self.intent = Intent::Unknown;
        }
        self.blocking = self.intent == Intent::Blockers;
        self
    }
}

/// Words that never name a topic or a person: the grammar of questions and the usual ways
/// of saying "their work" ("on her plate", "on his radar").
const FILLER: &str = "a an the of on in at to into onto for from with by about over under up down out off than then \
    so too very just still yet already also even really quite please pls plz thanks thank thx hi hello hey ok okay \
    yes no not i me my mine myself we us our ours you your yours he him his she her hers they them their theirs it \
    its this that these those there here what which who whom whose when where why how is are am was were be been \
    being do does did doing done have has had having got get gets getting can could would should will shall may \
    might must need needs and or but nor if any anything some something all every everything each much many more \
    most lot lots few tell show list give let know see find look check display summarize summarise currently \
    current now right moment since isn't aren't wasn't weren't doesn't don't didn't hasn't haven't won't can't \
    i'm i've i'd i'll we're we've you're they're someone somebody anyone anybody everyone everybody people person \
    team folks guys plate desk radar agenda queue backlog pipeline bucket hands mind docket slate lineup todo todos \
    to-do work working works task tasks ticket tickets issue issues item items stuff things thing assignment \
    assignments assigned job jobs going happening status update updates news currently busy handling handle own \
    owns owned owning responsible focused regarding re concerning related week weeks day days month months \
    hour hours morning afternoon evening night weekend help";

const PRONOUNS: [&str; 6] = ["she", "her", "hers", "he", "him", "his"];

/// "Tell me", "show me": polite forms whose "me" is not the asker's work.
const POLITE: &str = "tell me|show me|give me|let me know|let me see|let me|help me|can you|could you|would you";
/// The asker's own work, which an API key cannot name.
const ME: &str = "my|mine|me|myself|do i have|have i got|am i|i have|i am working";
const OVERDUE: &str = "past their due date|past its due date|past the due date|past due date|past deadline|\
    past the deadline|past due|over due|overdue|late|behind schedule|behind|missed|slipped|slipping|delayed";
/// "Busy with" asks what someone does, not how loaded they are.
const DOING: &str = "busy with|up to|working on|work on|what on|what is on";
const LOAD: &str = "too much|too many|most work|most tasks|least work|fewest tasks|most open tasks|has room|\
    have room|work load|overloaded|overload|overworked|swamped|slammed|drowning|stretched|workload|workloads|\
    busiest|busy|capacity|bandwidth|load|loaded|balanced|distribution|distributed|free";
const BLOCKERS: &str = "holding up|holds up|held up|hold up|in the way|waiting on|waiting for|depends on|block|\
    blocks|blocked|blocker|blockers|blocking|unblock|stuck|impediment|impediments|obstacle|obstacles|dependency|\
    dependencies";
/// Things still to do, whose "done" is not a completion.
const TO_DO: &str = "needs to be done|need to be done|to be done|to get done|left to do|still to do|not done|\
    needs doing|to do";
const STRONG_CHANGES: &str = "changed|change|changes|happened|activity|modified|edited";
/// Changes only with a time ("news since monday"), or with nothing else asked ("any news?").
const NEWS: &str = "what new|anything new|something new|news|updates|update";
const CREATED: &str = "new tasks|new task|new tickets|created|added|opened|filed|came in";
const COMPLETED: &str = "got done|done|finished|finish|completed|complete|closed|close|resolved|shipped";
const OTHER_CHANGES: &str = "updated|touched|moved|did";
const HIGH: &str = "high priority|high-priority|high prio|top priority|urgent|critical";
const LOW: &str = "low priority|low-priority|low prio";
const MEDIUM: &str = "medium priority|medium-priority|normal priority";
const IN_PROGRESS: &str = "everyone working on|everybody working on|team working on|we working on|in progress|\
    in-progress|wip|started|ongoing|underway";
const UNASSIGNED: &str = "not assigned|without an owner|without owner|without an assignee|without assignee|\
    no owner|no one|unassigned|unowned|nobody|noone";
const PRESSING: &str = "what should i work on|what should we work on|needs attention|need attention|anything|\
    pressing|important|attention|priorities|priority|focus|next|outstanding|overview|summary|status|everything";
const TASK_CUES: &str = "task|tasks|ticket|tickets|issue|issues|item|items|todo|todos|to-do|work|due|deadline|\
    deadlines|assigned|assignment|assignments|open|pending|left|remaining|plate|backlog|queue|working|doing|\
    have|has|got|owns|own|handling|responsible";
/// What follows a possessive name: "ana's tasks", "bob's plate".
const WORK_NOUNS: &str = "tasks|task|work|plate|workload|load|todo|todos|queue|backlog|list|stuff|things|\
    tickets|issues|items|assignments|deadlines|overdue|open|week|day|desk";
/// Words before a person's place: "what is dave working on", "what does dave have".
const PERSON_VERBS: &str = "working|doing|up|busy|have|got|do|own|owns|handling|done|finished";

/// The phrases of a `|`-separated list.
fn phrases(list: &str) -> impl Iterator<Item = &str> {
    list.split('|')
}

/// Whether `word` is one of the one-word phrases of `list`.
fn listed(list: &str, word: &str) -> bool {
    phrases(list).any(|p| p == word)
}

fn is_filler(word: &str) -> bool {
    FILLER.split_whitespace().any(|f| f == word)
}

/// Whether `word` belongs to the vocabulary of questions, so a name spelled like it needs
/// a mark (`@`, a possessive or a capital) to count as a name.
fn is_common(word: &str) -> bool {
    is_filler(word)
        || [OVERDUE, LOAD, BLOCKERS, STRONG_CHANGES, COMPLETED, OTHER_CHANGES, PRESSING, TASK_CUES, IN_PROGRESS]
            .iter()
            .any(|list| phrases(list).any(|p| p.split(' ').any(|w| w == word)))
        || is_day_word(word)
}

fn is_day_word(word: &str) -> bool {
    weekday(word).is_some()
        || ["today", "tonight", "tomorrow", "yesterday", "week", "month", "soon", "recently", "lately"].contains(&word)
}

/// One word of a question, lower-cased, with the marks that make it a name.
#[derive(Debug, Clone)]
struct Token {
    text: String,
    /// Written `@name`.
    at: bool,
    /// Written `name's` or `names'`.
    poss: bool,
    /// Capitalised inside the sentence.
    cap: bool,
}

fn tokens(text: &str) -> Vec<Token> {
    let text = text.replace(['\u{2019}', '\u{2018}', '`'], "'");
    let mut out: Vec<Token> = Vec::new();
    for raw in text.split(|c: char| !(c.is_alphanumeric() || "'@.-_".contains(c))) {
        let raw = raw.trim_start_matches(|c: char| !c.is_alphanumeric() && c != '@');
        let at = raw.starts_with('@');
        let raw = raw.trim_start_matches('@').trim_end_matches(|c: char| !c.is_alphanumeric() && c != '\'');
        let cap = !out.is_empty() && raw.chars().next().is_some_and(char::is_uppercase);
        let lower = raw.to_lowercase();
        let (word, poss) = match lower.strip_suffix("'s") {
            Some(w) => (w.to_string(), true),
            None if lower.ends_with("s'") => (lower[..lower.len() - 1].to_string(), true),
            None => (lower.clone(), false),
        };
        let word = word.trim_end_matches(|c: char| !c.is_alphanumeric()).to_string();
        if !word.is_empty() {
            out.push(Token { text: word, at, poss, cap });
        }
    }
    out
}

fn terms_of(words: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    words.iter().flat_map(|w| word_terms(w)).filter(|t| t.chars().count() > 1 && seen.insert(t.clone())).collect()
}

/// Marks each unmarked occurrence of each phrase; whether any occurred. Earlier phrases
/// win over later ones that overlap them.
fn mark(w: &[&str], used: &mut [bool], list: &str) -> bool {
    let mut found = false;
    for phrase in phrases(list) {
        let seq: Vec<&str> = phrase.split(' ').collect();
        for i in 0..(w.len() + 1).saturating_sub(seq.len()) {
            if w[i..i + seq.len()] == seq[..] && !used[i..i + seq.len()].iter().any(|u| *u) {
                used[i..i + seq.len()].fill(true);
                found = true;
            }
        }
    }
    found
}

/// A person's name as words: "Ana Lopez" → ["ana", "lopez"], "@ana" → ["ana"].
fn name_words(name: &str) -> Vec<String> {
    tokens(name).into_iter().map(|t| t.text).collect()
}

/// The people the question names (each once, in the order named), and a name several
/// of them share.
fn named_people(
    words: &[Token],
    assignees: &[&str],
    used: &mut [bool],
) -> (Vec<String>, Option<(String, Vec<String>)>) {
    // One spelling per person: "Ana" and "ana" are the same one.
    let mut seen = HashSet::new();
    let known: Vec<(&str, Vec<String>)> = assignees
        .iter()
        .filter(|a| seen.insert(a.trim_start_matches('@').to_lowercase()))
        .map(|a| (*a, name_words(a)))
        .filter(|(_, n)| !n.is_empty())
        .collect();
    // A word of the questions' own vocabulary is a name only when marked as one, or where
    // a person stands ("what is will doing").
    let marked = |i: usize, len: usize| {
        len > 1 || !is_common(&words[i].text) || words[i].poss || words[i].cap || in_person_place(words, i)
    };
    let mut people: Vec<String> = Vec::new();
    let mut ambiguous = None;
    let mut i = 0;
    while i < words.len() {
        let whole = known
            .iter()
            .filter(|(_, n)| n.iter().enumerate().all(|(k, part)| words.get(i + k).is_some_and(|t| t.text == *part)))
            .max_by_key(|(_, n)| n.len());
        if let Some((who, n)) = whole.filter(|(_, n)| marked(i, n.len())) {
            used[i..i + n.len()].fill(true);
            if !people.iter().any(|p| p == who) {
                people.push(who.to_string());
            }
            i += n.len();
            continue;
        }
        // Part of a name: a first or last name, or an e-mail address's local part.
        let word = words[i].text.as_str();
        let partly: Vec<&str> = known
            .iter()
            .filter(|(_, n)| match n.as_slice() {
                [one] => one.split_once('@').is_some_and(|(local, _)| local == word),
                many => many.first().is_some_and(|f| f == word) || many.last().is_some_and(|l| l == word),
            })
            .map(|(who, _)| *who)
            .collect();
        if !partly.is_empty() && marked(i, 1) {
            used[i] = true;
            match partly.as_slice() {
                [who] if !people.iter().any(|p| p == who) => people.push(who.to_string()),
                [_] => {}
                many => ambiguous = Some((word.to_string(), many.iter().map(|s| s.to_string()).collect())),
            }
        }
        i += 1;
    }
    (people, ambiguous)
}

/// A time the question names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Time {
    /// "since monday", "in the last 3 days".
    Since(NaiveDate),
    /// "today", "yesterday", "tomorrow".
    Day(NaiveDate),
    /// "this week", "next week", "last week".
    Week(NaiveDate, NaiveDate),
    /// "by friday", "before 2026-12-24".
    By(NaiveDate),
    /// "recently", "lately".
    Recent,
    /// "soon", "coming up".
    Soon,
}

fn weekday(word: &str) -> Option<chrono::Weekday> {
    use chrono::Weekday::*;
    let day = match word {
        "monday" | "mon" => Mon,
        "tuesday" | "tue" | "tues" => Tue,
        "wednesday" | "wed" => Wed,
        "thursday" | "thu" | "thurs" => Thu,
        "friday" | "fri" => Fri,
        "saturday" | "sat" => Sat,
        "sunday" | "sun" => Sun,
        _ => return None,
    };
    Some(day)
}

fn count(word: &str) -> Option<i64> {
    let named = ["a", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];
    word.parse::<i64>()
        .ok()
        .filter(|n| (1..=366).contains(n))
        .or_else(|| named.iter().position(|n| *n == word).map(|i| (i as i64).max(1)))
        .or((word == "an").then_some(1))
}

/// The day a "since …" names and how many words it took: "yesterday", "monday", "last week".
fn since_day(w: &[&str], today: NaiveDate) -> Option<(NaiveDate, usize)> {
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let back_to = |day: chrono::Weekday| {
        // The latest such day before today: on a Monday, "since monday" means last week's.
        let back = (7 + i64::from(today.weekday().num_days_from_monday()) - i64::from(day.num_days_from_monday())) % 7;
        today - Duration::days(if back == 0 { 7 } else { back })
    };
    let at = |i: usize| w.get(i).copied().unwrap_or("");
    match (at(0), at(1)) {
        ("yesterday", _) => Some((today - Duration::days(1), 1)),
        ("today" | "tonight", _) => Some((today, 1)),
        ("this", "morning" | "afternoon") => Some((today, 2)),
        ("last", "night") => Some((today - Duration::days(1), 2)),
        ("last" | "the", "week") => Some((monday - Duration::days(7), 2)),
        ("this", "week") => Some((monday, 2)),
        ("the", "weekend") | ("last", "weekend") => Some((back_to(chrono::Weekday::Sat), 2)),
        ("last", day) if weekday(day).is_some() => weekday(day).map(|d| (back_to(d), 2)),
        (day, _) if weekday(day).is_some() => weekday(day).map(|d| (back_to(d), 1)),
        (date, _) => NaiveDate::parse_from_str(date, "%Y-%m-%d").ok().filter(|d| *d <= today).map(|d| (d, 1)),
    }
}

/// "last 3 days", "past 24 hours", "past week": how far back and how many words it took.
fn span_back(w: &[&str], today: NaiveDate) -> Option<(NaiveDate, usize)> {
    let at = |i: usize| w.get(i).copied().unwrap_or("");
    let (n, unit, len) = match count(at(0)) {
        Some(n) => (n, at(1), 2),
        None => (1, at(0), 1),
    };
    let days = match unit {
        "day" | "days" => n,
        "hour" | "hours" => (n + 23) / 24,
        "week" | "weeks" => 7 * n,
        _ => return None,
    };
    Some((today - Duration::days(days), len))
}

/// The time `w` names (the first one), marking its words.
fn when(w: &[&str], today: NaiveDate, used: &mut [bool]) -> Option<Time> {
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let at = |i: usize| w.get(i).copied().unwrap_or("");
    let mut found = None;
    let mut i = 0;
    while i < w.len() {
        let (time, len) = match (at(i), at(i + 1), at(i + 2)) {
            ("since", ..) => match since_day(&w[i + 1..], today) {
                Some((day, n)) => (Some(Time::Since(day)), n + 1),
                None => (None, 0),
            },
            ("in" | "within" | "over", "the", "last" | "past") => match span_back(&w[i + 3..], today) {
                Some((day, n)) => (Some(Time::Since(day)), n + 3),
                None => (None, 0),
            },
            ("last" | "past", "week", _) if at(i) == "past" => (Some(Time::Since(today - Duration::days(7))), 2),
            ("last", "week", _) => (Some(Time::Week(monday - Duration::days(7), monday - Duration::days(1))), 2),
            ("last" | "past", ..) => match span_back(&w[i + 1..], today) {
                Some((day, n)) => (Some(Time::Since(day)), n + 1),
                None if at(i + 1) == "night" => (Some(Time::Day(today - Duration::days(1))), 2),
                None => (None, 0),
            },
            ("yesterday", ..) => (Some(Time::Day(today - Duration::days(1))), 1),
            ("today" | "tonight" | "eod", ..) => (Some(Time::Day(today)), 1),
            ("this", "morning" | "afternoon" | "evening", _) => (Some(Time::Day(today)), 2),
            ("end", "of", "day") => (Some(Time::Day(today)), 3),
            ("end", "of", "the") if at(i + 3) == "day" => (Some(Time::Day(today)), 4),
            ("tomorrow" | "tmrw" | "tmr", ..) => (Some(Time::Day(today + Duration::days(1))), 1),
            ("this", "week" | "wk", _) | ("end", "of", "week") => {
                (Some(Time::Week(monday, monday + Duration::days(6))), if at(i) == "end" { 3 } else { 2 })
            }
            ("end", "of", "the") if at(i + 3) == "week" => (Some(Time::Week(monday, monday + Duration::days(6))), 4),
            ("eow", ..) => (Some(Time::Week(monday, monday + Duration::days(6))), 1),
            ("next", "week", _) => (Some(Time::Week(monday + Duration::days(7), monday + Duration::days(13))), 2),
            ("next", "few", "days") | ("coming", "days", _) | ("coming", "up", _) => {
                (Some(Time::Soon), if at(i) == "next" { 3 } else { 2 })
            }
            ("soon" | "upcoming", ..) => (Some(Time::Soon), 1),
            ("recently" | "recent" | "lately" | "latest", ..) => (Some(Time::Recent), 1),
            ("this" | "end", "month", _) | ("end", "of", "month") => {
                (end_of_month(today).map(Time::By), if at(i + 1) == "of" { 3 } else { 2 })
            }
            // "by next week" is the week's; "by next friday" a date.
            ("by" | "before" | "until" | "till" | "due", next, after)
                if is_date_start(next) && !["week", "wk", "month"].contains(&after) =>
            {
                let phrase = w[i..(i + 5).min(w.len())].join(" ");
                match crate::llm::builtin::dates::find(&phrase, today).filter(|f| f.span.0 == 0) {
                    Some(f) => {
                        let n = phrase[..f.span.1].split(' ').count();
                        // "due friday": "due" still says it asks about due dates.
                        let n = if at(i) == "due" { n.saturating_sub(1) } else { n };
                        let start = if at(i) == "due" { i + 1 } else { i };
                        used[start..start + n].fill(true);
                        found.get_or_insert(Time::By(f.date));
                        i = start + n;
                        continue;
                    }
                    None => (None, 0),
                }
            }
            ("in" | "within", n, "day" | "days" | "week" | "weeks") if count(n).is_some() => {
                let n = count(n).unwrap_or(1);
                let days = if at(i + 2).starts_with("week") { 7 * n } else { n };
                (Some(Time::By(today + Duration::days(days))), 3)
            }
            (day, ..) if weekday(day).is_some() && day.len() > 3 => {
                (crate::llm::builtin::dates::find(day, today).map(|f| Time::By(f.date)), 1)
            }
            (date, ..) => (NaiveDate::parse_from_str(date, "%Y-%m-%d").ok().map(Time::By), 1),
        };
        match time {
            Some(t) if !used[i..i + len].iter().any(|u| *u) => {
                used[i..i + len].fill(true);
                found.get_or_insert(t);
                i += len;
            }
            _ => i += 1,
        }
    }
    found
}

/// Whether a date phrase may start at `word` (after "by", "before", "due" …).
fn is_date_start(word: &str) -> bool {
    weekday(word).is_some()
        || NaiveDate::parse_from_str(word, "%Y-%m-%d").is_ok()
        || ["next", "this", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"]
            .contains(&word)
        || ["january", "february", "march", "april", "june", "july", "august", "september", "october"].contains(&word)
        || ["november", "december"].contains(&word)
        || word.chars().next().is_some_and(|c| c.is_ascii_digit())
}

fn end_of_month(today: NaiveDate) -> Option<NaiveDate> {
    let (y, m) = if today.month() == 12 { (today.year() + 1, 1) } else { (today.year(), today.month() + 1) };
    NaiveDate::from_ymd_opt(y, m, 1).map(|d| d - Duration::days(1))
}

/// Whether the word at `i` stands where a person does: `@dave`, `dave's tasks`, "what is
/// dave working on", "tasks for dave".
fn in_person_place(words: &[Token], i: usize) -> bool {
    let at = |i: usize| words.get(i).map_or("", |t| t.text.as_str());
    let before = if i > 0 { at(i - 1) } else { "" };
    let before2 = if i > 1 { at(i - 2) } else { "" };
    words[i].at
        || (words[i].poss
            && listed(WORK_NOUNS, at(i + 1))
            && !["the", "a", "an", "this", "that", "our", "your", "my", "their"].contains(&before))
        || (["is", "does", "has", "did", "was"].contains(&before) && listed(PERSON_VERBS, at(i + 1)))
        || (["for", "to"].contains(&before)
            && ["tasks", "task", "work", "anything", "something", "assigned", "todo", "items", "tickets"]
                .contains(&before2))
}

/// A word in a person's place that is not one of the assignees.
fn stranger(words: &[Token], used: &[bool]) -> Option<String> {
    (0..words.len())
        .find(|&i| {
            let t = &words[i];
            let name_like = t.text.chars().all(|c| c.is_alphabetic() || "-.@_".contains(c));
            !used[i] && name_like && !is_common(&t.text) && in_person_place(words, i)
        })
        .map(|i| words[i].text.clone())
}

/// Reads `text` against the people who have tasks (`assignees`) as of `today`.
pub fn understand(text: &str, assignees: &[&str], today: NaiveDate) -> Question {
    let words = tokens(text);
    let w: Vec<&str> = words.iter().map(|t| t.text.as_str()).collect();
    let mut used = vec![false; w.len()];
    let (people, ambiguous) = named_people(&words, assignees, &mut used);

    mark(&w, &mut used, POLITE);
    let about_me = mark(&w, &mut used, ME);
    let time = when(&w, today, &mut used);
    let overdue = mark(&w, &mut used, OVERDUE);
    // Before `DOING`: "what is everyone working on" asks what is in progress.
    let in_progress = mark(&w, &mut used, IN_PROGRESS);
    let doing = mark(&w, &mut used, DOING);
    let load = mark(&w, &mut used, LOAD);
    let blocking = mark(&w, &mut used, BLOCKERS);
    let to_do = mark(&w, &mut used, TO_DO);
    let strong = mark(&w, &mut used, STRONG_CHANGES);
    let news = mark(&w, &mut used, NEWS);
    let created = mark(&w, &mut used, CREATED);
    let completed = mark(&w, &mut used, COMPLETED);
    let other = mark(&w, &mut used, OTHER_CHANGES);
    let priority = if mark(&w, &mut used, HIGH) {
        Some(Priority::High)
    } else if mark(&w, &mut used, LOW) {
        Some(Priority::Low)
    } else if mark(&w, &mut used, MEDIUM) {
        Some(Priority::Medium)
    } else {
        None
    };
    let unassigned = mark(&w, &mut used, UNASSIGNED);
    let pressing = mark(&w, &mut used, PRESSING);
    let task_cue = mark(&w, &mut used, TASK_CUES);

    let stranger = if people.is_empty() { stranger(&words, &used) } else { None };
    let pronoun = if people.is_empty() { w.iter().find(|x| PRONOUNS.contains(x)).map(|p| p.to_string()) } else { None };
    let topic: Vec<String> = words
        .iter()
        .enumerate()
        .filter(|(i, t)| {
            !used[*i]
                && !is_filler(&t.text)
                && Some(&t.text) != stranger.as_ref()
                && !terms_of(std::slice::from_ref(&t.text)).is_empty()
        })
        .map(|(_, t)| t.text.clone())
        .fold(Vec::new(), |mut out, word| {
            if !out.contains(&word) {
                out.push(word);
            }
            out
        });

    let kind = if created {
        Change::Created
    } else if completed {
        Change::Completed
    } else {
        Change::Any
    };
    let timed = matches!(time, Some(Time::Since(_) | Time::Recent));
    // "What has ana done" asks for changes; "is the login done?" for the login's state.
    let changes = strong
        || timed
        || ((created || completed || other) && (time.is_some() || topic.is_empty()))
        || (news && (time.is_some() || (topic.is_empty() && people.is_empty())));
    let anything = !people.is_empty()
        || stranger.is_some()
        || ambiguous.is_some()
        || about_me
        || time.is_some()
        || overdue
        || priority.is_some()
        || in_progress
        || unassigned
        || pressing
        || task_cue
        || doing
        || to_do
        || !topic.is_empty()
        || pronoun.is_some();
    let intent = if load {
        Intent::Load
    } else if blocking {
        Intent::Blockers
    } else if changes {
        Intent::Changes(kind)
    } else if anything {
        Intent::Tasks
    } else {
        Intent::Unknown
    };

    let (window, since) = match intent {
        Intent::Changes(_) => {
            let yesterday = today - Duration::days(1);
            let since = match time {
                Some(Time::Since(d) | Time::Day(d) | Time::Week(d, _)) => d.min(today),
                Some(Time::Recent) => today - Duration::days(7),
                _ => yesterday,
            };
            (None, Some(since))
        }
        _ if overdue => (Some(Window::Overdue(today)), None),
        _ => {
            let window = match time {
                Some(Time::Day(d)) if d < today => Some(Window::DueBetween(d, d)),
                Some(Time::Day(d) | Time::By(d)) => Some(Window::DueBy(d)),
                Some(Time::Week(from, to)) if from <= today && today <= to => Some(Window::DueBy(to)),
                Some(Time::Week(from, to)) => Some(Window::DueBetween(from, to)),
                Some(Time::Soon) => Some(Window::DueBy(today + Duration::days(7))),
                Some(Time::Since(_) | Time::Recent) | None => None,
            };
            (window, None)
        }
    };
    let trouble = match ambiguous {
        Some((word, who)) => Some(Trouble::Ambiguous(word, who)),
        None if about_me && people.is_empty() => Some(Trouble::AboutMe),
        None => None,
    };
    Question {
        intent,
        person: people.first().cloned(),
        people,
        window,
        since,
        blocking: intent == Intent::Blockers,
        priority,
        in_progress,
        unassigned,
        terms: terms_of(&topic),
        topic,
        set_aside: Vec::new(),
        trouble,
        pronoun,
        stranger,
        cued: pressing || task_cue || overdue || doing || to_do,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wednesday 2 December 2026.
    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 2).expect("date")
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    const PEOPLE: [&str; 5] = ["Ana", "bob", "Cy Young", "dee@example.com", "Will"];

    /// What the workspace mentions, for `settle`.
    fn workspace(term: &str) -> bool {
        ["beta", "launch", "certif", "vendor", "portal", "login", "offsit"].iter().any(|k| term.starts_with(k))
    }

    fn read(text: &str) -> Question {
        understand(text, &PEOPLE, today()).settle(workspace)
    }

    /// One expected reading: intent, people, window, since, topic words.
    struct Reading {
        intent: Intent,
        people: &'static [&'static str],
        window: Option<Window>,
        since: Option<NaiveDate>,
        topic: &'static [&'static str],
    }

    fn tasks(people: &'static [&'static str]) -> Reading {
        Reading { intent: Intent::Tasks, people, window: None, since: None, topic: &[] }
    }

    impl Reading {
        fn window(mut self, w: Window) -> Self {
            self.window = Some(w);
            self
        }
        fn since(mut self, d: &str) -> Self {
            self.since = Some(day(d));
            self
        }
        fn topic(mut self, t: &'static [&'static str]) -> Self {
            self.topic = t;
            self
        }
        fn intent(mut self, i: Intent) -> Self {
            self.intent = i;
            self
        }
    }

    fn load(people: &'static [&'static str]) -> Reading {
        tasks(people).intent(Intent::Load)
    }

    fn blockers(people: &'static [&'static str]) -> Reading {
        tasks(people).intent(Intent::Blockers)
    }

    fn changes(kind: Change, people: &'static [&'static str]) -> Reading {
        tasks(people).intent(Intent::Changes(kind))
    }

    #[test]
    fn everyday_questions_are_read_for_intent_person_and_time() {
        let this_week = Window::DueBy(day("2026-12-06"));
        let overdue = Window::Overdue(today());
        let cases: Vec<(&str, Reading)> = vec![
            // A person's work, however it is put.
            ("What does ana have on her plate?", tasks(&["Ana"])),
            ("what is ana working on", tasks(&["Ana"])),
            ("What's Ana working on?", tasks(&["Ana"])),
            ("ana's tasks", tasks(&["Ana"])),
            ("Ana’s tasks please", tasks(&["Ana"])),
            ("what does @ana have on her plate", tasks(&["Ana"])),
            ("show me tasks for Ana", tasks(&["Ana"])),
            ("what's assigned to ana?", tasks(&["Ana"])),
            ("anything for bob?", tasks(&["bob"])),
            ("what is bob up to", tasks(&["bob"])),
            ("what's bob busy with", tasks(&["bob"])),
            ("how is Cy doing?", tasks(&["Cy Young"])),
            ("what has cy young got", tasks(&["Cy Young"])),
            ("young's work", tasks(&["Cy Young"])),
            ("tasks of dee", tasks(&["dee@example.com"])),
            ("What is Will working on?", tasks(&["Will"])),
            ("what is will doing", tasks(&["Will"])),
            ("@bob", tasks(&["bob"])),
            ("what do ana and bob have", tasks(&["Ana", "bob"])),
            // Time.
            ("what is due this week", tasks(&[]).window(this_week)),
            ("what's due today?", tasks(&[]).window(Window::DueBy(today()))),
            ("anything due tomorrow", tasks(&[]).window(Window::DueBy(day("2026-12-03")))),
            ("what's due next week", tasks(&[]).window(Window::DueBetween(day("2026-12-07"), day("2026-12-13")))),
            ("what is due by friday", tasks(&[]).window(Window::DueBy(day("2026-12-04")))),
            ("what's overdue", tasks(&[]).window(overdue)),
            ("what's late?", tasks(&[]).window(overdue)),
            ("which tasks are past their due date", tasks(&[]).window(overdue)),
            ("what will be due this week", tasks(&[]).window(this_week)),
            // Combinations.
            ("what is ana doing this week", tasks(&["Ana"]).window(this_week)),
            ("ana's overdue tasks", tasks(&["Ana"]).window(overdue)),
            ("is anything overdue for bob?", tasks(&["bob"]).window(overdue)),
            ("What does Ana have this week?", tasks(&["Ana"]).window(this_week)),
            ("what does bob have on the beta", tasks(&["bob"]).topic(&["beta"])),
            // Topics.
            ("anything on the vendor portal", tasks(&[]).topic(&["vendor", "portal"])),
            ("what's the status of the beta launch?", tasks(&[]).topic(&["beta", "launch"])),
            ("any news on the login?", tasks(&[]).topic(&["login"])),
            // Load.
            ("who has too much work", load(&[])),
            ("Who is overloaded?", load(&[])),
            ("workload", load(&[])),
            ("who has the most tasks", load(&[])),
            ("how busy is bob?", load(&["bob"])),
            ("is ana overloaded", load(&["Ana"])),
            ("who has too much on their plate?", load(&[])),
            ("who is free", load(&[])),
            ("what is ana's workload", load(&["Ana"])),
            // Blockers.
            ("what is blocking the beta?", blockers(&[]).topic(&["beta"])),
            ("what's blocked", blockers(&[])),
            ("blockers?", blockers(&[])),
            ("anything stuck?", blockers(&[])),
            ("what is blocking ana", blockers(&["Ana"])),
            ("what's holding up the launch", blockers(&[]).topic(&["launch"])),
            // Changes.
            ("what changed since yesterday", changes(Change::Any, &[]).since("2026-12-01")),
            ("What happened since yesterday?", changes(Change::Any, &[]).since("2026-12-01")),
            ("what was updated since monday", changes(Change::Any, &[]).since("2026-11-30")),
            ("what was created today", changes(Change::Created, &[]).since("2026-12-02")),
            ("what got done yesterday", changes(Change::Completed, &[]).since("2026-12-01")),
            ("what did ana finish this week", changes(Change::Completed, &["Ana"]).since("2026-11-30")),
            ("what's new?", changes(Change::Any, &[]).since("2026-12-01")),
            ("anything new in the last 3 days", changes(Change::Any, &[]).since("2026-11-29")),
            ("what changed on the beta", changes(Change::Any, &[]).since("2026-12-01").topic(&["beta"])),
            ("recent changes", changes(Change::Any, &[]).since("2026-11-25")),
            ("what has ana done?", changes(Change::Completed, &["Ana"]).since("2026-12-01")),
            ("what did bob do", changes(Change::Any, &["bob"]).since("2026-12-01")),
            ("is the login done?", tasks(&[]).topic(&["login"])),
        ];
        assert!(cases.len() >= 30);
        for (text, want) in cases {
            let q = read(text);
            assert_eq!(q.trouble, None, "{text}: {q:?}");
            assert_eq!(q.intent, want.intent, "{text}: {q:?}");
            assert_eq!(q.people, want.people, "{text}: {q:?}");
            assert_eq!(q.person.as_deref(), want.people.first().copied(), "{text}");
            assert_eq!(q.window, want.window, "{text}: {q:?}");
            assert_eq!(q.since, want.since, "{text}: {q:?}");
            assert_eq!(q.topic, want.topic, "{text}: {q:?}");
        }
    }

    #[test]
    fn filters_are_read_beside_the_person() {
        let q = read("ana's high priority tasks");
        assert_eq!((q.people.as_slice(), q.priority), (&["Ana".to_string()][..], Some(Priority::High)));
        let q = read("what's unassigned and urgent?");
        assert!(q.unassigned && q.priority == Some(Priority::High) && q.intent == Intent::Tasks, "{q:?}");
        let q = read("what is everyone working on");
        assert!(q.in_progress && q.people.is_empty() && q.intent == Intent::Tasks, "{q:?}");
        // "Done" still to do is no completion.
        let q = read("what needs to be done this week");
        assert_eq!((q.intent, q.window), (Intent::Tasks, Some(Window::DueBy(day("2026-12-06")))));
    }

    #[test]
    fn words_of_the_question_are_no_topic_and_names_are_only_real_assignees() {
        // "plate" holds "late" but is no overdue; it is no topic either.
        let q = understand("What does ana have on her plate?", &PEOPLE, today());
        assert_eq!((q.window, q.terms.len(), q.topic.len()), (None, 0, 0), "{q:?}");
        // "will" is a word of questions unless it is written as a name.
        let q = read("what will be due this week");
        assert!(q.people.is_empty(), "{q:?}");
        // Names are matched whole, never inside another word.
        assert!(read("what about the anagram tasks").people.is_empty());
        // A project asked about like a person is a topic.
        let q = read("beta's tasks");
        assert_eq!((q.intent, q.topic.as_slice()), (Intent::Tasks, &["beta".to_string()][..]), "{q:?}");
    }

    #[test]
    fn what_is_not_understood_says_why_instead_of_guessing() {
        let not_understood = |text: &str| read(text).trouble;
        for text in ["hello", "how are you?", "thanks!", "?", "help"] {
            assert_eq!(not_understood(text), Some(Trouble::NotUnderstood(vec![])), "{text}");
            assert_eq!(read(text).intent, Intent::Unknown, "{text}");
        }
        assert_eq!(
            not_understood("What is the airspeed velocity of an unladen swallow?"),
            Some(Trouble::NotUnderstood(vec![
                "airspeed".into(),
                "velocity".into(),
                "unladen".into(),
                "swallow".into()
            ]))
        );
        // A time alone, around words nothing mentions, is no question about tasks.
        assert_eq!(not_understood("what's the weather today"), Some(Trouble::NotUnderstood(vec!["weather".into()])));
        assert_eq!(not_understood("what is dave working on?"), Some(Trouble::NoSuchPerson("dave".into())));
        assert_eq!(not_understood("tasks for @zed"), Some(Trouble::NoSuchPerson("zed".into())));
        assert_eq!(not_understood("what's on my plate?"), Some(Trouble::AboutMe));
        assert_eq!(not_understood("what is she working on"), Some(Trouble::WhoIsMeant("she".into())));
        let two = understand("what is ana doing", &["Ana Lopez", "Ana Smith"], today());
        assert_eq!(two.trouble, Some(Trouble::Ambiguous("ana".into(), vec!["Ana Lopez".into(), "Ana Smith".into()])));
        assert_eq!(two.settle(workspace).intent, Intent::Unknown);
    }

    #[test]
    fn a_person_carries_a_question_whose_other_words_nothing_mentions() {
        let q = read("what has ana got in her inbox");
        assert_eq!((q.intent, q.people.len()), (Intent::Tasks, 1), "{q:?}");
        assert_eq!(q.set_aside, ["inbox"]);
        assert!(q.terms.is_empty());
        // A pronoun refers to whoever was named before.
        let mut q = understand("and what is she doing this week?", &PEOPLE, today());
        q.refer_to(vec!["Ana".into()]);
        let q = q.settle(workspace);
        assert_eq!((q.intent, q.person.as_deref()), (Intent::Tasks, Some("Ana")), "{q:?}");
    }
}
