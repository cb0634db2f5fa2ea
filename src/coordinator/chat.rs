//! Chat with the coordinator: answers grounded in the tasks a question is about, citing
//! their ids, and changes proposed as actions that wait for a person. Nothing said in a
//! chat changes the workspace by itself.

use std::collections::BTreeSet;

use chrono::{NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::commands::{self, Command, TaskRef};
use super::retrieve::{self, Question, Window};
use super::{Coordinator, CoordinatorError, MAX_TASKS};
use crate::domain::ai::{self, Action, Chat, Proposal};
use crate::domain::comment::Comment;
use crate::domain::project::Project;
use crate::domain::task::{Task, TaskStatus};
use crate::domain::tenant::Caller;
use crate::store::ai::Exchange;

/// How many matching comments one answer reads.
const MAX_COMMENTS: i64 = 200;

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatAnswer {
    pub conversation_id: String,
    pub answer: String,
    /// The tasks the answer is based on.
    pub cited_task_ids: Vec<String>,
    /// Ids of the actions this answer proposed; each waits for approval.
    pub actions: Vec<String>,
    /// The same actions in full.
    pub proposed: Vec<Action>,
    /// `builtin`, or `ai:{provider}` when a model wrote the answer.
    pub answered_by: String,
}

/// What the workspace holds for one question.
pub(super) struct Grounding {
    pub tasks: Vec<Task>,
    pub hits: Vec<Task>,
    pub question: Question,
    pub projects: Vec<Project>,
    /// Comments that mention what the question is about.
    pub comments: Vec<Comment>,
}

impl Coordinator {
    pub async fn chat(&self, caller: &Caller, chat: Chat) -> Result<ChatAnswer, CoordinatorError> {
        let tenant = caller.tenant_id.as_str();
        // Read once: it must exist, and a model is given its history.
        let earlier = match &chat.conversation_id {
            Some(id) => Some(
                self.store.get_conversation(tenant, id).await.map_err(CoordinatorError::or_missing("conversation"))?,
            ),
            None => None,
        };
        let today = Utc::now().date_naive();
        let grounding = self.ground(tenant, chat.project_id.as_deref(), &chat.message, today).await?;
        if let Some(answer) = self.ask_model(caller, &chat, earlier.as_ref(), &grounding, today).await? {
            return Ok(answer);
        }
        let parsed = commands::parse(&chat.message, today);
        let (proposals, problems) =
            self.proposals(tenant, chat.project_id.as_deref(), &grounding.tasks, parsed).await?;
        let (answer, cited) = if proposals.is_empty() && problems.is_empty() {
            (describe_hits(&grounding.question, &grounding.hits), grounding.hits.iter().map(|t| t.id.clone()).collect())
        } else {
            let cited: BTreeSet<String> = proposals.iter().filter_map(|p| p.task_id().map(str::to_string)).collect();
            (describe_proposals(&proposals, &problems), cited.into_iter().collect())
        };
        self.record(caller, &chat, &answer, cited, &proposals, "builtin").await
    }

    /// The open tasks in scope and those the message is about.
    pub(super) async fn ground(
        &self,
        tenant: &str,
        project_id: Option<&str>,
        message: &str,
        today: NaiveDate,
    ) -> Result<Grounding, CoordinatorError> {
        let projects = match project_id {
            Some(id) => {
                vec![self.store.get_project(tenant, id).await.map_err(CoordinatorError::or_missing("project"))?]
            }
            None => super::all_projects(&self.store, tenant).await?,
        };
        let tasks = self.store.open_tasks(tenant, project_id, MAX_TASKS).await?;
        let assignees: BTreeSet<&str> = tasks.iter().filter_map(|t| t.assigned_to.as_deref()).collect();
        let question = retrieve::understand(message, &assignees.into_iter().collect::<Vec<_>>(), today);
        let words = retrieve::written_words(message, &question.terms, 5);
        let comments = self.store.comments_about(tenant, &[], &words, MAX_COMMENTS).await?;
        let hits = retrieve::rank(&question, &tasks, &projects, &comments, today).into_iter().cloned().collect();
        Ok(Grounding { tasks, hits, question, projects, comments })
    }

    /// The proposals of the builtin commands, and what could not be proposed and why.
    async fn proposals(
        &self,
        tenant: &str,
        project_id: Option<&str>,
        open: &[Task],
        parsed: Vec<Result<Command, String>>,
    ) -> Result<(Vec<Proposal>, Vec<String>), CoordinatorError> {
        let mut proposals = Vec::new();
        let mut problems = Vec::new();
        for command in parsed {
            let proposal = match command {
                Err(why) => Err(why),
                Ok(Command::Create { title }) => Ok(Proposal::CreateTask(ai::CreateTask {
                    project_id: self.target_project(tenant, project_id).await?,
                    title,
                    description: None,
                    priority: None,
                    assigned_to: None,
                    due_date: None,
                    labels: None,
                })),
                Ok(Command::Assign { task, to }) => self
                    .resolve(tenant, open, &task)
                    .await?
                    .map(|t| Proposal::Assign(ai::Assign { task_id: t.id, assigned_to: to })),
                Ok(Command::Status { task, status }) => self
                    .resolve(tenant, open, &task)
                    .await?
                    .map(|t| Proposal::SetStatus(ai::SetStatus { task_id: t.id, status })),
                Ok(Command::Priority { task, priority }) => self
                    .resolve(tenant, open, &task)
                    .await?
                    .map(|t| Proposal::SetPriority(ai::SetPriority { task_id: t.id, priority })),
                Ok(Command::Due { task, date }) => self.resolve(tenant, open, &task).await?.map(|t| {
                    Proposal::SetDueDate(ai::SetDueDate { task_id: t.id, due_date: date.map(|d| d.to_string()) })
                }),
                Ok(Command::Comment { task, content }) => self
                    .resolve(tenant, open, &task)
                    .await?
                    .map(|t| Proposal::Comment(ai::CommentOn { task_id: t.id, content })),
                Ok(Command::FollowUp { task, message }) => self.resolve(tenant, open, &task).await?.map(|t| {
                    let message = message.unwrap_or_else(|| default_reminder(&t));
                    Proposal::SendFollowUp(ai::FollowUp { task_id: t.id, message })
                }),
            };
            match proposal.and_then(|p| p.change().map(|_| p).map_err(|e| e.to_string())) {
                Ok(p) => proposals.push(p),
                Err(why) => problems.push(why),
            }
        }
        Ok((proposals, problems))
    }

    /// The project new tasks go to: the one in scope, else the tenant's default.
    pub(super) async fn target_project(&self, tenant: &str, scope: Option<&str>) -> Result<String, CoordinatorError> {
        match scope {
            Some(p) => Ok(p.to_string()),
            None => Ok(self.store.default_project(tenant).await?),
        }
    }

    /// The task `r` names: any of the tenant's tasks by id, an open one by title.
    async fn resolve(
        &self,
        tenant: &str,
        open: &[Task],
        r: &TaskRef,
    ) -> Result<Result<Task, String>, CoordinatorError> {
        match r {
            TaskRef::Id(id) => match self.store.get_task(tenant, id).await {
                Ok(task) => Ok(Ok(task)),
                Err(crate::store::StoreError::NotFound) => Ok(Err(format!("there is no task {id}"))),
                Err(e) => Err(e.into()),
            },
            TaskRef::Title(title) => Ok(by_title(open, title).cloned()),
        }
    }

    /// Keeps the exchange and answers with what was kept.
    pub(super) async fn record(
        &self,
        caller: &Caller,
        chat: &Chat,
        answer: &str,
        cited: Vec<String>,
        proposals: &[Proposal],
        answered_by: &str,
    ) -> Result<ChatAnswer, CoordinatorError> {
        let tenant = caller.tenant_id.as_str();
        let started_by = format!("key:{}", caller.key_id);
        let exchange = Exchange {
            conversation_id: chat.conversation_id.as_deref(),
            started_by: &started_by,
            question: &chat.message,
            answer,
            cited_task_ids: &cited,
            proposals,
            proposed_by: answered_by,
        };
        let recorded = self
            .store
            .record_exchange(tenant, &exchange)
            .await
            .map_err(CoordinatorError::or_missing("conversation"))?;
        Ok(ChatAnswer {
            conversation_id: recorded.conversation_id,
            answer: answer.to_string(),
            cited_task_ids: cited,
            actions: recorded.actions.iter().map(|a| a.id.clone()).collect(),
            proposed: recorded.actions,
            answered_by: answered_by.to_string(),
        })
    }
}

/// The open task titled `title`: exactly (ignoring case), else the only one containing it.
fn by_title<'a>(open: &'a [Task], title: &str) -> Result<&'a Task, String> {
    let wanted = title.trim().to_lowercase();
    if wanted.is_empty() {
        return Err("name the task by its title or id".into());
    }
    if let Some(t) = open.iter().find(|t| t.title.to_lowercase() == wanted) {
        return Ok(t);
    }
    let containing: Vec<&Task> = open.iter().filter(|t| t.title.to_lowercase().contains(&wanted)).collect();
    match containing.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("no open task is titled \"{title}\"")),
        many => Err(format!(
            "\"{title}\" matches {} open tasks ({}); name one by its id",
            many.len(),
            many.iter().take(5).map(|t| t.id.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// What a reminder asked for in a chat says when the request gives no text.
fn default_reminder(t: &Task) -> String {
    let who = t.assigned_to.as_deref().map(|a| format!("@{}, ", a.trim_start_matches('@'))).unwrap_or_default();
    let due = t.due_date.map(|d| format!(" (due {d})")).unwrap_or_default();
    capitalize(&format!("{who}a reminder about \"{}\"{due}: how is it going?", t.title))
}

/// One line per task: what a person needs to see at a glance.
fn task_line(t: &Task) -> String {
    let who = t.assigned_to.as_deref().map(|a| format!("assigned to {a}")).unwrap_or_else(|| "unassigned".into());
    let due = t.due_date.map(|d| format!(", due {d}")).unwrap_or_default();
    format!("- {} [{}]: {}, {} priority, {who}{due}", t.title, t.id, status_words(t.status), t.priority.as_str())
}

fn status_words(s: TaskStatus) -> &'static str {
    match s {
        TaskStatus::Todo => "to do",
        TaskStatus::InProgress => "in progress",
        TaskStatus::Done => "done",
    }
}

fn describe_hits(q: &Question, hits: &[Task]) -> String {
    let mut what = String::from("open tasks");
    if let Some(p) = &q.person {
        what.push_str(&format!(" assigned to {p}"));
    }
    match q.window {
        Some(Window::DueBy(day)) => what.push_str(&format!(" due by {day} (or in progress without a due date)")),
        Some(Window::Overdue(_)) => what.push_str(" past their due date"),
        None => {}
    }
    if !q.terms.is_empty() {
        what.push_str(&format!(" about {}", q.terms.join(", ")));
    }
    if q.blocking {
        what.push_str(", blocked or high priority first");
    }
    if hits.is_empty() {
        return format!("I found no {what}.");
    }
    let intro = if q.is_open_ended() { "The most pressing open tasks".to_string() } else { capitalize(&what) };
    let lines: Vec<String> = hits.iter().map(task_line).collect();
    format!("{intro} ({}):\n{}", hits.len(), lines.join("\n"))
}

pub(super) fn describe_proposals(proposals: &[Proposal], problems: &[String]) -> String {
    let mut out = String::new();
    if !proposals.is_empty() {
        out.push_str(&format!(
            "I propose {} action(s); nothing changes until someone approves each one:\n",
            proposals.len()
        ));
        for p in proposals {
            out.push_str(&format!("- {}\n", p.describe()));
        }
    }
    if !problems.is_empty() {
        out.push_str("I could not propose:\n");
        for why in problems {
            out.push_str(&format!("- {why}\n"));
        }
    }
    out.trim_end().to_string()
}

pub(super) fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
