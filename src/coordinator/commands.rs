//! The builtin provider's chat commands: one per line (or `;`), each read into a
//! proposal for a person to approve. A question is never read as a command.
//!
//! create task <title> · assign <task> to <who> · unassign <task> · mark <task> as done |
//! in progress | todo · move <task> to <status> · close | start | reopen <task> · set
//! (the) priority of <task> to <p> · set (the) due date of <task> to <date> · clear (the)
//! due date of <task> · comment on <task>: <text> · remind | follow up on <task>[: <text>]
//!
//! `<task>` is a task id or its title (quoted or not).

use chrono::NaiveDate;

use crate::domain::task::{Priority, TaskStatus};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskRef {
    Id(String),
    Title(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Create {
        title: String,
    },
    Assign {
        task: TaskRef,
        to: Option<String>,
    },
    Status {
        task: TaskRef,
        status: TaskStatus,
    },
    Priority {
        task: TaskRef,
        priority: Priority,
    },
    Due {
        task: TaskRef,
        date: Option<NaiveDate>,
    },
    Comment {
        task: TaskRef,
        content: String,
    },
    /// A reminder to the task's conversation; the default text when `message` is `None`.
    FollowUp {
        task: TaskRef,
        message: Option<String>,
    },
}

/// The commands in `text`; a line that starts like a command but cannot be read gives
/// the reason instead. Lines that are not commands are left out.
pub fn parse(text: &str, today: NaiveDate) -> Vec<Result<Command, String>> {
    text.split(['\n', ';']).map(str::trim).filter(|l| !l.is_empty()).filter_map(|l| line(l, today)).collect()
}

fn task_ref(raw: &str) -> TaskRef {
    let raw = raw.trim().trim_end_matches(['.', '!']).trim();
    let raw = raw.strip_prefix("task ").or_else(|| raw.strip_prefix("Task ")).unwrap_or(raw).trim();
    let unquoted = raw.trim_matches(|c| c == '"' || c == '\'' || c == '“' || c == '”').trim();
    match uuid::Uuid::try_parse(unquoted) {
        Ok(_) => TaskRef::Id(unquoted.to_string()),
        Err(_) => TaskRef::Title(unquoted.to_string()),
    }
}

/// `rest` split at the last ` {word} ` (case-insensitive), both parts trimmed.
fn split_last<'a>(rest: &'a str, word: &str) -> Option<(&'a str, &'a str)> {
    let needle = format!(" {word} ");
    // ASCII lower-casing keeps byte offsets, so `at` indexes `rest` too.
    let at = rest.to_ascii_lowercase().rfind(&needle)?;
    Some((rest[..at].trim(), rest[at + needle.len()..].trim()))
}

fn status_named(s: &str) -> Option<TaskStatus> {
    match s.trim().trim_end_matches(['.', '!']).to_lowercase().replace(['-', '_'], " ").as_str() {
        "done" | "complete" | "completed" | "finished" | "closed" => Some(TaskStatus::Done),
        "in progress" | "started" | "doing" | "wip" => Some(TaskStatus::InProgress),
        "todo" | "to do" | "open" | "not started" => Some(TaskStatus::Todo),
        _ => None,
    }
}

fn priority_named(s: &str) -> Option<Priority> {
    match s.trim().trim_end_matches(['.', '!']).to_lowercase().as_str() {
        "high" | "urgent" | "top" => Some(Priority::High),
        "medium" | "normal" => Some(Priority::Medium),
        "low" => Some(Priority::Low),
        _ => None,
    }
}

fn date_named(s: &str, today: NaiveDate) -> Option<NaiveDate> {
    let s = s.trim().trim_end_matches(['.', '!']);
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .or_else(|| crate::llm::builtin::dates::find(&format!("by {s}"), today).map(|f| f.date))
}

/// Case-insensitive prefix strip that keeps the rest's own case.
fn after<'a>(line: &'a str, prefixes: &[&str]) -> Option<&'a str> {
    // ASCII lower-casing keeps byte offsets, so a prefix's length indexes `line` too.
    let lower = line.to_ascii_lowercase();
    prefixes.iter().find(|p| lower.starts_with(*p)).map(|p| line[p.len()..].trim_start_matches(':').trim())
}

fn line(line: &str, today: NaiveDate) -> Option<Result<Command, String>> {
    // A question, unless the question mark ends the text a command carries after its colon
    // ("comment on X: done yet?").
    if line.split_once(':').map_or(line, |(head, _)| head).trim_end().ends_with('?') {
        return None;
    }
    let line = line.trim_start_matches(['-', '*', '•']).trim();
    if let Some(title) = after(line, &["create a task", "create task", "add a task", "add task", "new task", "create "])
    {
        let title = title.trim_end_matches('.').trim();
        return Some(if title.is_empty() {
            Err("a new task needs a title".into())
        } else {
            Ok(Command::Create { title: title.into() })
        });
    }
    if let Some(rest) = after(line, &["unassign "]) {
        return Some(Ok(Command::Assign { task: task_ref(rest), to: None }));
    }
    if let Some(rest) = after(line, &["assign "]) {
        return Some(match split_last(rest, "to") {
            Some((task, who)) if !task.is_empty() && !who.is_empty() => Ok(Command::Assign {
                task: task_ref(task),
                to: Some(who.trim_start_matches('@').trim_end_matches('.').to_string()),
            }),
            _ => Err(format!("\"{line}\": say \"assign <task> to <person>\"")),
        });
    }
    for (verbs, status) in [
        (&["close ", "complete ", "finish "][..], TaskStatus::Done),
        (&["start "][..], TaskStatus::InProgress),
        (&["reopen "][..], TaskStatus::Todo),
    ] {
        if let Some(rest) = after(line, verbs) {
            return Some(Ok(Command::Status { task: task_ref(rest), status }));
        }
    }
    if let Some(rest) = after(line, &["mark ", "move "]) {
        let split = split_last(rest, "as").or_else(|| split_last(rest, "to")).or_else(|| {
            // "mark X done"
            let at = rest.rfind(' ')?;
            Some((&rest[..at], &rest[at + 1..]))
        });
        return Some(match split.and_then(|(task, s)| Some((task, status_named(s)?))) {
            Some((task, status)) => Ok(Command::Status { task: task_ref(task), status }),
            None => Err(format!("\"{line}\": the status is one of todo, in progress, done")),
        });
    }
    if let Some(rest) = after(line, &["set the priority of ", "set priority of ", "change the priority of "]) {
        return Some(match split_last(rest, "to").and_then(|(task, p)| Some((task, priority_named(p)?))) {
            Some((task, priority)) => Ok(Command::Priority { task: task_ref(task), priority }),
            None => Err(format!("\"{line}\": the priority is one of low, medium, high")),
        });
    }
    if let Some(rest) = after(line, &["set the due date of ", "set due date of ", "change the due date of "]) {
        return Some(match split_last(rest, "to") {
            Some((task, when)) => match date_named(when, today) {
                Some(date) => Ok(Command::Due { task: task_ref(task), date: Some(date) }),
                None => Err(format!("\"{when}\" is not a date I can read (try 2026-12-24 or \"next friday\")")),
            },
            None => Err(format!("\"{line}\": say \"set the due date of <task> to <date>\"")),
        });
    }
    if let Some(rest) = after(line, &["clear the due date of ", "clear due date of ", "remove the due date of "]) {
        return Some(Ok(Command::Due { task: task_ref(rest), date: None }));
    }
    if let Some(rest) = after(line, &["remind ", "follow up on ", "follow up with ", "send a reminder about "]) {
        let rest = rest.strip_prefix("about ").unwrap_or(rest);
        let (task, message) = match rest.split_once(':') {
            Some((task, text)) if !text.trim().is_empty() => (task, Some(text.trim().to_string())),
            _ => (rest.trim_end_matches(':'), None),
        };
        return Some(if task.trim().is_empty() {
            Err(format!("\"{line}\": say \"remind <task>\" or \"follow up on <task>: <text>\""))
        } else {
            Ok(Command::FollowUp { task: task_ref(task), message })
        });
    }
    if let Some(rest) = after(line, &["comment on ", "add a comment to ", "add a comment on "]) {
        return Some(match rest.split_once(':') {
            Some((task, text)) if !text.trim().is_empty() => {
                Ok(Command::Comment { task: task_ref(task), content: text.trim().to_string() })
            }
            _ => Err(format!("\"{line}\": say \"comment on <task>: <text>\"")),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 2).expect("date")
    }

    fn title(t: &str) -> TaskRef {
        TaskRef::Title(t.into())
    }

    #[test]
    fn commands_are_read_one_per_line() {
        let id = "0190f0c8-7d3c-7b0a-8e55-1f2e3d4c5b6a";
        let text = format!(
            "create task Write the release notes\nassign \"Renew the certificate\" to @ana; mark {id} as in progress\n\
             close Ship the beta\nset the priority of Fix login to high\nset the due date of Fix login to 2026-12-24\n\
             clear the due date of Fix login\ncomment on Fix login: the SSO team is on it\nunassign Fix login\n\
             remind Fix login\nfollow up on Ship the beta: any news?"
        );
        let got: Vec<Command> = parse(&text, today()).into_iter().map(|c| c.expect("a command")).collect();
        assert_eq!(
            got,
            [
                Command::Create { title: "Write the release notes".into() },
                Command::Assign { task: title("Renew the certificate"), to: Some("ana".into()) },
                Command::Status { task: TaskRef::Id(id.into()), status: TaskStatus::InProgress },
                Command::Status { task: title("Ship the beta"), status: TaskStatus::Done },
                Command::Priority { task: title("Fix login"), priority: Priority::High },
                Command::Due { task: title("Fix login"), date: NaiveDate::from_ymd_opt(2026, 12, 24) },
                Command::Due { task: title("Fix login"), date: None },
                Command::Comment { task: title("Fix login"), content: "the SSO team is on it".into() },
                Command::Assign { task: title("Fix login"), to: None },
                Command::FollowUp { task: title("Fix login"), message: None },
                Command::FollowUp { task: title("Ship the beta"), message: Some("any news?".into()) },
            ]
        );
    }

    #[test]
    fn text_that_lower_cases_to_other_lengths_is_split_where_it_was_written() {
        assert_eq!(
            parse("assign İstanbul office move to Ayşe", today()),
            [Ok(Command::Assign { task: title("İstanbul office move"), to: Some("Ayşe".into()) })]
        );
        assert_eq!(
            parse("MARK ẞtraße İİİ as done", today()),
            [Ok(Command::Status { task: title("ẞtraße İİİ"), status: TaskStatus::Done })]
        );
    }

    #[test]
    fn questions_and_chatter_are_not_commands_and_bad_commands_say_why() {
        assert!(parse("what is blocking the beta?\nthanks, that helps", today()).is_empty());
        assert!(parse("close the deal with ACME?", today()).is_empty());
        let bad = parse("mark Fix login as finished-ish\nset the due date of Fix login to someday", today());
        assert_eq!(bad.len(), 2);
        assert!(bad.iter().all(Result::is_err), "{bad:?}");
        assert_eq!(
            parse("set the due date of Fix login to friday", today()),
            [Ok(Command::Due { task: title("Fix login"), date: NaiveDate::from_ymd_opt(2026, 12, 4) })]
        );
    }
}
