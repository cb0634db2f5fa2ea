//! Chat with the coordinator: answers grounded in the tasks a question is about, citing
//! their ids, and changes proposed as actions that wait for a person. Nothing said in a
//! chat changes the workspace by itself.

use std::collections::BTreeSet;

use chrono::{NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::analysis::{self, Workload};
use super::commands::{self, Command, TaskRef};
use super::question::{self, Intent, Question};
use super::retrieve::{self, MAX_HITS};
use super::{Coordinator, CoordinatorError, MAX_TASKS, answer};
use crate::dedup::text::word_terms;
use crate::domain::comment::Comment;
use crate::domain::coordinator::{self as proposals, Action, Chat, Conversation, Proposal, Role};
use crate::domain::id::{ProjectId, TaskId, TenantId};
use crate::domain::list::{Page, TaskFilter, TaskQuery, TaskSort, TaskSortField};
use crate::domain::project::Project;
use crate::domain::task::Task;
use crate::domain::tenant::Caller;
use crate::store::coordinator::Exchange;

/// How many matching comments one answer reads.
const MAX_COMMENTS: i64 = 200;
/// How many people a question's names are matched against.
const MAX_ASSIGNEES: i64 = 10_000;
/// How many of the latest changed tasks a question about changes reads.
const MAX_CHANGED: u32 = 500;
/// How many earlier questions a pronoun ("her tasks") looks back through for a name.
const LOOK_BACK: usize = 10;

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
    /// The open tasks in scope.
    pub tasks: Vec<Task>,
    /// The tasks the answer is about, best first, at most [`MAX_HITS`].
    pub hits: Vec<Task>,
    /// How many tasks answer the question in all (`hits` stops at [`MAX_HITS`]).
    pub matched: usize,
    pub question: Question,
    pub projects: Vec<Project>,
    /// Comments that mention what the question is about.
    pub comments: Vec<Comment>,
    /// Everyone the tenant's tasks are assigned to.
    pub assignees: Vec<String>,
    /// For a question about load: how the open work in scope is spread.
    pub workload: Option<Workload>,
}

impl Coordinator {
    pub async fn chat(&self, caller: &Caller, chat: Chat) -> Result<ChatAnswer, CoordinatorError> {
        let tenant = &caller.tenant_id;
        // Read once: it must exist, and a model is given its history.
        let earlier = match &chat.conversation_id {
            Some(id) => Some(
                self.store.get_conversation(tenant, id).await.map_err(CoordinatorError::or_missing("conversation"))?,
            ),
            None => None,
        };
        let today = Utc::now().date_naive();
        let grounding = self.ground(tenant, chat.project_id.as_ref(), &chat.message, earlier.as_ref(), today).await?;
        if let Some(answer) = self.ask_model(caller, &chat, earlier.as_ref(), &grounding, today).await? {
            return Ok(answer);
        }
        let parsed = commands::parse(&chat.message, today);
        let (proposals, problems) = self.proposals(tenant, chat.project_id.as_ref(), &grounding.tasks, parsed).await?;
        let (answer, cited) = if proposals.is_empty() && problems.is_empty() {
            // A question not understood is answered with nothing in it: there is nothing to cite.
            let cited = match grounding.question.intent {
                Intent::Unknown => Vec::new(),
                _ => grounding.hits.iter().map(|t| t.id.to_string()).collect(),
            };
            (answer::builtin(&grounding), cited)
        } else {
            let cited: BTreeSet<String> = proposals.iter().filter_map(|p| p.task_id().map(TaskId::to_string)).collect();
            (describe_proposals(&proposals, &problems), cited.into_iter().collect())
        };
        self.record(caller, &chat, &answer, cited, &proposals, "builtin").await
    }

    /// The open tasks in scope and those the message is about.
    pub(super) async fn ground(
        &self,
        tenant: &TenantId,
        project_id: Option<&ProjectId>,
        message: &str,
        earlier: Option<&Conversation>,
        today: NaiveDate,
    ) -> Result<Grounding, CoordinatorError> {
        let projects = match project_id {
            Some(id) => {
                vec![self.store.get_project(tenant, id).await.map_err(CoordinatorError::or_missing("project"))?]
            }
            None => super::all_projects(&self.store, tenant).await?,
        };
        let tasks = self.store.open_tasks(tenant, project_id, MAX_TASKS).await?;
        // People are the tenant's, not only the scope's: someone with no task in this
        // project is still someone, not a topic.
        let assignees = self.store.assignees(tenant, MAX_ASSIGNEES).await?;
        let names: Vec<&str> = assignees.iter().map(String::as_str).collect();
        let mut question = question::understand(message, &names, today);
        if question.pronoun.is_some()
            && let Some(people) = earlier.and_then(|c| named_before(c, &names, today))
        {
            question.refer_to(people);
        }
        let terms: Vec<String> = question.words_to_check().iter().flat_map(|w| word_terms(w)).collect();
        let words = retrieve::written_words(message, &terms, 5);
        let comments = self.store.comments_about(tenant, &[], &words, MAX_COMMENTS).await?;
        let changed = match (question.intent, question.since) {
            (Intent::Changes(_), Some(since)) => self.changed_since(tenant, project_id, since).await?,
            _ => Vec::new(),
        };
        let known =
            retrieve::mentioned(&terms, &tasks.iter().chain(&changed).collect::<Vec<_>>(), &projects, &comments);
        let question = question.settle(|t| known.contains(t));
        let mut workload = None;
        let found: Vec<&Task> = match question.intent {
            Intent::Changes(_) => retrieve::changed(&question, &changed, &projects, &comments),
            Intent::Load => {
                let spread = analysis::workload(&retrieve::due_in_window(&question, &tasks));
                // Listed: the named people's tasks, else the overloaded people's.
                let mut whose = question.clone();
                if whose.people.is_empty() {
                    whose.people = spread.overloaded.iter().filter_map(|f| f.assignee.clone()).collect();
                }
                let found = if whose.people.is_empty() {
                    Vec::new()
                } else {
                    retrieve::rank(&whose, &tasks, &projects, &comments, today)
                };
                workload = Some(spread);
                found
            }
            _ => retrieve::rank(&question, &tasks, &projects, &comments, today),
        };
        let matched = found.len();
        let hits = found.into_iter().take(MAX_HITS).cloned().collect();
        Ok(Grounding { tasks, hits, matched, question, projects, comments, assignees, workload })
    }

    /// The tasks (open or done) of the scope changed on or after the start of `since`,
    /// latest first, at most [`MAX_CHANGED`].
    async fn changed_since(
        &self,
        tenant: &TenantId,
        project_id: Option<&ProjectId>,
        since: NaiveDate,
    ) -> Result<Vec<Task>, CoordinatorError> {
        let from = since.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or_else(Utc::now);
        let query = TaskQuery {
            filter: TaskFilter { project_id: project_id.cloned(), ..TaskFilter::default() },
            sort: TaskSort { field: TaskSortField::UpdatedAt, descending: true },
            page: Page::first(MAX_CHANGED),
        };
        let mut tasks = self.store.list_tasks(tenant, &query).await?;
        tasks.truncate(MAX_CHANGED as usize);
        tasks.retain(|t| t.updated_at >= from);
        Ok(tasks)
    }

    /// The proposals of the builtin commands, and what could not be proposed and why.
    async fn proposals(
        &self,
        tenant: &TenantId,
        project_id: Option<&ProjectId>,
        open: &[Task],
        parsed: Vec<Result<Command, String>>,
    ) -> Result<(Vec<Proposal>, Vec<String>), CoordinatorError> {
        let mut proposals = Vec::new();
        let mut problems = Vec::new();
        for command in parsed {
            let proposal = match command {
                Err(why) => Err(why),
                Ok(Command::Create { title }) => Ok(Proposal::CreateTask(proposals::CreateTask {
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
                    .map(|t| Proposal::Assign(proposals::Assign { task_id: t.id, assigned_to: to })),
                Ok(Command::Status { task, status }) => self
                    .resolve(tenant, open, &task)
                    .await?
                    .map(|t| Proposal::SetStatus(proposals::SetStatus { task_id: t.id, status })),
                Ok(Command::Priority { task, priority }) => self
                    .resolve(tenant, open, &task)
                    .await?
                    .map(|t| Proposal::SetPriority(proposals::SetPriority { task_id: t.id, priority })),
                Ok(Command::Due { task, date }) => self.resolve(tenant, open, &task).await?.map(|t| {
                    Proposal::SetDueDate(proposals::SetDueDate { task_id: t.id, due_date: date.map(|d| d.to_string()) })
                }),
                Ok(Command::Comment { task, content }) => self
                    .resolve(tenant, open, &task)
                    .await?
                    .map(|t| Proposal::Comment(proposals::CommentOn { task_id: t.id, content })),
                Ok(Command::FollowUp { task, message }) => self.resolve(tenant, open, &task).await?.map(|t| {
                    let message = message.unwrap_or_else(|| default_reminder(&t));
                    Proposal::SendFollowUp(proposals::FollowUp { task_id: t.id, message })
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
    pub(super) async fn target_project(
        &self,
        tenant: &TenantId,
        scope: Option<&ProjectId>,
    ) -> Result<ProjectId, CoordinatorError> {
        match scope {
            Some(p) => Ok(p.clone()),
            None => Ok(self.store.default_project(tenant).await?),
        }
    }

    /// The task `r` names: any of the tenant's tasks by id, an open one by title.
    async fn resolve(
        &self,
        tenant: &TenantId,
        open: &[Task],
        r: &TaskRef,
    ) -> Result<Result<Task, String>, CoordinatorError> {
        match r {
            TaskRef::Id(id) => match self.store.get_task(tenant, &TaskId::from(id)).await {
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
        let tenant = &caller.tenant_id;
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

/// The people the latest earlier question that named someone named: whom "her" refers to.
fn named_before(c: &Conversation, names: &[&str], today: NaiveDate) -> Option<Vec<String>> {
    c.turns
        .iter()
        .rev()
        .filter(|t| t.role == Role::User)
        .take(LOOK_BACK)
        .map(|t| question::understand(&t.content, names, today).people)
        .find(|people| !people.is_empty())
}

/// What a reminder asked for in a chat says when the request gives no text.
fn default_reminder(t: &Task) -> String {
    let who = t.assigned_to.as_deref().map(|a| format!("@{}, ", a.trim_start_matches('@'))).unwrap_or_default();
    let due = t.due_date.map(|d| format!(" (due {d})")).unwrap_or_default();
    capitalize(&format!("{who}a reminder about \"{}\"{due}: how is it going?", t.title))
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
