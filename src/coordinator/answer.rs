//! The builtin coordinator's answers: plain sentences over what the grounding found, each
//! saying what was looked for, so a reader sees how the question was read; and, for a
//! question not understood, that it was not, with questions that work.

use super::analysis::Workload;
use super::chat::{Grounding, capitalize};
use super::question::{Change, Intent, Question, Trouble, Window};
use super::retrieve::same_person;
use crate::domain::task::{Task, TaskStatus};

/// People named in one load answer's spread before "and N more".
const SPREAD: usize = 15;

/// The answer to `g.question` from what `g` found.
pub fn builtin(g: &Grounding) -> String {
    let q = &g.question;
    let body = match q.intent {
        Intent::Unknown => return unknown(g),
        Intent::Load => load(g),
        Intent::Changes(kind) => changes(g, kind),
        Intent::Tasks | Intent::Blockers => tasks(g),
    };
    if q.set_aside.is_empty() {
        return body;
    }
    let them = if q.set_aside.len() == 1 { "it" } else { "them" };
    format!("{body}\n(Nothing open here mentions {}, so I left {them} out.)", quoted_or(&q.set_aside))
}

/// `"a"`, `"a" or "b"`, `"a", "b" or "c"`.
fn quoted_or(words: &[String]) -> String {
    or_list(&words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>())
}

fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn status_words(s: TaskStatus) -> &'static str {
    match s {
        TaskStatus::Todo => "to do",
        TaskStatus::InProgress => "in progress",
        TaskStatus::Done => "done",
    }
}

/// What a person needs to see of a task at a glance.
fn facts(t: &Task) -> String {
    let who = t.assigned_to.as_deref().map(|a| format!("assigned to {a}")).unwrap_or_else(|| "unassigned".into());
    let due = t.due_date.map(|d| format!(", due {d}")).unwrap_or_default();
    format!("{}, {} priority, {who}{due}", status_words(t.status), t.priority.as_str())
}

fn task_line(t: &Task) -> String {
    format!("- {} [{}]: {}", t.title, t.id, facts(t))
}

fn window_words(w: Window) -> String {
    match w {
        Window::DueBy(day) => format!(" due by {day} (or in progress without a due date)"),
        Window::Overdue(_) => " past their due date".into(),
        Window::DueBetween(from, to) if from == to => format!(" due on {from}"),
        Window::DueBetween(from, to) => format!(" due between {from} and {to}"),
    }
}

/// The filters of `q` after `noun`: "open tasks assigned to ana due by … about beta".
fn described(q: &Question, noun: &str) -> String {
    let mut what = String::new();
    if let Some(p) = q.priority {
        what.push_str(&format!("{}-priority ", p.as_str()));
    }
    if q.unassigned {
        what.push_str("unassigned ");
    }
    what.push_str(noun);
    if q.in_progress {
        what.push_str(" in progress");
    }
    if !q.people.is_empty() {
        what.push_str(&format!(" assigned to {}", or_list(&q.people)));
    }
    if let Some(w) = q.window {
        what.push_str(&window_words(w));
    }
    if !q.topic.is_empty() {
        what.push_str(&format!(" about {}", q.topic.join(", ")));
    }
    what
}

/// "(12)", or "(40 in all; the 25 most pressing)" when the list stops short.
fn counted(g: &Grounding, order: &str) -> String {
    if g.matched > g.hits.len() {
        format!("({} in all; the {} {order})", g.matched, g.hits.len())
    } else {
        format!("({})", g.hits.len())
    }
}

fn tasks(g: &Grounding) -> String {
    let q = &g.question;
    let mut what = described(q, "open tasks");
    if q.blocking {
        what.push_str(", blocked or high priority first");
    }
    if g.hits.is_empty() {
        return format!("I found no {what}.");
    }
    let intro = if q.is_open_ended() { "The most pressing open tasks".to_string() } else { capitalize(&what) };
    let lines: Vec<String> = g.hits.iter().map(task_line).collect();
    format!("{intro} {}:\n{}", counted(g, "most pressing"), lines.join("\n"))
}

/// "ana 12, bob 2 and 3 more; 4 unassigned".
fn spread(w: &Workload) -> String {
    let mut parts: Vec<String> =
        w.people.iter().take(SPREAD).map(|(who, ids, _)| format!("{who} {}", ids.len())).collect();
    if w.people.len() > SPREAD {
        parts.push(format!("{} more", w.people.len() - SPREAD));
    }
    let unassigned = if w.unassigned > 0 { format!("; {} unassigned", w.unassigned) } else { String::new() };
    format!("Open tasks per person: {}{unassigned}.", parts.join(", "))
}

fn load(g: &Grounding) -> String {
    let q = &g.question;
    let Some(w) = &g.workload else { return format!("I found no {}.", described(q, "open tasks")) };
    let scope = q.window.map(window_words).unwrap_or_default();
    if w.people.is_empty() {
        return format!("Nobody has open tasks{scope} assigned to them ({} unassigned).", w.unassigned);
    }
    let median = w.median_open_tasks;
    let team = w.people.len() >= 3;
    let mut out: Vec<String> = Vec::new();
    let named: Vec<String> = if q.people.is_empty() {
        out.extend(w.overloaded.iter().map(|f| f.recommendation.clone()));
        if w.overloaded.is_empty() {
            out.push(if team {
                format!(
                    "Nobody has too much: no one holds twice the team median of {median} open tasks and three more, \
                     or twice the median estimate and a day more."
                )
            } else {
                "Nobody stands out: with fewer than three people holding open tasks there is no team median to \
                 compare with."
                    .to_string()
            });
        }
        w.overloaded.iter().filter_map(|f| f.assignee.clone()).collect()
    } else {
        for person in &q.people {
            let held = w.people.iter().find(|(who, ..)| same_person(who, person)).map_or(0, |(_, ids, _)| ids.len());
            let over = w.overloaded.iter().any(|f| f.assignee.as_deref().is_some_and(|a| same_person(a, person)));
            out.push(match (over, team) {
                (true, _) => format!(
                    "{person} has {held} open task(s){scope} against a team median of {median}: too much; move some \
                     to someone with room."
                ),
                (false, true) => {
                    format!("{person} has {held} open task(s){scope} against a team median of {median}: not too much.")
                }
                (false, false) => format!(
                    "{person} has {held} open task(s){scope}; with fewer than three people holding open tasks there \
                     is no team median to compare with."
                ),
            });
        }
        q.people.clone()
    };
    out.push(spread(w));
    if !g.hits.is_empty() {
        let lines: Vec<String> = g.hits.iter().map(task_line).collect();
        out.push(format!(
            "Open tasks assigned to {}{scope} {}:\n{}",
            or_list(&named),
            counted(g, "most pressing"),
            lines.join("\n")
        ));
    }
    out.join("\n")
}

fn changes(g: &Grounding, kind: Change) -> String {
    let q = &g.question;
    let since = q.since.map(|d| d.to_string()).unwrap_or_default();
    let noun = match kind {
        Change::Any => format!("tasks changed since {since}"),
        Change::Created => format!("tasks created since {since}"),
        Change::Completed => format!("tasks done since {since}"),
    };
    let what = described(q, &noun);
    if g.hits.is_empty() {
        return format!("I found no {what}.");
    }
    let from = q.since.and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc());
    let lines: Vec<String> = g
        .hits
        .iter()
        .map(|t| {
            let how = if from.is_some_and(|f| t.created_at >= f) { "created" } else { "updated" };
            format!("- {} [{}]: {how} {}; now {}", t.title, t.id, t.updated_at.format("%Y-%m-%d %H:%M UTC"), facts(t))
        })
        .collect();
    format!("{} {}:\n{}", capitalize(&what), counted(g, "latest"), lines.join("\n"))
}

/// "I don't know how to answer that yet", why, and questions that work here.
fn unknown(g: &Grounding) -> String {
    let people = |all: &[String]| {
        let mut shown: Vec<String> = all.iter().take(10).cloned().collect();
        if all.len() > 10 {
            shown.push(format!("{} more", all.len() - 10));
        }
        shown.join(", ")
    };
    let why = match &g.question.trouble {
        Some(Trouble::NotUnderstood(words)) if !words.is_empty() => {
            format!(": nothing open here mentions {}", quoted_or(words))
        }
        Some(Trouble::NoSuchPerson(who)) if g.assignees.is_empty() => {
            format!(": nobody called \"{who}\" has tasks here, and no task is assigned to anyone yet")
        }
        Some(Trouble::NoSuchPerson(who)) => {
            format!(": nobody called \"{who}\" has tasks here (people with tasks: {})", people(&g.assignees))
        }
        Some(Trouble::Ambiguous(word, who)) => {
            format!(": \"{word}\" could be {}; ask with the full name", or_list(who))
        }
        Some(Trouble::AboutMe) => {
            ": I am asked through an API key, so I cannot tell whose work \"my\" is; ask about a person by name"
                .to_string()
        }
        Some(Trouble::WhoIsMeant(pronoun)) => format!(": I cannot tell who \"{pronoun}\" is; name the person"),
        Some(Trouble::NotUnderstood(_)) | None => String::new(),
    };
    let name = g.assignees.first().map(String::as_str).unwrap_or("Ana");
    let topic = g.projects.first().map(|p| p.name.as_str()).unwrap_or("the launch");
    format!(
        "I don't know how to answer that yet{why}. Questions that work:\n\
         - What is {name} working on?\n\
         - What does {name} have due this week?\n\
         - What is overdue?\n\
         - Who has too much work?\n\
         - What is blocking {topic}?\n\
         - What changed since yesterday?\n\
         - Anything about {topic}?\n\
         I can also propose changes for a person to approve, e.g. \"assign <task> to {name}\", \"mark <task> as \
         done\" or \"create task <title>\"."
    )
}
