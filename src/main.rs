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
    if let Some(Command::EvalDedup { corpus, queries, threshold, suggest_at }) = &cli.command {
        let mut settings = taskbridge::dedup::Settings::default();
        if let Some(t) = threshold {
            settings.merge_at = *t;
        }
        if let Some(t) = suggest_at {
            settings.suggest_at = *t;
        }
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        taskbridge::dedup::eval::run(corpus, queries, settings, &mut out).map_err(|e| e.to_string())?;
        return std::io::Write::flush(&mut out).map_err(|e| e.to_string());
    }
    if let Some(Command::Openapi) = cli.command {
        let doc = taskbridge::http::openapi_document();
        println!("{}", doc.to_pretty_json().map_err(|e| e.to_string())?);
        return Ok(());
    }
    let tool = matches!(cli.command, Some(Command::Admin { .. }));
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
        Command::Openapi | Command::EvalDedup { .. } => Ok(()),
    }
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
