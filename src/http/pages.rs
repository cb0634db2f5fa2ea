//! The list envelope `{"items": [...], "next_cursor": ...}`.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::comment::Comment;
use crate::domain::coordinator::Action;
use crate::domain::integration::Integration;
use crate::domain::label::Label;
use crate::domain::message::{Decision, Message};
use crate::domain::project::Project;
use crate::domain::task::Task;
use crate::domain::tenant::ApiKey;
use crate::jobs::Job;

/// Trims the one extra row the store fetched and names the cursor of the next page.
pub fn paginate<T>(mut items: Vec<T>, limit: u32, cursor_of: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
    let limit = limit as usize;
    if items.len() > limit {
        items.truncate(limit);
        let next = items.last().map(cursor_of);
        (items, next)
    } else {
        (items, None)
    }
}

macro_rules! page_type {
    ($name:ident, $item:ty) => {
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            /// Pass as `cursor` to get the next page; `null` on the last page.
            pub next_cursor: Option<String>,
        }

        impl $name {
            pub fn new((items, next_cursor): (Vec<$item>, Option<String>)) -> Self {
                $name { items, next_cursor }
            }
        }
    };
}

page_type!(ProjectPage, Project);
page_type!(TaskPage, Task);
page_type!(MessagePage, Message);
page_type!(DecisionPage, Decision);
page_type!(CommentPage, Comment);
page_type!(LabelPage, Label);
page_type!(ApiKeyPage, ApiKey);
page_type!(JobPage, Job);
page_type!(IntegrationPage, Integration);
page_type!(ActionPage, Action);
