//! The frame every page shares: head, navigation, who is signed in.

use maud::{DOCTYPE, Markup, html};

use super::Session;
use super::assets;

/// The console's sections, for the navigation's current-page mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Overview,
    Requests,
    Projects,
    Tasks,
    Board,
    Sync,
    Jobs,
    Coordinator,
    ApiKeys,
}

const SECTIONS: &[(Section, &str, &str)] = &[
    (Section::Overview, "/dashboard", "Overview"),
    (Section::Requests, "/requests", "Requests"),
    (Section::Projects, "/projects", "Projects"),
    (Section::Tasks, "/tasks", "Tasks"),
    (Section::Board, "/board", "Board"),
    (Section::Sync, "/sync", "Sync"),
    (Section::Jobs, "/jobs", "Jobs"),
    (Section::Coordinator, "/coordinator", "Coordinator"),
    (Section::ApiKeys, "/api-keys", "API keys"),
];

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · taskbridge" }
            link rel="stylesheet" href=(assets::url("console.css"));
            script src=(assets::url("console.js")) defer {}
        }
    }
}

/// A page for a signed-in user.
pub fn page(session: &Session, current: Section, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/dashboard" { "taskbridge" }
                    nav aria-label="Main" {
                        ul {
                            @for (section, href, label) in SECTIONS {
                                @if *section != Section::ApiKeys || session.caller.is_admin() {
                                    li {
                                        a href=(href) aria-current=[(*section == current).then_some("page")] { (label) }
                                    }
                                }
                            }
                        }
                    }
                    div.who {
                        span { (session.tenant_name) " · " (session.caller.role.as_str()) }
                        form method="post" action="/sign-out" {
                            (csrf_field(session))
                            button.small type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" { (body) }
            }
        }
    }
}

/// A page without navigation: signing in, errors.
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header.top { a.brand href="/dashboard" { "taskbridge" } }
                main.narrow id="main" { (body) }
            }
        }
    }
}

/// The hidden field every state-changing form carries.
pub fn csrf_field(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf_token); }
}
