//! Form fields with their labels and the service's error next to the field it concerns.

use maud::{Markup, html};

use crate::domain::DomainError;

/// The validation error a form was answered with, if any.
#[derive(Debug, Default)]
pub struct Errors(Option<DomainError>);

impl Errors {
    pub fn none() -> Self {
        Errors(None)
    }

    pub fn from(err: DomainError) -> Self {
        Errors(Some(err))
    }

    /// The message for `field`, in the API's words (`"name: must not be empty"`).
    pub fn of(&self, field: &str) -> Option<String> {
        match &self.0 {
            Some(err @ DomainError::Invalid { field: f, .. }) if *f == field => Some(err.to_string()),
            _ => None,
        }
    }

    /// The message when it concerns none of `fields` (shown above the form).
    pub fn other(&self, fields: &[&str]) -> Option<String> {
        match &self.0 {
            Some(err @ DomainError::Invalid { field, .. }) if !fields.contains(field) => Some(err.to_string()),
            _ => None,
        }
    }

    pub fn any(&self) -> bool {
        self.0.is_some()
    }
}

fn wrap(id: &str, label: &str, hint: Option<&str>, error: Option<String>, input: Markup) -> Markup {
    html! {
        div.field {
            label for=(id) { (label) }
            (input)
            @if let Some(hint) = hint { p.hint id=(format!("{id}-hint")) { (hint) } }
            @if let Some(error) = error { p.error-message id=(format!("{id}-error")) { (error) } }
        }
    }
}

fn described_by(id: &str, hint: bool, error: bool) -> Option<String> {
    let parts: Vec<String> = [(hint, format!("{id}-hint")), (error, format!("{id}-error"))]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, s)| s)
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// A one-line text input (`kind`: text, password, date, number, search).
pub fn input(
    kind: &str,
    name: &str,
    label: &str,
    value: &str,
    errors: &Errors,
    hint: Option<&str>,
    required: bool,
) -> Markup {
    let id = format!("f-{name}");
    let error = errors.of(name);
    let input = html! {
        input id=(id) type=(kind) name=(name) value=(value) required[required]
            aria-invalid=[error.as_ref().map(|_| "true")]
            aria-describedby=[described_by(&id, hint.is_some(), error.is_some())];
    };
    wrap(&id, label, hint, error, input)
}

pub fn textarea(name: &str, label: &str, value: &str, errors: &Errors) -> Markup {
    let id = format!("f-{name}");
    let error = errors.of(name);
    let input = html! {
        textarea id=(id) name=(name) aria-invalid=[error.as_ref().map(|_| "true")]
            aria-describedby=[described_by(&id, false, error.is_some())] { (value) }
    };
    wrap(&id, label, None, error, input)
}

/// A choice among `(value, label)` options.
pub fn select(name: &str, label: &str, options: &[(&str, &str)], selected: &str, errors: &Errors) -> Markup {
    let id = format!("f-{name}");
    let error = errors.of(name);
    let input = html! {
        select id=(id) name=(name) aria-invalid=[error.as_ref().map(|_| "true")]
            aria-describedby=[described_by(&id, false, error.is_some())] {
            @for (value, text) in options {
                option value=(value) selected[*value == selected] { (text) }
            }
        }
    };
    wrap(&id, label, None, error, input)
}

pub fn checkbox(name: &str, label: &str, checked: bool, hint: Option<&str>) -> Markup {
    let id = format!("f-{name}");
    html! {
        div.field {
            div.check {
                input id=(id) type="checkbox" name=(name) value="on" checked[checked]
                    aria-describedby=[hint.map(|_| format!("{id}-hint"))];
                label for=(id) { (label) }
            }
            @if let Some(hint) = hint { p.hint id=(format!("{id}-hint")) { (hint) } }
        }
    }
}

/// A filter's text input (a search form): its own id, so it never collides with the fields
/// of a form on the same page.
pub fn filter_input(kind: &str, name: &str, label: &str, value: &str) -> Markup {
    let id = format!("filter-{name}");
    wrap(&id, label, None, None, html! { input id=(id) type=(kind) name=(name) value=(value); })
}

/// A filter's choice among `(value, label)` options.
pub fn filter_select(name: &str, label: &str, options: &[(&str, &str)], selected: &str) -> Markup {
    let id = format!("filter-{name}");
    let input = html! {
        select id=(id) name=(name) {
            @for (value, text) in options {
                option value=(value) selected[*value == selected] { (text) }
            }
        }
    };
    wrap(&id, label, None, None, input)
}

/// A list's query string without its `cursor`: the list's first page under the same filters.
pub fn without_cursor(raw_query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw_query.unwrap_or_default().as_bytes())
        .into_owned()
        .filter(|(k, _)| k != "cursor")
        .collect()
}

/// The list's query string with `cursor` replaced, for the next page's link.
pub fn with_cursor(raw_query: Option<&str>, cursor: &str) -> String {
    let mut pairs = without_cursor(raw_query);
    pairs.push(("cursor".into(), cursor.into()));
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}
