use std::process::ExitCode;

use clap::{Parser, Subcommand};
use taskbridge::app::{Application, shutdown_signal};
use taskbridge::config::Config;
use taskbridge::store::{Bootstrap, Store, StoreOptions};

/// taskbridge: turns conversations into tracked work.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the OpenAPI document and exit.
    Openapi,
    /// Print the configuration reference (docs/configuration.md) and exit.
    #[command(hide = true)]
    ConfigReference,
    /// Import a replaced-services `.env`: its TAIGA_*, JIRA_*, CONFLUENCE_*, TWILIO_*,
    /// TELEGRAM_*, ZENDESK_* and EMAIL_* variables become integrations of a project (secrets
    /// sealed), OLLAMA_* and OPENAI_* become provider settings written to --env-out. Says
    /// what it did and ignored; never prints a secret.
    ImportEnv {
        /// The old `.env` file.
        #[arg(long, default_value = ".env")]
        file: std::path::PathBuf,
        /// The project (id or name) the integrations go to (default: the default project).
        #[arg(long)]
        project: Option<String>,
        /// Where the provider settings are written (mode 0600; an existing file is kept).
        #[arg(long, default_value = "taskbridge.env")]
        env_out: std::path::PathBuf,
    },
    /// Check the configuration and whether everything it names can be reached (the
    /// database, Redis, the language model, speech to text; with --project, each of the
    /// project's integrations). Prints what is wrong in plain words, never a secret, and
    /// changes nothing; exits non-zero when something is wrong.
    Doctor {
        /// Also reach the platforms of this project's integrations (an id or a name).
        #[arg(long)]
        project: Option<String>,
    },
    /// Ask the service listening on TASKBRIDGE_ADDR (on loopback when it listens on every
    /// address) whether it is alive (`GET /health`) or, with --ready, ready (`GET /ready`);
    /// exits non-zero unless it answers 200 within five seconds. For container health checks,
    /// where the image has no other tool.
    Health {
        #[arg(long)]
        ready: bool,
    },
    /// Administration tools.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Run the duplicate check over files: one JSON line per query on stdout.
    EvalDedup {
        /// JSON lines `{"id", "title", "body"?}`: the existing items.
        #[arg(long)]
        corpus: String,
        /// JSON lines `{"text"}`: the incoming requests.
        #[arg(long)]
        queries: String,
        /// The merge band's lower bound (default: the service's own).
        #[arg(long)]
        threshold: Option<f64>,
        /// The suggestion band's lower bound (default: the service's own).
        #[arg(long)]
        suggest_at: Option<f64>,
        /// Decide offline only, even with a model (TASKBRIDGE_LLM) or embeddings
        /// (TASKBRIDGE_EMBEDDINGS) configured, which otherwise judge the likely duplicates and
        /// find candidates by meaning as in live intake.
        #[arg(long)]
        offline: bool,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Re-seal every integration's secrets with a new encryption key. With a key file (no
    /// TASKBRIDGE_ENCRYPTION_KEY), a new key is generated and swapped in, the old one kept
    /// as `<file>.old` and still accepted for opening; with the variable, give
    /// --new-key-file, then set TASKBRIDGE_ENCRYPTION_KEY to its content and
    /// TASKBRIDGE_ENCRYPTION_KEY_PREVIOUS to the old key. Restart instances afterwards.
    RotateKey {
        /// The new key: read if the file exists, generated there (mode 0600) if not.
        #[arg(long)]
        new_key_file: Option<std::path::PathBuf>,
    },
    /// Build test data for the Confluence task sync: under a root page, a page per work
    /// package of a Jira project with a tree of child pages, all holding open dummy tasks.
    /// Uses the project's Jira and Confluence integrations.
    GenerateConfluenceTree {
        /// The page the tree is built under.
        #[arg(long)]
        root_page_url: String,
        /// The Jira project whose issues become the work packages.
        #[arg(long)]
        jira_project: String,
        /// The taskbridge project whose integrations are used (default: the default project).
        #[arg(long)]
        project_id: Option<String>,
        /// Only issues of this type are work packages (default: any type but sub-tasks).
        #[arg(long)]
        work_package_type: Option<String>,
        #[arg(long, default_value_t = 5)]
        work_packages: usize,
        /// Child pages per page.
        #[arg(long, default_value_t = 3)]
        children: usize,
        /// Levels of child pages below each work package page.
        #[arg(long, default_value_t = 2)]
        depth: usize,
        #[arg(long, default_value_t = 5)]
        tasks_per_page: usize,
    },
}

fn main() -> ExitCode {
    // A missing .env is normal; the environment alone configures the service.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("taskbridge: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("taskbridge: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let config = cli.config.with_oauth_from_env();
    if let Some(Command::EvalDedup { corpus, queries, threshold, suggest_at, offline }) = &cli.command {
        let mut settings = taskbridge::dedup::Settings::default();
        if let Some(t) = threshold {
            settings.merge_at = *t;
        }
        if let Some(t) = suggest_at {
            settings.suggest_at = *t;
        }
        let model = taskbridge::llm::WithFallback::new(config.llm_provider().build());
        let semantic = if *offline { None } else { config.semantic() };
        let models = taskbridge::dedup::eval::Models {
            judge: (!offline && model.asks_a_model()).then_some(&model),
            semantic: semantic.as_ref(),
        };
        if models.judge.is_some() {
            eprintln!("taskbridge: the {} model judges likely duplicates", model.provider());
        }
        if let Some(s) = &semantic {
            eprintln!("taskbridge: embeddings by {:?} find candidates by meaning", s.embedder.model());
        }
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        taskbridge::dedup::eval::run(corpus, queries, settings, models, &mut out).await.map_err(|e| e.to_string())?;
        return std::io::Write::flush(&mut out).map_err(|e| e.to_string());
    }
    if let Some(Command::Doctor { project }) = &cli.command {
        let report = taskbridge::doctor::examine(&config, project.as_deref()).await;
        report.print(&mut std::io::stdout()).map_err(|e| e.to_string())?;
        return match report.problems() {
            0 => Ok(()),
            n => Err(format!("doctor found {n} problem{}", if n == 1 { "" } else { "s" })),
        };
    }
    if let Some(Command::ConfigReference) = cli.command {
        print!("{}", taskbridge::config::reference::markdown());
        return Ok(());
    }
    if let Some(Command::Health { ready }) = &cli.command {
        return health(config.addr, *ready).await;
    }
    if let Some(Command::Openapi) = cli.command {
        let doc = taskbridge::http::openapi_document();
        println!("{}", doc.to_pretty_json().map_err(|e| e.to_string())?);
        return Ok(());
    }
    let tool = matches!(cli.command, Some(Command::Admin { .. } | Command::ImportEnv { .. }));
    taskbridge::telemetry::init(&config, tool).map_err(|e| e.to_string())?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => {
            let options = StoreOptions { max_connections: 1, ..StoreOptions::default() };
            Store::connect(&config.database_url, &options).await.map_err(|e| e.to_string())?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Serve => serve(config).await,
        Command::Admin { command } => admin(&config, command).await,
        Command::ImportEnv { file, project, env_out } => import_env(&config, &file, project, &env_out).await,
        Command::Openapi
        | Command::ConfigReference
        | Command::EvalDedup { .. }
        | Command::Doctor { .. }
        | Command::Health { .. } => Ok(()),
    }
}

async fn health(mut addr: std::net::SocketAddr, ready: bool) -> Result<(), String> {
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let url = format!("http://{addr}/{}", if ready { "ready" } else { "health" });
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let status = client.get(&url).send().await.map_err(|e| format!("{url}: {e}"))?.status();
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    println!("{url}: {status}");
    Ok(())
}

async fn import_env(
    config: &Config,
    file: &std::path::Path,
    project: Option<String>,
    env_out: &std::path::Path,
) -> Result<(), String> {
    use taskbridge::integrations::import_env::{Outcome, apply, plan};
    let vars: Vec<(String, String)> = dotenvy::from_path_iter(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?
        .collect::<Result<_, _>>()
        // dotenvy's error names the line, never a value.
        .map_err(|e| format!("{} is not a .env file: {e}", file.display()))?;
    let plan = plan(&vars);
    let options = StoreOptions { max_connections: 2, ..StoreOptions::default() };
    let store = Store::connect(&config.database_url, &options).await.map_err(|e| e.to_string())?;
    if let Bootstrap::Generated(key) =
        store.bootstrap(config.api_key.as_ref().map(|k| k.expose())).await.map_err(|e| e.to_string())?
    {
        // As `serve` does on a first start: the operator's only chance to see it.
        println!(
            "taskbridge: created the default tenant. Its admin API key (shown once, keep it safe):\n\n    {key}\n"
        );
    }
    let tenant = &taskbridge::domain::tenant::default_tenant();
    let project = find_project(&store, tenant, project).await?;
    println!("Importing {} into project {:?} ({})", file.display(), project.name, project.id);
    let cipher = config.cipher().map_err(|e| e.to_string())?;
    let integrations =
        taskbridge::integrations::Integrations::new(store, cipher, &config.public_url(), config.allow_private_urls);
    let outcomes = apply(&integrations, tenant, &project.id, plan.integrations).await.map_err(|e| e.to_string())?;
    let mut failed = false;
    for (kind, from, outcome) in outcomes {
        let from = from.join(", ");
        match outcome {
            Outcome::Created { id, name } => {
                println!("created {} integration {name:?} ({id}) from {from}", kind.as_str());
                if let Some(hint) = after_import(kind) {
                    println!("  note: {hint}");
                }
            }
            Outcome::Kept { id } => {
                println!("kept the project's existing {} integration ({id}); not imported: {from}", kind.as_str())
            }
            Outcome::Refused(why) => {
                failed = true;
                println!("not imported: {} integration from {from}: {why}", kind.as_str());
            }
        }
    }
    if !plan.provider.is_empty() {
        let shown: Vec<String> = plan
            .provider
            .iter()
            .map(|s| {
                if s.secret {
                    format!("{} (secret, from {})", s.name, s.from)
                } else {
                    format!("{}={} (from {})", s.name, s.value, s.from)
                }
            })
            .collect();
        if env_out.exists() {
            println!(
                "provider settings not written: {} exists; move it away or give --env-out. They would be: {}",
                env_out.display(),
                shown.join(", ")
            );
        } else {
            let body: String = plan.provider.iter().map(|s| format!("{}={}\n", s.name, s.value)).collect();
            write_private(env_out, &body).map_err(|e| format!("cannot write {}: {e}", env_out.display()))?;
            println!(
                "provider settings written to {} (add them to taskbridge's environment): {}",
                env_out.display(),
                shown.join(", ")
            );
        }
    }
    for (name, why) in &plan.ignored {
        println!("ignored {name}: {why}");
    }
    if failed { Err("some integrations were not imported (see above)".into()) } else { Ok(()) }
}

/// What an imported integration still needs that the old services did not have.
fn after_import(kind: taskbridge::domain::integration::IntegrationType) -> Option<&'static str> {
    use taskbridge::domain::integration::IntegrationType;
    match kind {
        IntegrationType::Telegram => {
            Some("to receive messages, set secrets.secret_token (PATCH the integration) and pass it to setWebhook")
        }
        IntegrationType::Email => {
            Some("to receive mail from a gateway, set secrets.inbound_secret (PATCH the integration)")
        }
        IntegrationType::Taiga | IntegrationType::Jira => {
            Some("tasks are pushed once settings name the tracker's project (Taiga project_slug, Jira project_key)")
        }
        _ => None,
    }
}

/// Writes `body` to a new file only its owner may read.
fn write_private(path: &std::path::Path, body: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(body.as_bytes())
}

async fn find_project(
    store: &Store,
    tenant: &taskbridge::domain::id::TenantId,
    wanted: Option<String>,
) -> Result<taskbridge::domain::project::Project, String> {
    let Some(wanted) = wanted else {
        let id = store.default_project(tenant).await.map_err(|e| format!("no default project: {e}"))?;
        return store.get_project(tenant, &id).await.map_err(|e| e.to_string());
    };
    store.find_project(tenant, &wanted).await.map_err(|e| match e {
        taskbridge::store::StoreError::NotFound => format!("no project with the id or name {wanted:?}"),
        other => other.to_string(),
    })
}

async fn rotate_key(config: &Config, new_key_file: Option<std::path::PathBuf>) -> Result<(), String> {
    use taskbridge::integrations::Cipher;
    let swap = config.encryption_key.is_none() && new_key_file.is_none();
    let new_path = match (new_key_file, &config.encryption_key) {
        (Some(path), _) => path,
        (None, None) => config.encryption_key_file.with_extension("key.new"),
        (None, Some(_)) => {
            return Err(
                "TASKBRIDGE_ENCRYPTION_KEY is set: give --new-key-file, then set the variable to its content".into()
            );
        }
    };
    if swap && !config.encryption_key_file.exists() {
        return Err(format!("there is no key file at {}: nothing is sealed yet", config.encryption_key_file.display()));
    }
    let old = config.cipher().map_err(|e| e.to_string())?;
    let new = Cipher::from_key_file(&new_path).map_err(|e| e.to_string())?;
    let options = StoreOptions { max_connections: 2, ..StoreOptions::default() };
    let store = Store::connect(&config.database_url, &options).await.map_err(|e| e.to_string())?;
    let rotated = taskbridge::integrations::rotate::rotate_key(&store, &old, &new).await.map_err(|e| e.to_string())?;
    let mut answer = serde_json::json!({"rotated": rotated, "new_key_file": new_path.display().to_string()});
    if swap {
        let file = &config.encryption_key_file;
        let kept = file.with_extension("key.old");
        std::fs::rename(file, &kept)
            .map_err(|e| format!("the secrets use the new key in {}, but: {e}", new_path.display()))?;
        std::fs::rename(&new_path, file)
            .map_err(|e| format!("the secrets use the new key in {}, but: {e}", new_path.display()))?;
        answer = serde_json::json!({"rotated": rotated, "key_file": file.display().to_string(),
                                    "old_key_file": kept.display().to_string()});
    }
    println!("{answer}");
    Ok(())
}

async fn admin(config: &Config, command: AdminCommand) -> Result<(), String> {
    match command {
        AdminCommand::RotateKey { new_key_file } => rotate_key(config, new_key_file).await,
        AdminCommand::GenerateConfluenceTree {
            root_page_url,
            jira_project,
            project_id,
            work_package_type,
            work_packages,
            children,
            depth,
            tasks_per_page,
        } => {
            let spec = taskbridge::sync::generate::TreeSpec {
                work_package_type,
                work_packages,
                children,
                depth,
                tasks_per_page,
            };
            generate_tree(config, &root_page_url, &jira_project, project_id, &spec).await
        }
    }
}

async fn generate_tree(
    config: &Config,
    root_page_url: &str,
    jira_project: &str,
    project_id: Option<String>,
    spec: &taskbridge::sync::generate::TreeSpec,
) -> Result<(), String> {
    let options = StoreOptions { max_connections: 2, ..StoreOptions::default() };
    let store = Store::connect(&config.database_url, &options).await.map_err(|e| e.to_string())?;
    let tenant = &taskbridge::domain::tenant::default_tenant();
    let project = match project_id {
        Some(p) => p.into(),
        None => store.default_project(tenant).await.map_err(|e| format!("no default project: {e}"))?,
    };
    let cipher = config.cipher().map_err(|e| e.to_string())?;
    let integrations =
        taskbridge::integrations::Integrations::new(store, cipher, &config.public_url(), config.allow_private_urls);
    let timeout = std::time::Duration::from_secs(config.outbound_timeout_secs.max(1));
    let outbound =
        taskbridge::outbound::Outbound::new(config.extra_ca_file.as_deref(), config.allow_private_urls, timeout)
            .map_err(|e| e.to_string())?;
    let (jira, confluence) = taskbridge::sync::atlassian(&integrations, outbound.http, tenant, &project).await?;
    let mut progress = |done: usize, total: usize| {
        // A bar on the terminal: redrawn in place, ended with a line break.
        let width = 30;
        let filled = (done * width).checked_div(total).unwrap_or(width).min(width);
        eprint!("\r[{}{}] {done}/{total} pages", "#".repeat(filled), ".".repeat(width - filled));
        if done == total {
            eprintln!();
        }
    };
    let generated =
        taskbridge::sync::generate::generate(&jira, &confluence, root_page_url, jira_project, spec, &mut progress)
            .await
            .map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::json!({"root_page_id": generated.root_page_id, "work_packages": generated.work_packages,
                           "pages": generated.pages, "tasks": generated.tasks})
    );
    Ok(())
}

async fn serve(config: Config) -> Result<(), String> {
    let app = Application::build(&config).await.map_err(|e| e.to_string())?;
    match app.bootstrap() {
        Bootstrap::Generated(key) => {
            // Printed to the terminal only, never to the logs.
            println!(
                "taskbridge: created the default tenant. Its admin API key (shown once, keep it safe):\n\n    {key}\n"
            );
        }
        Bootstrap::Seeded => {
            tracing::info!("created the default tenant with the key from TASKBRIDGE_API_KEY")
        }
        Bootstrap::Existing => {}
    }
    tracing::info!(addr = %app.local_addr(), backend = ?app.store().backend(), llm = ?config.llm, "taskbridge listening");
    app.run_until(shutdown_signal()).await.map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    Ok(())
}
