//! `taskbridge doctor`: checks the configuration and whether everything configured can be
//! reached — the database, Redis, the language model, the embeddings server, the
//! speech-to-text server, and with a project each of its integrations' platforms — and
//! says what is wrong in plain words. It changes nothing (no migration, no key file, no
//! database file is created) and never prints a secret: URLs are shown without their user,
//! password and query.

mod checks;

use std::io::Write;

use crate::config::Config;

/// How a finding reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    /// Worth knowing, not wrong.
    Note,
    Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    /// What was checked (`database`, `redis`, `integration slack "eng"`).
    pub subject: String,
    pub words: String,
}

#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    fn add(&mut self, level: Level, subject: impl Into<String>, words: impl Into<String>) {
        self.findings.push(Finding { level, subject: subject.into(), words: words.into() });
    }

    pub fn problems(&self) -> usize {
        self.findings.iter().filter(|f| f.level == Level::Problem).count()
    }

    /// One line a finding, then the verdict.
    pub fn print(&self, out: &mut impl Write) -> std::io::Result<()> {
        for f in &self.findings {
            let tag = match f.level {
                Level::Ok => "ok     ",
                Level::Note => "note   ",
                Level::Problem => "PROBLEM",
            };
            writeln!(out, "{tag} {}: {}", f.subject, f.words)?;
        }
        match self.problems() {
            0 => writeln!(out, "\nNo problems found."),
            1 => writeln!(out, "\n1 problem found."),
            n => writeln!(out, "\n{n} problems found."),
        }
    }
}

/// Everything `config` names, and with `project` (an id or a name) that project's
/// integrations.
pub async fn examine(config: &Config, project: Option<&str>) -> Report {
    let mut report = Report::default();
    checks::configuration(config, &mut report);
    let database_current = checks::database(config, &mut report).await;
    checks::redis(config, &mut report).await;
    checks::language_model(config, &mut report).await;
    checks::embeddings(config, &mut report).await;
    checks::transcription(config, &mut report).await;
    if let Some(project) = project {
        if database_current {
            checks::integrations(config, project, &mut report).await;
        } else {
            report.add(
                Level::Problem,
                format!("project {project:?}"),
                "its integrations cannot be checked until the database is reachable and migrated",
            );
        }
    }
    report
}
