//! Telling a task's requesters of a change, inside the change's transaction (see
//! [`crate::domain::notify`]): the project's setting and the requests that made or joined
//! the task are read there, so what is told is what was committed, once.

/// Enqueues, inside transaction `$tx`, a `requester.notify` job per request (with a thread
/// to answer) that made or was merged into the news' task, keeping only the events project
/// `$project_id` tells. `$news` is an `Option<RequesterNews>`.
macro_rules! tell_requesters {
    ($tx:expr, $tenant_id:expr, $project_id:expr, $news:expr, $now:expr) => {{
        let news: Option<crate::domain::notify::RequesterNews> = $news;
        if let Some(news) = news {
            let setting: Option<String> =
                crate::store::query_scalar("SELECT notify_requester_on FROM projects WHERE id = $1 AND tenant_id = $2")
                    .bind($project_id)
                    .bind($tenant_id)
                    .fetch_optional(&mut *$tx)
                    .await?;
            let wanted = crate::domain::notify::decode(setting.as_deref().unwrap_or_default());
            if let Some(news) = news.told(&wanted) {
                let messages: Vec<String> = crate::store::query_scalar(
                    "SELECT id FROM messages WHERE tenant_id = $1 AND task_id = $2
                     AND status IN ('created', 'duplicate', 'possible_duplicate')
                     AND integration_id IS NOT NULL AND reply_to IS NOT NULL
                     ORDER BY id LIMIT $3",
                )
                .bind($tenant_id)
                .bind(&news.task_id)
                .bind(crate::domain::notify::REQUESTERS_MAX)
                .fetch_all(&mut *$tx)
                .await?;
                for job in news.jobs(&messages) {
                    let _ = crate::store::jobs::enqueue_job!(&mut *$tx, $tenant_id, &job, $now);
                }
            }
        }
    }};
}
pub(crate) use tell_requesters;
