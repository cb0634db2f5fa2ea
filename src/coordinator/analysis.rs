//! Workspace analysis: findings computed from the tasks and projects alone, each with its
//! evidence and a recommendation, the same every time for the same data. A language model
//! may word the summary; it never decides what is found.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::domain::id::ProjectId;
use crate::domain::project::Project;
use crate::domain::task::{Priority, Task, TaskStatus};

/// Days in progress without a change before a task counts as stale.
pub const STALE_DAYS: i64 = 7;
/// Time spent past this multiple of the estimate is far over it.
pub const OVER_ESTIMATE_RATIO: f64 = 1.5;
/// Hours of work a person does on a working day, for a project's capacity.
const HOURS_PER_DAY: i64 = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Overdue,
    Stale,
    Overloaded,
    UnassignedHighPriority,
    ProjectAtRisk,
    OverEstimate,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct Finding {
    pub kind: Kind,
    pub task_ids: Vec<String>,
    pub assignee: Option<String>,
    #[schema(value_type = Option<String>)]
    pub project_id: Option<ProjectId>,
    /// The figures behind the finding.
    #[schema(value_type = Object)]
    pub evidence: Value,
    pub recommendation: String,
}

fn median(values: &mut [i64]) -> f64 {
    values.sort_unstable();
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2] as f64,
        n => (values[n / 2 - 1] + values[n / 2]) as f64 / 2.0,
    }
}

/// Working days (Monday to Friday) from `from` up to and including `to`.
fn working_days(from: NaiveDate, to: NaiveDate) -> i64 {
    use chrono::Datelike;
    from.iter_days().take_while(|d| *d <= to).filter(|d| d.weekday().number_from_monday() <= 5).count() as i64
}

/// Everything wrong with `tasks` (the open ones) and `projects` as of `now`, ordered by kind
/// and then by what they concern.
pub fn analyze(tasks: &[Task], projects: &[Project], now: DateTime<Utc>) -> Vec<Finding> {
    let today = now.date_naive();
    let open: Vec<&Task> = tasks.iter().filter(|t| t.status != TaskStatus::Done).collect();
    let mut findings = Vec::new();
    for task in &open {
        let base = |kind, evidence: Value, recommendation: String| Finding {
            kind,
            task_ids: vec![task.id.to_string()],
            assignee: task.assigned_to.clone(),
            project_id: Some(task.project_id.clone()),
            evidence,
            recommendation,
        };
        if let Some(due) = task.due_date.filter(|d| *d < today) {
            let days = (today - due).num_days();
            let who = task.assigned_to.as_deref().unwrap_or("its owner");
            findings.push(base(
                Kind::Overdue,
                json!({"due_date": due, "days_overdue": days, "status": task.status.as_str()}),
                format!(
                    "\"{}\" is {days} day(s) past its due date: agree a new date with {who} or re-plan it.",
                    task.title
                ),
            ));
        }
        let idle = (now - task.updated_at).num_days();
        if task.status == TaskStatus::InProgress && idle >= STALE_DAYS {
            findings.push(base(
                Kind::Stale,
                json!({"days_since_update": idle, "last_update": task.updated_at}),
                format!(
                    "\"{}\" has been in progress without a change for {idle} days: ask what is blocking it.",
                    task.title
                ),
            ));
        }
        if task.priority == Priority::High && task.assigned_to.is_none() {
            findings.push(base(
                Kind::UnassignedHighPriority,
                json!({"priority": "high", "status": task.status.as_str()}),
                format!("\"{}\" is high priority and nobody has it: assign it.", task.title),
            ));
        }
        if let Some(estimate) = task.time_estimate.filter(|e| *e > 0) {
            let ratio = task.time_spent as f64 / estimate as f64;
            if ratio > OVER_ESTIMATE_RATIO {
                findings.push(base(
                    Kind::OverEstimate,
                    json!({"estimate_minutes": estimate, "spent_minutes": task.time_spent,
                           "ratio": (ratio * 100.0).round() / 100.0}),
                    format!("\"{}\" has taken {:.1}× its estimate: re-estimate it or split it.", task.title, ratio),
                ));
            }
        }
    }
    findings.extend(workload(&open).overloaded);
    findings.extend(projects.iter().filter_map(|p| at_risk(p, &open, today)));
    findings.sort_by(|a, b| {
        (a.kind, &a.project_id, &a.assignee, &a.task_ids).cmp(&(b.kind, &b.project_id, &b.assignee, &b.task_ids))
    });
    findings
}

/// How open work is spread over the people who have it.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// Each assignee with their open task ids and estimated minutes, most tasks first.
    pub people: Vec<(String, Vec<String>, i64)>,
    /// Open tasks nobody has.
    pub unassigned: usize,
    pub median_open_tasks: f64,
    pub median_estimate_minutes: f64,
    /// Findings for those carrying far more than the team (see [`workload`]).
    pub overloaded: Vec<Finding>,
}

/// The load of each assignee among `open`, and who is overloaded: at least twice the
/// team's median and three more open tasks, or twice the median and a day more of
/// estimated work. A team needs three people for a median to mean anything.
pub fn workload(open: &[&Task]) -> Workload {
    let mut load: BTreeMap<&str, (Vec<String>, i64)> = BTreeMap::new();
    let mut unassigned = 0;
    for task in open {
        match task.assigned_to.as_deref() {
            Some(who) => {
                let entry = load.entry(who).or_default();
                entry.0.push(task.id.to_string());
                entry.1 += task.time_estimate.unwrap_or(0);
            }
            None => unassigned += 1,
        }
    }
    let median_count = median(&mut load.values().map(|(ids, _)| ids.len() as i64).collect::<Vec<_>>());
    let median_minutes = median(&mut load.values().map(|(_, m)| *m).collect::<Vec<_>>());
    let overloaded = if load.len() < 3 {
        Vec::new()
    } else {
        load.iter()
            .filter(|(_, (ids, minutes))| {
                let count = ids.len() as f64;
                let by_count = count >= 2.0 * median_count && count >= median_count + 3.0;
                let by_time = *minutes as f64 >= 2.0 * median_minutes && *minutes as f64 >= median_minutes + 8.0 * 60.0;
                by_count || by_time
            })
            .map(|(who, (ids, minutes))| Finding {
                kind: Kind::Overloaded,
                assignee: Some(who.to_string()),
                project_id: None,
                evidence: json!({"open_tasks": ids.len(), "team_median_open_tasks": median_count,
                                 "estimate_minutes": minutes, "team_median_estimate_minutes": median_minutes}),
                recommendation: format!(
                    "{who} has {} open tasks against a team median of {median_count}: move some to someone with room.",
                    ids.len()
                ),
                task_ids: ids.clone(),
            })
            .collect()
    };
    let mut people: Vec<(String, Vec<String>, i64)> =
        load.into_iter().map(|(who, (ids, minutes))| (who.to_string(), ids, minutes)).collect();
    people.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
    Workload {
        people,
        unassigned,
        median_open_tasks: median_count,
        median_estimate_minutes: median_minutes,
        overloaded,
    }
}

/// A project past its deadline with work open, or whose remaining estimate does not fit in
/// the working days left for the people on it.
fn at_risk(project: &Project, open: &[&Task], today: NaiveDate) -> Option<Finding> {
    if project.status != crate::domain::project::ProjectStatus::Active {
        return None;
    }
    let deadline = project.deadline?;
    let tasks: Vec<&&Task> = open.iter().filter(|t| t.project_id == project.id).collect();
    if tasks.is_empty() {
        return None;
    }
    let task_ids: Vec<String> = tasks.iter().map(|t| t.id.to_string()).collect();
    let remaining: i64 = tasks.iter().map(|t| (t.time_estimate.unwrap_or(0) - t.time_spent).max(0)).sum();
    let people = tasks.iter().filter_map(|t| t.assigned_to.as_deref()).collect::<std::collections::BTreeSet<_>>().len();
    let finding = |evidence: Value, recommendation: String| Finding {
        kind: Kind::ProjectAtRisk,
        task_ids: task_ids.clone(),
        assignee: None,
        project_id: Some(project.id.clone()),
        evidence,
        recommendation,
    };
    if deadline < today {
        let days = (today - deadline).num_days();
        return Some(finding(
            json!({"deadline": deadline, "days_past_deadline": days, "open_tasks": tasks.len(),
                   "remaining_estimate_minutes": remaining}),
            format!(
                "{} passed its deadline {days} day(s) ago with {} task(s) open: set a new date or cut scope.",
                project.name,
                tasks.len()
            ),
        ));
    }
    let capacity = working_days(today, deadline) * HOURS_PER_DAY * 60 * people.max(1) as i64;
    (remaining > capacity).then(|| {
        finding(
            json!({"deadline": deadline, "remaining_estimate_minutes": remaining, "capacity_minutes": capacity,
                   "people": people, "working_days_left": working_days(today, deadline)}),
            format!(
                "{} needs about {}h more work but has {}h of capacity before {deadline}: add people, cut scope or move the date.",
                project.name,
                remaining / 60,
                capacity / 60
            ),
        )
    })
}

/// A plain summary of the findings (what the builtin provider says).
pub fn plain_summary(findings: &[Finding], tasks: usize) -> String {
    if findings.is_empty() {
        return format!("Nothing needs attention across {tasks} open task(s).");
    }
    let mut counts: BTreeMap<Kind, usize> = BTreeMap::new();
    for f in findings {
        *counts.entry(f.kind).or_default() += 1;
    }
    let name = |k: Kind| match k {
        Kind::Overdue => "overdue",
        Kind::Stale => "stale in progress",
        Kind::Overloaded => "overloaded assignee(s)",
        Kind::UnassignedHighPriority => "high priority without an assignee",
        Kind::ProjectAtRisk => "project(s) at risk",
        Kind::OverEstimate => "far over estimate",
    };
    let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {}", name(*k))).collect();
    format!("{} finding(s) across {tasks} open task(s): {}.", findings.len(), parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::project::ProjectStatus;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).expect("time")
    }

    fn task(id: &str, project: &str) -> Task {
        Task {
            id: id.into(),
            project_id: project.into(),
            title: format!("task {id}"),
            description: String::new(),
            status: TaskStatus::Todo,
            priority: Priority::Medium,
            assigned_to: Some("ana".into()),
            time_estimate: None,
            time_spent: 0,
            due_date: None,
            labels: Vec::new(),
            created_at: at("2026-11-30T09:00:00Z"),
            updated_at: at("2026-12-01T09:00:00Z"),
        }
    }

    fn project(id: &str, deadline: &str) -> Project {
        Project {
            id: id.into(),
            name: format!("project {id}"),
            description: String::new(),
            status: ProjectStatus::default(),
            deadline: NaiveDate::parse_from_str(deadline, "%Y-%m-%d").ok(),
            auto_follow_ups: false,
            duplicate_bands: None,
            intake_mode: Default::default(),
            notify_requester_on: Vec::new(),
            created_at: at("2026-11-01T09:00:00Z"),
            updated_at: at("2026-11-01T09:00:00Z"),
        }
    }

    #[test]
    fn each_kind_is_found_from_its_figures_and_nothing_else() {
        let now = at("2026-12-02T12:00:00Z"); // a Wednesday
        let mut tasks = Vec::new();
        let mut overdue = task("overdue", "p1");
        overdue.due_date = NaiveDate::from_ymd_opt(2026, 11, 29);
        tasks.push(overdue);
        let mut due_today = task("due-today", "p1");
        due_today.due_date = NaiveDate::from_ymd_opt(2026, 12, 2);
        tasks.push(due_today);
        let mut stale = task("stale", "p1");
        stale.status = TaskStatus::InProgress;
        stale.updated_at = at("2026-11-24T09:00:00Z");
        tasks.push(stale);
        let mut fresh = task("fresh", "p1");
        fresh.status = TaskStatus::InProgress;
        tasks.push(fresh);
        let mut urgent = task("urgent", "p1");
        urgent.priority = Priority::High;
        urgent.assigned_to = None;
        tasks.push(urgent);
        let mut over = task("over", "p1");
        over.time_estimate = Some(60);
        over.time_spent = 120;
        tasks.push(over);
        let mut done_late = task("done-late", "p1");
        done_late.status = TaskStatus::Done;
        done_late.due_date = NaiveDate::from_ymd_opt(2026, 11, 1);
        tasks.push(done_late);
        let found = analyze(&tasks, &[], now);
        let kinds: Vec<(Kind, &str)> = found.iter().map(|f| (f.kind, f.task_ids[0].as_str())).collect();
        assert_eq!(
            kinds,
            [
                (Kind::Overdue, "overdue"),
                (Kind::Stale, "stale"),
                (Kind::UnassignedHighPriority, "urgent"),
                (Kind::OverEstimate, "over")
            ]
        );
        assert_eq!(found[0].evidence["days_overdue"], 3);
        assert_eq!(found[1].evidence["days_since_update"], 8);
        assert_eq!(found[3].evidence["ratio"], 2.0);
    }

    #[test]
    fn overload_is_against_the_team_median() {
        let now = at("2026-12-02T12:00:00Z");
        let mut tasks = Vec::new();
        for (who, n) in [("ana", 1), ("bo", 2), ("cy", 2), ("dee", 7)] {
            for i in 0..n {
                let mut t = task(&format!("{who}-{i}"), "p1");
                t.assigned_to = Some(who.into());
                tasks.push(t);
            }
        }
        let found = analyze(&tasks, &[], now);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].kind, found[0].assignee.as_deref()), (Kind::Overloaded, Some("dee")));
        assert_eq!(found[0].evidence["team_median_open_tasks"], 2.0);
        assert_eq!(found[0].task_ids.len(), 7);
        // Two people are no team to compare with.
        let pair: Vec<Task> = tasks
            .iter()
            .filter(|t| t.assigned_to.as_deref() != Some("bo") && t.assigned_to.as_deref() != Some("cy"))
            .cloned()
            .collect();
        assert!(analyze(&pair, &[], now).is_empty());
    }

    #[test]
    fn projects_are_at_risk_past_their_deadline_or_short_of_capacity() {
        let now = at("2026-12-02T12:00:00Z"); // Wednesday: Wed, Thu, Fri left this week
        let mut late = task("late", "past");
        late.time_estimate = Some(60);
        let mut big = task("big", "tight");
        big.time_estimate = Some(20 * 60); // 20h for one person with 3 days × 6h
        let mut small = task("small", "fine");
        small.time_estimate = Some(10 * 60);
        let projects = [project("past", "2026-11-30"), project("tight", "2026-12-04"), project("fine", "2026-12-04")];
        let found = analyze(&[late, big, small], &projects, now);
        let risky: Vec<(&str, &Value)> =
            found.iter().map(|f| (f.project_id.as_deref().unwrap_or_default(), &f.evidence)).collect();
        assert_eq!(risky.len(), 2, "{found:?}");
        assert_eq!(risky[0].0, "past");
        assert_eq!(risky[0].1["days_past_deadline"], 2);
        assert_eq!(risky[1].0, "tight");
        assert_eq!(
            (risky[1].1["capacity_minutes"].as_i64(), risky[1].1["working_days_left"].as_i64()),
            (Some(18 * 60), Some(3))
        );
        assert_eq!(plain_summary(&found, 3), "2 finding(s) across 3 open task(s): 2 project(s) at risk.");
    }
}
