//! A Confluence task sync of a large page tree against the fake Atlassian site of the tests
//! (no delay unless `BENCH_DELAY_MS`): how long one run takes to plan the tree, create an issue per open task
//! (marker search, create, remote link) and rewrite every page, with its journal.
//! `cargo bench --bench sync`; PostgreSQL too when `BENCH_DATABASE_URL` or
//! `TEST_DATABASE_URL` is set. Knobs: `BENCH_BACKENDS`, `BENCH_SECTIONS` (default 10),
//! `BENCH_PAGES_PER_SECTION` (default 99), `BENCH_TASKS_PER_PAGE` (default 10), `BENCH_DELAY_MS`
//! (every answer of the site takes this long, default 0), `BENCH_IN_FLIGHT` (the integrations'
//! `max_in_flight`, the service's default when unset), `BENCH_UNDO=1` (then undo the run, timed),
//! `BENCH_PAGES=1` (then the console's pages of the run and the list of runs, each asked for
//! 200 times in sequence by a signed-in browser: p50 and p99 of the whole answer).

use std::time::{Duration, Instant};

use serde_json::json;
mod support;

#[allow(dead_code)]
#[path = "../tests/api/fakes/atlassian.rs"]
mod atlassian;

use support::{Server, env_or};
use taskbridge::config::Config;

const KEY: &str = "bench-admin-key-0123456789abcdef";

/// A root page naming the work package, sections below it, pages below those; every page
/// but the root holds `tasks` open tasks.
fn tree(site: &mut atlassian::Site, sections: usize, pages: usize, tasks: u32) -> usize {
    site.add("1", None, "Programme", format!("<p>{}</p>", atlassian::macro_for("WP-1")));
    site.work_package("WP-1", None);
    let list = |page: &str| {
        let items: Vec<String> = (1..=tasks)
            .map(|t| {
                atlassian::task(t, "incomplete", &format!("Task {t} on page {page} <time datetime=\"2026-12-01\" />"))
            })
            .collect();
        format!("<h2>Actions</h2><p>Agreed in the weekly.</p>{}", atlassian::tasks(&items))
    };
    let mut count = 1;
    for s in 0..sections {
        let section = format!("s{s}");
        site.add(&section, Some("1"), &format!("Section {s}"), list(&section));
        count += 1;
        for p in 0..pages {
            let page = format!("s{s}p{p}");
            site.add(&page, Some(&section), &format!("Page {s}.{p}"), list(&page));
            count += 1;
        }
    }
    count
}

async fn bench(label: &str, url: &str) {
    let (sections, pages, tasks) =
        (env_or("BENCH_SECTIONS", 10), env_or("BENCH_PAGES_PER_SECTION", 99), env_or("BENCH_TASKS_PER_PAGE", 10u32));
    let mut page_count = 0;
    let delay = Duration::from_millis(env_or("BENCH_DELAY_MS", 0));
    let (site_url, site) = atlassian::fake_site(|s| {
        s.delay = delay;
        // As many issues a search page as Jira's /search/jql gives (the tests' fake gives 3).
        s.options.page_size = 100;
        page_count = tree(s, sections, pages, tasks);
    })
    .await;
    let task_count = (page_count - 1) * tasks as usize;
    let mut config = Config::for_tests(url, KEY);
    config.allow_private_urls = true;
    config.sync_wait_secs = 3600;
    let server = Server::start(&config).await;
    let (client, base) = (server.client.clone(), server.base.clone());
    let project = support::create_project(&client, &base, KEY, "sync").await;
    for (kind, settings) in [
        ("jira", json!({"site_url": site_url, "email": "bot@acme.test", "project_key": "WP"})),
        ("confluence", json!({"site_url": site_url, "email": "bot@acme.test"})),
    ] {
        let mut settings = settings;
        if let Ok(limit) = std::env::var("BENCH_IN_FLIGHT") {
            settings["max_in_flight"] = json!(limit.parse::<u64>().expect("BENCH_IN_FLIGHT is a number"));
        }
        let body = json!({"type": kind, "settings": settings, "secrets": {"api_token": "atl-token-1"}});
        support::expect_status(
            client.post(format!("{base}/api/v1/projects/{project}/integrations")).bearer_auth(KEY).json(&body),
            201,
            "integration",
        )
        .await;
    }
    let started = Instant::now();
    let res = client
        .post(format!("{base}/api/v1/projects/{project}/sync/confluence-tasks"))
        .bearer_auth(KEY)
        .timeout(Duration::from_secs(3600))
        .json(&json!({"confluence_page_urls": [format!("{site_url}/wiki/spaces/OPS/pages/1")]}))
        .send()
        .await
        .expect("sync answered");
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(res.status().as_u16(), 200, "the run finished within the wait");
    let answer: serde_json::Value = res.json().await.expect("json");
    let results = answer["results"].as_array().map(Vec::len).unwrap_or_default();
    let (creates, puts) = {
        let s = site.lock().expect("lock");
        (s.creates, s.puts)
    };
    assert_eq!((results, creates), (task_count, task_count), "one issue per task");
    println!(
        "| {label} | Confluence task sync, one run, fake site answering in {} ms | {:.0} tasks/s | – | – | {page_count} pages, \
         {task_count} tasks, {puts} page writes in {elapsed:.2} s |",
        delay.as_millis(),
        task_count as f64 / elapsed
    );
    if std::env::var("BENCH_PAGES").is_ok_and(|v| v == "1") {
        let run_id = answer["run_id"].as_str().expect("run id");
        console_pages(label, &base, run_id, task_count).await;
    }
    if std::env::var("BENCH_UNDO").is_ok_and(|v| v == "1") {
        let run_id = answer["run_id"].as_str().expect("run id");
        let started = Instant::now();
        let res = client
            .post(format!("{base}/api/v1/sync-runs/{run_id}/undo"))
            .bearer_auth(KEY)
            .timeout(Duration::from_secs(3600))
            .json(&json!({}))
            .send()
            .await
            .expect("undo answered");
        let elapsed = started.elapsed().as_secs_f64();
        assert_eq!(res.status().as_u16(), 200, "the undo finished within the wait");
        println!(
            "| {label} | its undo, fake site answering in {} ms | {:.0} tasks/s | – | – | {task_count} issues moved, \
             {page_count} pages restored in {elapsed:.2} s |",
            delay.as_millis(),
            task_count as f64 / elapsed
        );
    }
    server.stop().await;
}

/// The console's pages of one large run, each asked for 200 times in sequence.
async fn console_pages(label: &str, base: &str, run_id: &str, results: usize) {
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let signed_in = browser
        .post(format!("{base}/sign-in"))
        .form(&[("key", KEY), ("next", "/dashboard")])
        .send()
        .await
        .expect("sign in");
    let cookie = signed_in
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string();
    let last = results.saturating_sub(100);
    for (name, path) in [
        ("the list of runs /sync", "/sync".to_string()),
        ("the run's page (first 100 results and changes)", format!("/sync/runs/{run_id}")),
        ("the run's page, its last results", format!("/sync/runs/{run_id}?results_from={last}")),
        ("the run's page, its journal from change 10,000", format!("/sync/runs/{run_id}?journal_from=10000")),
    ] {
        let mut samples = Vec::with_capacity(200);
        for _ in 0..200 {
            let started = Instant::now();
            let res = browser.get(format!("{base}{path}")).header("cookie", &cookie).send().await.expect("page");
            assert_eq!(res.status().as_u16(), 200, "{path}");
            res.bytes().await.expect("body");
            samples.push(started.elapsed());
        }
        let (p50, p99) = (support::pct(&mut samples, 0.50), support::pct(&mut samples, 0.99));
        println!(
            "| {label} | console: {name} ({results} results) | – | {} | {} | 200 requests |",
            support::ms(p50),
            support::ms(p99)
        );
    }
}

fn main() {
    support::table_on_backends(|label, url| async move { bench(label, &url).await });
}
