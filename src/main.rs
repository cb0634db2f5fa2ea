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
    /// Run the duplicate check over files: one JSON line per query on stdout.
    EvalDedup {
        /// JSON lines `{"id", "title", "body"?}`: the existing items.
        #[arg(long)]
        corpus: String,
        /// JSON lines `{"text"}`: the incoming requests.
        #[arg(long)]
        queries: String,
        /// Decision threshold (default: the service's own).
        #[arg(long)]
        threshold: Option<f64>,
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
    let config = cli.config;
    if let Some(Command::EvalDedup { corpus, queries, threshold }) = &cli.command {
        let mut settings = taskbridge::dedup::Settings::default();
        if let Some(t) = threshold {
            settings.threshold = *t;
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
    taskbridge::telemetry::init(&config).map_err(|e| e.to_string())?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => {
            let options = StoreOptions { max_connections: 1, ..StoreOptions::default() };
            Store::connect(&config.database_url, &options).await.map_err(|e| e.to_string())?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Serve => serve(config).await,
        Command::Openapi | Command::EvalDedup { .. } => Ok(()),
    }
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
