//! A clean, imperative title: the request itself, without greetings, lead-ins, deadlines
//! and trailing chatter.

const GREETINGS: [&str; 27] = [
    "hi",
    "hey",
    "hello",
    "hiya",
    "yo",
    "good morning",
    "good afternoon",
    "good evening",
    "morning",
    "team",
    "all",
    "everyone",
    "folks",
    "guys",
    "hola",
    "buenos días",
    "buenas",
    "equipo",
    "hallo",
    "guten morgen",
    "guten tag",
    "bonjour",
    "salut",
    "olá",
    "oi",
    "bom dia",
    "pessoal",
];

/// Lead-ins to drop; `true` when what follows is a thing to add rather than an action.
/// Other languages' lead-ins are dropped without adding an English verb: the title stays in
/// the request's language.
const LEAD_INS: [(&str, bool); 66] = [
    ("just a quick reminder", false),
    ("just a reminder", false),
    ("friendly reminder", false),
    ("quick reminder", false),
    ("reminder", false),
    ("quick one", false),
    ("quick question", false),
    ("quick request", false),
    ("heads up", false),
    ("fyi", false),
    ("i think we should", false),
    ("i think we need to", false),
    ("i think we need", true),
    ("it would be great if someone could", false),
    ("would be great if someone could", false),
    ("would be great if we could", false),
    ("would be great if you could", false),
    ("would be great if", false),
    ("would be nice if we could", false),
    ("we could", false),
    ("it would be great if we could", false),
    ("it would be nice if we could", false),
    ("would it be possible to", false),
    ("is it possible to", false),
    ("can someone please", false),
    ("could someone please", false),
    ("can somebody", false),
    ("can someone", false),
    ("could someone", false),
    ("can anyone", false),
    ("someone needs to", false),
    ("somebody needs to", false),
    ("can you please", false),
    ("could you please", false),
    ("can you", false),
    ("could you", false),
    ("would you", false),
    ("we need to", false),
    ("we have to", false),
    ("we should", false),
    ("we must", false),
    ("i need to", false),
    ("need to", false),
    ("let's", false),
    ("lets", false),
    ("please", false),
    ("pls", false),
    ("we need", true),
    ("we want", true),
    ("i need", true),
    ("i'd like", true),
    ("por favor", false),
    ("necesitamos", false),
    ("hay que", false),
    ("podrías", false),
    ("puedes", false),
    ("wir müssen", false),
    ("kannst du", false),
    ("könntest du", false),
    ("bitte", false),
    ("il faut", false),
    ("pouvez-vous", false),
    ("peux-tu", false),
    ("merci de", false),
    ("precisamos", false),
    ("podes", false),
];

/// Words that start an imperative title as they are.
const VERBS: [&str; 60] = [
    "add",
    "fix",
    "create",
    "update",
    "remove",
    "delete",
    "implement",
    "investigate",
    "write",
    "review",
    "deploy",
    "set",
    "setup",
    "migrate",
    "check",
    "build",
    "design",
    "refactor",
    "upgrade",
    "document",
    "support",
    "enable",
    "disable",
    "allow",
    "make",
    "change",
    "rename",
    "move",
    "improve",
    "handle",
    "test",
    "prepare",
    "send",
    "schedule",
    "clean",
    "configure",
    "install",
    "integrate",
    "optimize",
    "optimise",
    "resolve",
    "debug",
    "look",
    "replace",
    "restore",
    "rewrite",
    "translate",
    "publish",
    "release",
    "merge",
    "revert",
    "backup",
    "monitor",
    "onboard",
    "book",
    "order",
    "call",
    "email",
    "contact",
    "organize",
];

const BROKEN: [&str; 9] = [
    "is broken",
    "are broken",
    "doesn't work",
    "does not work",
    "isn't working",
    "is not working",
    "not working",
    "keeps crashing",
    "is down",
];

const MAX_CHARS: usize = 80;

/// Builds the title from the message's first sentence, leaving out the due-date phrase at
/// `due_span` (byte range in `text`).
pub fn title(text: &str, due_span: Option<(usize, usize)>) -> String {
    let mut text = text.to_string();
    if let Some((s, e)) = due_span.filter(|(s, e)| s < e && *e <= text.len()) {
        text.replace_range(s..e, " ");
    }
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    let mut s = first_clause(&strip_mentions_and_greetings(line));
    let (rest, thing) = strip_lead_in(&s);
    s = rest;
    s = strip_trailing_noise(&s);
    let lower = s.to_lowercase();
    if let Some(broken) = BROKEN.iter().find(|b| lower.contains(*b)) {
        let at = lower.find(broken).unwrap_or(0);
        let subject = s[..at].trim().trim_start_matches("the ").trim_start_matches("The ");
        let rest = s[at + broken.len()..].trim();
        if !subject.is_empty() {
            s = format!("Fix {subject} {rest}");
        }
    } else if thing && !starts_with_verb(&s) {
        s = format!("Add {s}");
    }
    s = strip_trailing_noise(&s);
    finish(&s)
}

/// The first sentence, and within it the part before a clause that only gives context
/// (", it's blocking …", " because …").
fn first_clause(line: &str) -> String {
    let mut end = line.len();
    for (i, c) in line.char_indices() {
        if matches!(c, '.' | '!' | '?') {
            let next = line[i + c.len_utf8()..].chars().next();
            if next.is_none_or(char::is_whitespace) && i > 0 {
                end = i;
                break;
            }
        }
    }
    let sentence = &line[..end];
    let lower = sentence.to_lowercase();
    let cut = [
        ", it's",
        ", it is",
        ", this is",
        ", that's",
        ", as ",
        ", since ",
        " because ",
        ", because",
        " - it",
        ", which",
        ", es ",
        ", está",
        ", porque",
        ", ya que",
        " porque ",
        ", weil",
        " weil ",
        ", das ist",
        ", es ist",
        ", c'est",
        ", car ",
        ", parce que",
        " parce que ",
        ", é ",
        ", pois",
    ]
    .iter()
    .filter_map(|m| lower.find(m))
    .min()
    .unwrap_or(sentence.len());
    sentence[..cut].to_string()
}

fn strip_mentions_and_greetings(s: &str) -> String {
    let mut rest = s.trim();
    loop {
        let before = rest;
        if let Some(after) = rest.strip_prefix('@') {
            rest = after.split_once(char::is_whitespace).map(|(_, r)| r).unwrap_or("").trim_start();
        }
        let lower = rest.to_lowercase();
        for g in GREETINGS {
            if lower.starts_with(g) && lower[g.len()..].starts_with(|c: char| !c.is_alphanumeric()) {
                rest = rest[g.len()..].trim_start_matches(|c: char| !c.is_alphanumeric() && c != '@').trim_start();
                break;
            }
        }
        if rest == before {
            return rest.to_string();
        }
    }
}

fn strip_lead_in(s: &str) -> (String, bool) {
    let mut rest = s.trim().to_string();
    let mut thing = false;
    loop {
        let lower = rest.to_lowercase();
        let Some((lead, is_thing)) = LEAD_INS
            .iter()
            .find(|(l, _)| lower.starts_with(l) && lower[l.len()..].starts_with(|c: char| !c.is_alphanumeric()))
        else {
            break;
        };
        // "Quick one: …", "Reminder - …", "FYI, …"
        rest = rest[lead.len()..]
            .trim_start_matches(|c: char| matches!(c, ',' | ':' | '-' | '—' | '–') || c.is_whitespace())
            .to_string();
        thing = *is_thing;
        // "we need someone to …", "we need to …"
        for filler in ["someone to ", "somebody to ", "to "] {
            if rest.to_lowercase().starts_with(filler) {
                rest = rest[filler.len()..].to_string();
                thing = false;
            }
        }
    }
    (rest, thing)
}

fn strip_trailing_noise(s: &str) -> String {
    let mut rest = s.trim().to_string();
    loop {
        let before = rest.clone();
        rest = rest.trim_end_matches(|c: char| !c.is_alphanumeric() && !")]\"'%".contains(c)).to_string();
        let lower = rest.to_lowercase();
        for noise in [
            " please",
            " pls",
            " thanks",
            " thank you",
            " thx",
            " asap",
            " urgently",
            " if possible",
            " too",
            " por favor",
            " gracias",
            " bitte",
            " danke",
            " merci",
            " s'il vous plaît",
            " obrigado",
            " obrigada",
            " urgent",
            " urgente",
            " dringend",
        ] {
            if lower.ends_with(noise) {
                rest.truncate(rest.len() - noise.len());
            }
        }
        if rest == before {
            return rest.trim().to_string();
        }
    }
}

fn starts_with_verb(s: &str) -> bool {
    let first = s.split_whitespace().next().unwrap_or("").to_lowercase();
    VERBS.contains(&first.as_str())
}

/// A title of at most 80 characters, cut at a word boundary.
pub fn shorten(s: &str) -> String {
    finish(s)
}

/// Capitalised, single-spaced, without control or text-direction characters, at most 80
/// characters cut at a word boundary.
fn finish(s: &str) -> String {
    // A title is a line others read: nothing that would make it read as something else.
    let visible: String = s.chars().filter(|c| !crate::domain::is_disguising(*c)).collect();
    let joined = visible.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::new();
    for word in joined.split(' ') {
        let len = out.chars().count() + word.chars().count() + usize::from(!out.is_empty());
        if len > MAX_CHARS {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.is_empty() {
        out = joined.chars().take(MAX_CHARS).collect();
    }
    let out = out.trim_end_matches([',', ';', ':', '-']).to_string();
    let mut chars = out.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "Untitled request".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> String {
        let span = super::super::dates::find(text, chrono::NaiveDate::from_ymd_opt(2026, 11, 22).expect("date"))
            .map(|f| f.span);
        title(text, span)
    }

    #[test]
    fn lead_ins_and_greetings_go() {
        assert_eq!(
            t("Hi team, can someone please update the SSL certificate on staging?"),
            "Update the SSL certificate on staging"
        );
        assert_eq!(
            t("@taskbridge we need to migrate the billing DB to Postgres 16"),
            "Migrate the billing DB to Postgres 16"
        );
        assert_eq!(t("hey @bo could you review the onboarding copy thanks!"), "Review the onboarding copy");
        assert_eq!(t("we need someone to look into the flaky CI job"), "Look into the flaky CI job");
        assert_eq!(t("Good morning! Please add dark mode to settings."), "Add dark mode to settings");
    }

    #[test]
    fn needs_become_actions_and_breakage_becomes_a_fix() {
        assert_eq!(
            t("we need OAuth2 login on the platform before Friday, it's blocking the beta"),
            "Add OAuth2 login on the platform"
        );
        assert_eq!(t("The export button is broken on Safari"), "Fix export button on Safari");
        assert_eq!(t("i need a CSV export of invoices by tomorrow"), "Add a CSV export of invoices");
    }

    #[test]
    fn deadlines_and_chatter_leave_the_title() {
        assert_eq!(t("Renew the domain by Dec 3 please!!"), "Renew the domain");
        assert_eq!(t("update pricing page asap. Marketing is waiting."), "Update pricing page");
    }

    #[test]
    fn more_chatter_leaves_the_title() {
        assert_eq!(t("Quick one: can you rotate the API keys?"), "Rotate the API keys");
        assert_eq!(t("FYI the export button is broken"), "Fix export button");
        assert_eq!(t("I think we should archive the old wiki"), "Archive the old wiki");
        assert_eq!(t("Would be great if we could add SSO to the admin panel"), "Add SSO to the admin panel");
        assert_eq!(t("Reminder: renew the domain by Dec 3"), "Renew the domain");
        assert_eq!(t("Just a reminder - update the on-call rota"), "Update the on-call rota");
    }

    #[test]
    fn other_languages_keep_their_words() {
        assert_eq!(t("Hola, por favor revisar el contrato mañana"), "Revisar el contrato");
        assert_eq!(t("Bitte die Rechnung bis Freitag schicken, danke"), "Die Rechnung schicken");
        assert_eq!(t("Bonjour, merci de corriger la facture avant vendredi"), "Corriger la facture");
        assert_eq!(t("Olá pessoal, precisamos renovar o domínio até sexta"), "Renovar o domínio");
    }

    #[test]
    fn titles_are_bounded() {
        let long = "Write ".to_string() + &"very long words ".repeat(20);
        let title = t(&long);
        assert!(title.chars().count() <= 80, "{title}");
        assert!(!title.ends_with(' '));
        assert_eq!(t("   "), "Untitled request");
    }
}
