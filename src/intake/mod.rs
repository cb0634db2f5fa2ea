//! Intake: from a chat message to a task. Enrich the message with a language model, look
//! for the same work among the project's tasks, then either create the task or add the
//! request to the existing one, all as one durable, idempotent job.

pub mod answer;
pub mod deferred;
pub mod mailbox;
pub mod triage;
mod turns;

use std::collections::HashMap;
use std::sync::Arc;

use crate::dedup::{Decision, Finder, Settings, judge};
use crate::domain::id::TenantId;
use crate::domain::message::{Message, NewMessage, TaskDraft};
use crate::domain::project::IntakeMode;
use crate::domain::task::{NewTask, TaskStatus};
use crate::jobs::{JobContext, JobError, JobKind, NewJob, Registry};
use crate::llm::{DraftRequest, JudgeRequest, JudgedTask, Sameness, WithFallback};
use crate::store::{Created, Outcome, Store, StoreError};

/// The `intake.process` job: message `message_id` to its outcome.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ProcessMessage {
    pub message_id: String,
}

impl JobKind for ProcessMessage {
    const KIND: &'static str = "intake.process";

    fn idempotency_key(&self) -> String {
        format!("intake:{}", self.message_id)
    }
}

pub use deferred::FetchRequest;

pub struct Intake {
    store: Store,
    llm: Arc<WithFallback>,
    dedup: Arc<Finder>,
    turns: turns::Turns,
}

/// The job that processes message `message_id`, to be written with the message.
pub fn process_job(message_id: &str) -> NewJob {
    ProcessMessage { message_id: message_id.to_string() }.job()
}

impl Intake {
    pub fn new(store: Store, llm: Arc<WithFallback>, dedup: Arc<Finder>) -> Arc<Self> {
        Arc::new(Intake { store, llm, dedup, turns: turns::Turns::default() })
    }

    /// Registers the processing job with the workers.
    pub fn register(self: &Arc<Self>, registry: &mut Registry) {
        let intake = self.clone();
        registry.handle(move |ctx: JobContext, job: ProcessMessage| {
            let intake = intake.clone();
            async move { intake.run_job(ctx, &job.message_id).await }
        });
        registry.handle(answer::run);
    }

    /// Accepts a message: persisted together with its processing job before this returns.
    pub async fn accept(&self, tenant_id: &TenantId, new: &NewMessage) -> Result<Message, StoreError> {
        let id = crate::domain::new_id();
        self.store.create_message(tenant_id, &id, new, &process_job(&id)).await
    }

    async fn run_job(&self, ctx: JobContext, message_id: &str) -> Result<(), JobError> {
        let outcome = self.process(&ctx.job.tenant_id, message_id).await;
        match outcome {
            Ok(()) => Ok(()),
            Err(err) => {
                if ctx.job.attempts >= ctx.job.max_attempts {
                    // Out of attempts: the message says so instead of staying "processing".
                    let _ = self.store.fail_message(&ctx.job.tenant_id, message_id, &err.to_string()).await;
                }
                Err(err)
            }
        }
    }

    /// Processes one message to exactly one outcome. Safe to run again after a crash at
    /// any point: the outcome and the task are written in one transaction, and a message
    /// that already has its outcome is left alone.
    pub async fn process(&self, tenant_id: &TenantId, message_id: &str) -> Result<(), JobError> {
        let message = match self.store.get_message(tenant_id, message_id).await {
            Ok(m) => m,
            Err(StoreError::NotFound) => return Ok(()), // deleted with its project
            Err(e) => return Err(JobError::Retry(e.to_string())),
        };
        if message.status.is_final() {
            return Ok(());
        }
        self.store.mark_processing(tenant_id, message_id).await.map_err(retry)?;

        let request = DraftRequest {
            text: message.text.clone(),
            author: message.author.clone(),
            channel: message.channel.clone(),
            source: message.source.clone(),
            received_at: message.received_at,
            link: message.thread_ref.clone().filter(|r| r.starts_with("http")),
        };
        // A message from a conversation is answered there, once its outcome is recorded.
        let reply = message.integration_id.as_ref().map(|_| crate::channels::outcome_job(message_id));
        // A new task goes to the project's trackers too, through the queue.
        let pushes: Vec<NewJob> = crate::tasks::tracker_integrations(&self.store, tenant_id, &message.project_id)
            .await
            .map_err(retry)?
            .iter()
            .map(|integration| crate::tasks::push_job(message_id, integration))
            .collect();
        // The model's verdicts outlive a round: the same candidates are not asked about twice.
        let mut judgements = Judgements::default();
        if self.llm.asks_a_model() {
            // A request plainly the same as a task of the project is merged before the model
            // is asked: a duplicate costs no model call. Anything less clear waits for it.
            // The same words said before were drafted then; that draft decides as the model's
            // would (the builtin one is a rougher guess).
            let quick = match self.store.repeated_draft(tenant_id, &message).await.map_err(retry)? {
                Some(earlier) => earlier,
                None => crate::llm::builtin::draft(&request),
            };
            let prepared = Prepared { message: &message, draft: &quick, reply: reply.as_ref(), pushes: &pushes };
            if let Step::Finished =
                self.decide_and_finish(tenant_id, &prepared, Decide::OnlyDuplicate, &mut judgements).await?
            {
                return Ok(());
            }
        }
        // The model is asked outside the project's critical section, so requests of one
        // project are drafted in parallel; only deciding and writing take turns.
        let draft = match judgements.early.take() {
            // A likely duplicate is judged while the draft is written, so the answer waits
            // for one model call, not two in a row.
            Some((ids, ask)) => {
                let (draft, verdicts) = tokio::join!(self.llm.draft(&request), self.llm.judge(&ask));
                judgements.heard(ids, verdicts);
                draft
            }
            None => self.llm.draft(&request).await,
        };
        let prepared = Prepared { message: &message, draft: &draft, reply: reply.as_ref(), pushes: &pushes };
        for _ in 0..MAX_DECISIONS {
            match self.decide_and_finish(tenant_id, &prepared, Decide::Any, &mut judgements).await? {
                Step::Finished => return Ok(()),
                // Models are asked outside the project's turn, then the decision is made again.
                Step::Needs(Need::Vector(query)) => judgements.vector = Some(self.dedup.embed_query(&query).await),
                Step::Needs(Need::Judgement(ids, ask)) => {
                    let verdicts = self.llm.judge(&ask).await;
                    judgements.heard(ids, verdicts);
                }
                Step::Stale | Step::Undecided => {}
            }
        }
        Err(JobError::Retry("the project's tasks kept changing while deciding; will decide again".into()))
    }

    /// Decides between duplicate and new against the project's tasks as they are now, and
    /// writes the outcome. `Stale` when another request of the project became a task after
    /// the decision was made: the decision must be made again. With `OnlyDuplicate`, only a
    /// merge is written (`Undecided` otherwise), and the model is not asked to judge: a clear
    /// duplicate costs no model call. With `Any`, a configured model judges the likely
    /// duplicates of a request in an `auto` project ([`crate::dedup::judge`]).
    async fn decide_and_finish(
        &self,
        tenant_id: &TenantId,
        p: &Prepared<'_>,
        only: Decide,
        judgements: &mut Judgements,
    ) -> Result<Step, JobError> {
        let (message, draft) = (p.message, p.draft);
        let message_id = message.id.as_str();
        // Held until the outcome is written; no model is asked while it is held.
        let _turn = self.turns.take(&message.project_id).await;
        // Read before the search: a create that commits after this moves the turn on.
        // The project's own duplicate bands come with it (the service's when it sets none).
        let project = match self.store.intake_turn(tenant_id, &message.project_id).await {
            Ok(project) => project,
            Err(StoreError::NotFound) => return self.project_gone(tenant_id, message_id).await,
            Err(e) => return Err(retry(e)),
        };
        let (turn, bands) = (project.turn, project.bands.map_or(self.dedup.settings(), Into::into));
        let query = query_text(draft, message);
        let (mut candidates, mut decision) =
            self.dedup.decide(tenant_id, &message.project_id, &query, bands, None).await.map_err(retry)?;
        if only == Decide::Any && !decision.is_duplicate() && self.dedup.finds_by_meaning() {
            // The request's vector is asked once a run, and not for a plain duplicate.
            match &judgements.vector {
                None => return Ok(Step::Needs(Need::Vector(query))),
                Some(Some(vector)) => {
                    (candidates, decision) = self
                        .dedup
                        .decide(tenant_id, &message.project_id, &query, bands, Some(vector))
                        .await
                        .map_err(retry)?;
                }
                Some(None) => {}
            }
        }
        if only == Decide::Any && project.mode == IntakeMode::Auto {
            if let Some((ids, ask)) = self.to_ask(tenant_id, message, bands, &decision, judgements).await? {
                return Ok(Step::Needs(Need::Judgement(ids, ask)));
            }
            if self.judged(message, &query, bands, &mut decision, judgements) != judge::Change::None {
                candidates = decision.reported();
            }
        }
        let score = (!candidates.is_empty()).then(|| crate::dedup::round(decision.score));
        let duplicate_of = candidates.first().filter(|_| decision.is_duplicate());
        // A duplicate becomes a comment on its task, written to the task's trackers too.
        let comment_id = crate::domain::new_id();
        let sync = duplicate_of.map(|best| crate::tasks::comment_job(&best.task_id, &comment_id));
        let outcome = Outcome {
            draft,
            candidates: &candidates,
            score,
            follow_up: p.reply,
            on_created: p.pushes,
            on_commented: sync.as_ref().map(|job| (comment_id.as_str(), job)),
        };

        if only == Decide::OnlyDuplicate && (project.mode == IntakeMode::Triage || duplicate_of.is_none()) {
            if project.mode == IntakeMode::Auto {
                judgements.early = self.to_ask(tenant_id, message, bands, &decision, judgements).await?;
            }
            return Ok(Step::Undecided);
        }
        if project.mode == IntakeMode::Triage {
            // A person decides; the candidates and draft wait with the request.
            return match self.store.finish_needs_triage(tenant_id, message_id, &outcome).await {
                Ok(()) | Err(StoreError::Conflict(_)) => {
                    tracing::info!(message_id, "request waits for triage");
                    Ok(Step::Finished)
                }
                Err(e) => Err(retry(e)),
            };
        }

        if let Some(best) = duplicate_of {
            let comment = also_requested(message);
            match self
                .store
                .finish_duplicate(tenant_id, message_id, &best.task_id, &comment, message.author.as_deref(), &outcome)
                .await
            {
                Ok(_) => {
                    tracing::info!(message_id, task_id = %best.task_id, score = decision.score, "request already tracked");
                    return Ok(Step::Finished);
                }
                Err(StoreError::Conflict(_)) => return Ok(Step::Finished),
                // The candidate was deleted in between: create a task instead.
                Err(StoreError::NotFound) if only == Decide::OnlyDuplicate => return Ok(Step::Undecided),
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(retry(e)),
            }
        }

        let task = NewTask {
            project_id: message.project_id.clone(),
            title: draft.title.clone(),
            description: draft.description.clone(),
            status: TaskStatus::Todo,
            priority: draft.priority,
            assigned_to: draft.assigned_to.clone(),
            time_estimate: None,
            time_spent: 0,
            due_date: draft.due_date,
            labels: draft.labels.clone(),
        };
        let possible = decision.verdict == crate::dedup::Verdict::PossibleDuplicate;
        match self.store.finish_created(tenant_id, message_id, &task, &outcome, turn, possible).await {
            Ok(Created::Task(task_id)) => {
                tracing::info!(message_id, %task_id, possible_duplicate = possible, "task created from message");
                Ok(Step::Finished)
            }
            Ok(Created::Stale) => {
                tracing::debug!(message_id, "another request became a task meanwhile; deciding again");
                Ok(Step::Stale)
            }
            Err(StoreError::Conflict(_)) => Ok(Step::Finished),
            Err(StoreError::NotFound) => self.project_gone(tenant_id, message_id).await,
            Err(e) => Err(retry(e)),
        }
    }

    /// The model's verdicts on the request's likely duplicates (asked already), applied to
    /// `decision`. After a failure (logged and counted by the model's wrapper) the offline
    /// decision stands for the run.
    fn judged(
        &self,
        message: &Message,
        query: &str,
        bands: Settings,
        decision: &mut Decision,
        judgements: &Judgements,
    ) -> judge::Change {
        let n = judge::to_judge(decision, bands);
        if n == 0 || judgements.failed || !self.llm.asks_a_model() {
            return judge::Change::None;
        }
        let ids = decision.candidates.iter().take(n).map(|c| c.id.as_str());
        let verdicts: Vec<Sameness> = ids.filter_map(|id| judgements.verdicts.get(id).copied()).collect();
        let before = decision.verdict;
        let change = judge::apply(decision, bands, query, &verdicts);
        tracing::info!(
            message_id = %message.id,
            verdicts = ?verdicts.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
            before = before.as_str(),
            after = decision.verdict.as_str(),
            "the model judged the likely duplicates"
        );
        change
    }

    /// What the model would be asked about `decision`'s likely duplicates: `None` when
    /// there is nothing to judge, no model, a failure earlier in the run, or every such
    /// candidate was judged already.
    async fn to_ask(
        &self,
        tenant_id: &TenantId,
        message: &Message,
        bands: Settings,
        decision: &Decision,
        judgements: &Judgements,
    ) -> Result<Option<(Vec<String>, JudgeRequest)>, JobError> {
        let n = judge::to_judge(decision, bands);
        if n == 0 || judgements.failed || !self.llm.asks_a_model() {
            return Ok(None);
        }
        let ids: Vec<String> = decision.candidates.iter().take(n).map(|c| c.id.clone()).collect();
        if ids.iter().all(|id| judgements.verdicts.contains_key(id)) {
            return Ok(None);
        }
        let wanted: Vec<&str> = ids.iter().map(String::as_str).collect();
        let found = self.store.tasks_by_ids(tenant_id, &wanted).await.map_err(retry)?;
        let tasks = decision.candidates.iter().take(n).map(|c| JudgedTask {
            title: c.title.clone(),
            // A task deleted meanwhile is judged by its title alone.
            description: found
                .iter()
                .find(|t| t.id.as_str() == c.id)
                .map(|t| t.description.clone())
                .unwrap_or_default(),
        });
        Ok(Some((ids, JudgeRequest { request: message.text.clone(), tasks: tasks.collect() })))
    }

    async fn project_gone(&self, tenant_id: &TenantId, message_id: &str) -> Result<Step, JobError> {
        self.store.fail_message(tenant_id, message_id, "the project no longer exists").await.map_err(retry)?;
        Ok(Step::Finished)
    }
}

/// Puts a failed request back in the queue (a person's retry, once what made it fail is
/// fixed): processed again from the start by its own `intake.process` job, armed again with
/// fresh attempts, exactly as when it arrived. `Conflict` unless it failed.
pub async fn retry_failed(store: &Store, tenant_id: &TenantId, message_id: &str) -> Result<Message, StoreError> {
    store.requeue_failed_message(tenant_id, message_id, &process_job(message_id)).await?;
    tracing::info!(message_id, "failed request queued again");
    store.get_message(tenant_id, message_id).await
}

/// Which outcomes one decision may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decide {
    Any,
    OnlyDuplicate,
}

/// Where one decision left the message.
enum Step {
    /// Its outcome is written (by this decision or an earlier one).
    Finished,
    /// Another request of the project became a task meanwhile: decide again.
    Stale,
    /// Not a clear duplicate; nothing written.
    Undecided,
    /// A model must be asked first (outside the project's turn); then decide again.
    Needs(Need),
}

/// What a decision needs a model for.
enum Need {
    /// The embedding of this query text.
    Vector(String),
    /// The judge's verdicts on these tasks.
    Judgement(Vec<String>, JudgeRequest),
}

/// What the models said during one run: the judge's verdicts by task id, and the request's
/// embedding vector (`Some(None)` when the embeddings server failed).
#[derive(Default)]
struct Judgements {
    verdicts: HashMap<String, Sameness>,
    /// The model failed once: the offline decision stands for the rest of the run.
    failed: bool,
    vector: Option<Option<Vec<f32>>>,
    /// Asked of the model beside the draft: the likely duplicates the quick look found.
    early: Option<(Vec<String>, JudgeRequest)>,
}

impl Judgements {
    /// Keeps the model's verdicts on the tasks `ids`, or that it failed.
    fn heard(&mut self, ids: Vec<String>, verdicts: Option<Vec<Sameness>>) {
        match verdicts {
            Some(verdicts) => self.verdicts.extend(ids.into_iter().zip(verdicts)),
            None => self.failed = true,
        }
    }
}

/// What a message's outcome is written with, whichever it turns out to be.
struct Prepared<'a> {
    message: &'a Message,
    draft: &'a TaskDraft,
    reply: Option<&'a NewJob>,
    pushes: &'a [NewJob],
}

/// How often one run decides again (because others of the project became tasks meanwhile on
/// other instances, or a model had to be asked), before it lets the queue retry later. Each
/// stale round at least one request of the project finishes, so this is only reached under a
/// sustained storm of creates.
const MAX_DECISIONS: usize = 50;

fn retry(e: StoreError) -> JobError {
    JobError::Retry(e.to_string())
}

/// What a request is compared with the project's tasks by: its draft's title and its words.
fn query_text(draft: &TaskDraft, message: &Message) -> String {
    format!("{}\n{}", draft.title, message.text)
}

/// The comment a duplicate request leaves on the task it duplicates.
pub(crate) fn also_requested(message: &Message) -> String {
    let mut who = String::from("Also requested");
    if let Some(author) = &message.author {
        who.push_str(&format!(" by {author}"));
    }
    match &message.channel {
        Some(channel) => who.push_str(&format!(" in {channel} ({})", message.source)),
        None => who.push_str(&format!(" via {}", message.source)),
    }
    format!(
        "{who} on {}:\n\n> {}",
        message.received_at.format("%Y-%m-%d %H:%M UTC"),
        message.text.replace('\n', "\n> ")
    )
}

#[cfg(test)]
mod tests {
    use crate::domain::job::Lane;
    use crate::jobs::JobKind;

    #[test]
    fn a_request_and_its_answer_run_in_the_intake_lane() {
        assert_eq!(Lane::of(super::process_job("m").kind), Lane::Intake);
        assert_eq!(Lane::of(super::FetchRequest::KIND), Lane::Intake);
        assert_eq!(Lane::of(crate::channels::outcome_job("m").kind), Lane::Intake);
        assert_eq!(Lane::of(crate::tasks::comment_job(&"t".into(), "c").kind), Lane::Work);
    }
}
