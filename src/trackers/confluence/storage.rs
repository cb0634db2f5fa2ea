//! Confluence storage format (XHTML with `ac:`/`ri:` prefixes, HTML entities, CDATA): read
//! the page's own task lists and its Jira issue macros, and rewrite chosen tasks as plain
//! text with a link to their issue. The parser is lenient (a page is never refused) and
//! keeps byte offsets, so a rewrite copies everything it does not touch byte for byte.

use std::collections::HashMap;
use std::ops::Range;

/// Macros that display other pages' content: tasks inside them are not the page's own.
const DISPLAY_MACROS: &[&str] = &[
    "jira",
    "jiraissues",
    "excerpt-include",
    "include",
    "pagetree",
    "children",
    "tasks-report-macro",
    "task-report",
    "content-by-label",
    "contentbylabel",
    "detailssummary",
    "blog-posts",
    "recently-updated",
    "page-index",
];

/// HTML elements that never have content, for pages written without the closing slash.
const VOID: &[&str] = &["br", "hr", "img", "col", "meta", "link", "input", "area", "base", "wbr", "source"];

#[derive(Debug)]
struct Element {
    name: String,
    /// The opening tag.
    open: Range<usize>,
    /// Between the tags (empty for `<x/>`).
    inner: Range<usize>,
    /// From `<` of the opening tag to `>` of the closing one.
    span: Range<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
    /// Ended by its own closing tag (or `/>`), not by an enclosing element's or the page's end.
    closed: bool,
}

/// A parsed page body.
#[derive(Debug)]
pub struct Storage<'a> {
    src: &'a str,
    elements: Vec<Element>,
    /// Top-level elements.
    roots: Vec<usize>,
}

/// A task of the page, as the sync needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct PageTask {
    /// The page-local `ac:task-id`.
    pub id: String,
    pub complete: bool,
    /// The body as one line of text (without nested task lists).
    pub summary: String,
    /// The first mentioned user (`ri:account-id`, or `ri:userkey`/`ri:username` on Server).
    pub assignee: Option<String>,
    /// The first `<time datetime>` of the body.
    pub due_date: Option<String>,
    /// The nearest heading before the task.
    pub heading: Option<String>,
    /// The nearest paragraph before the task (outside task lists).
    pub paragraph: Option<String>,
}

/// How a task is rewritten: its issue's key and address.
#[derive(Debug, Clone)]
pub struct IssueLink {
    pub key: String,
    pub url: String,
}

impl<'a> Storage<'a> {
    pub fn parse(src: &'a str) -> Self {
        let mut elements: Vec<Element> = Vec::new();
        let mut roots = Vec::new();
        let mut stack: Vec<usize> = Vec::new();
        let attach = |elements: &mut Vec<Element>, stack: &[usize], roots: &mut Vec<usize>, el: Element| {
            let id = elements.len();
            match stack.last() {
                Some(&parent) => elements[parent].children.push(id),
                None => roots.push(id),
            }
            elements.push(Element { parent: stack.last().copied(), ..el });
            id
        };
        let bytes = src.as_bytes();
        let mut pos = 0;
        while let Some(offset) = src[pos..].find('<') {
            let start = pos + offset;
            let rest = &src[start..];
            let end = if rest.starts_with("<!--") {
                rest.find("-->").map(|e| start + e + 3)
            } else if rest.starts_with("<![CDATA[") {
                rest.find("]]>").map(|e| start + e + 3)
            } else if rest.starts_with("<!") || rest.starts_with("<?") {
                rest.find('>').map(|e| start + e + 1)
            } else if rest.starts_with("</") {
                match tag_end(src, start) {
                    Some(end) => {
                        let name = src[start + 2..end - 1].trim().to_ascii_lowercase();
                        // Close the innermost open element of that name and any left open
                        // inside it; a stray closing tag closes nothing.
                        if let Some(depth) = stack.iter().rposition(|&e| elements[e].name == name) {
                            for &open in &stack[depth + 1..] {
                                let el = &mut elements[open];
                                el.inner.end = start;
                                el.span.end = start;
                            }
                            let el = &mut elements[stack[depth]];
                            el.inner.end = start;
                            el.span.end = end;
                            el.closed = true;
                            stack.truncate(depth);
                        }
                        Some(end)
                    }
                    None => None,
                }
            } else if bytes.get(start + 1).is_some_and(|b| b.is_ascii_alphabetic()) {
                match tag_end(src, start) {
                    Some(end) => {
                        let tag = &src[start + 1..end - 1];
                        let name_end = tag.find(|c: char| c.is_whitespace() || c == '/').unwrap_or(tag.len());
                        let name = tag[..name_end].to_ascii_lowercase();
                        let closed = tag.ends_with('/') || VOID.contains(&name.as_str());
                        let el = Element {
                            name,
                            open: start..end,
                            inner: end..end,
                            span: start..end,
                            parent: None,
                            children: Vec::new(),
                            closed,
                        };
                        let id = attach(&mut elements, &stack, &mut roots, el);
                        if !closed {
                            // Until its closing tag is seen, it runs to the end of the page.
                            elements[id].inner.end = src.len();
                            elements[id].span.end = src.len();
                            stack.push(id);
                        }
                        Some(end)
                    }
                    None => None,
                }
            } else {
                Some(start + 1) // a `<` in text
            };
            // An unterminated construct is text to the end.
            pos = end.unwrap_or(src.len());
        }
        Storage { src, elements, roots }
    }

    fn attr(&self, el: usize, name: &str) -> Option<String> {
        attribute(&self.src[self.elements[el].open.clone()], name)
    }

    fn is(&self, el: usize, name: &str) -> bool {
        self.elements[el].name == name
    }

    fn ancestors(&self, el: usize) -> impl Iterator<Item = usize> + '_ {
        std::iter::successors(self.elements[el].parent, |&p| self.elements[p].parent)
    }

    fn child(&self, el: usize, name: &str) -> Option<usize> {
        self.elements[el].children.iter().copied().find(|&c| self.is(c, name))
    }

    /// Inside a macro that shows other pages' content.
    fn displayed(&self, el: usize) -> bool {
        self.ancestors(el).any(|a| self.is_display_macro(a))
    }

    /// A macro that shows other pages' content.
    fn is_display_macro(&self, el: usize) -> bool {
        self.is(el, "ac:structured-macro")
            && self.attr(el, "ac:name").is_some_and(|n| DISPLAY_MACROS.contains(&n.to_ascii_lowercase().as_str()))
    }

    /// Elements in document order under `el` (depth first), skipping subtrees `skip` refuses.
    fn descendants(&self, el: usize, skip: &dyn Fn(usize) -> bool) -> Vec<usize> {
        let mut out = Vec::new();
        let mut todo: Vec<usize> = self.elements[el].children.iter().rev().copied().collect();
        while let Some(e) = todo.pop() {
            if skip(e) {
                continue;
            }
            out.push(e);
            todo.extend(self.elements[e].children.iter().rev());
        }
        out
    }

    /// The elements under `el` that `wanted` takes and that are not inside another one.
    fn outermost(&self, el: usize, wanted: &dyn Fn(usize) -> bool) -> Vec<usize> {
        let mut found = Vec::new();
        for &c in &self.elements[el].children {
            if wanted(c) {
                found.push(c);
            } else {
                found.extend(self.outermost(c, wanted));
            }
        }
        found
    }

    fn all(&self) -> impl Iterator<Item = usize> + '_ {
        0..self.elements.len() // elements are stored in document order
    }

    /// The page's own tasks, in document order.
    pub fn tasks(&self) -> Vec<PageTask> {
        self.all().filter(|&e| self.is(e, "ac:task") && !self.displayed(e)).filter_map(|e| self.task(e)).collect()
    }

    fn task(&self, el: usize) -> Option<PageTask> {
        let id = self.text(self.child(el, "ac:task-id")?).trim().to_string();
        let status = self.child(el, "ac:task-status").map(|s| self.text(s)).unwrap_or_default();
        let body = self.child(el, "ac:task-body");
        let own = |e: usize| self.is(e, "ac:task-list");
        let inside: Vec<usize> = body.map(|b| self.descendants(b, &own)).unwrap_or_default();
        let assignee = inside.iter().find(|&&e| self.is(e, "ri:user")).and_then(|&u| {
            self.attr(u, "ri:account-id").or_else(|| self.attr(u, "ri:userkey")).or_else(|| self.attr(u, "ri:username"))
        });
        let due_date = inside.iter().find(|&&e| self.is(e, "time")).and_then(|&t| self.attr(t, "datetime"));
        let start = self.elements[el].span.start;
        let heading = self
            .all()
            .filter(|&e| {
                matches!(self.elements[e].name.as_str(), "h1" | "h2" | "h3" | "h4" | "h5" | "h6")
                    && self.elements[e].span.end <= start
            })
            .last()
            .map(|h| self.text(h))
            .filter(|t| !t.is_empty());
        let paragraph = self
            .all()
            .filter(|&e| {
                self.is(e, "p")
                    && self.elements[e].span.end <= start
                    && !self.ancestors(e).any(|a| self.is(a, "ac:task-list"))
            })
            .last()
            .map(|p| self.text(p))
            .filter(|t| !t.is_empty());
        Some(PageTask {
            id,
            complete: status.trim().eq_ignore_ascii_case("complete"),
            summary: body.map(|b| self.text(b)).unwrap_or_default(),
            assignee,
            due_date,
            heading,
            paragraph,
        })
    }

    /// The key of the Jira issue macro nearest before `task_id` on this page (macros in
    /// tasks name the tasks' own issues and do not count), else the page's first one.
    pub fn work_package(&self, task_id: Option<&str>) -> Option<String> {
        let macros: Vec<(usize, String)> = self
            .all()
            .filter(|&e| {
                self.is(e, "ac:structured-macro")
                    && self.attr(e, "ac:name").is_some_and(|n| n.eq_ignore_ascii_case("jira"))
                    && !self.ancestors(e).any(|a| self.is(a, "ac:task"))
            })
            .filter_map(|m| {
                let key = self.elements[m]
                    .children
                    .iter()
                    .find(|&&p| self.is(p, "ac:parameter") && self.attr(p, "ac:name").as_deref() == Some("key"))?;
                let key = self.text(*key);
                (!key.is_empty()).then(|| (self.elements[m].span.start, key))
            })
            .collect();
        let at = task_id.and_then(|id| {
            self.all()
                .find(|&e| self.is(e, "ac:task") && self.child(e, "ac:task-id").is_some_and(|i| self.text(i) == id))
                .map(|e| self.elements[e].span.start)
        });
        let before = at.and_then(|at| macros.iter().rfind(|(start, _)| *start < at));
        before.or(macros.first()).map(|(_, key)| key.clone())
    }

    /// The keys of the page's single-issue Jira macros, in order.
    pub fn jira_keys(&self) -> Vec<String> {
        self.all()
            .filter(|&e| {
                self.is(e, "ac:structured-macro")
                    && self.attr(e, "ac:name").is_some_and(|n| n.eq_ignore_ascii_case("jira"))
            })
            .filter_map(|m| self.child_param(m, "key"))
            .filter(|k| !k.is_empty())
            .collect()
    }

    /// The text of an element on one line: entities decoded, nested task lists and macro
    /// parameters left out (a Jira macro reads as its key), whitespace collapsed.
    fn text(&self, el: usize) -> String {
        let mut out = String::new();
        self.collect_text(el, &mut out);
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn collect_text(&self, el: usize, out: &mut String) {
        let element = &self.elements[el];
        let mut pos = element.inner.start;
        for &child in &element.children {
            out.push_str(&decode(&self.src[pos..self.elements[child].span.start]));
            let c = &self.elements[child];
            if c.name == "ac:structured-macro" {
                if self.attr(child, "ac:name").is_some_and(|n| n.eq_ignore_ascii_case("jira"))
                    && let Some(key) = self.child_param(child, "key")
                {
                    out.push(' ');
                    out.push_str(&key);
                    out.push(' ');
                }
            } else if c.name != "ac:task-list" && c.name != "ac:parameter" {
                if matches!(c.name.as_str(), "p" | "div" | "br" | "li" | "td" | "th" | "tr") {
                    out.push(' ');
                }
                self.collect_text(child, out);
            }
            pos = c.span.end.max(pos);
        }
        if pos < element.inner.end {
            out.push_str(&decode(&self.src[pos..element.inner.end]));
        }
    }

    fn child_param(&self, el: usize, name: &str) -> Option<String> {
        self.elements[el]
            .children
            .iter()
            .find(|&&p| self.is(p, "ac:parameter") && self.attr(p, "ac:name").as_deref() == Some(name))
            .map(|&p| self.text(p))
    }

    /// The page with each task named in `links` (by task id) rewritten as a paragraph of
    /// its text and a link to its issue. A task list is split around a rewritten task and
    /// a list left empty disappears; the rewritten task's nested lists follow its
    /// paragraph. Everything else is copied byte for byte.
    pub fn rewrite(&self, links: &HashMap<String, IssueLink>) -> String {
        let chosen: Vec<bool> = (0..self.elements.len())
            .map(|e| {
                self.is(e, "ac:task")
                    && !self.displayed(e)
                    && self.child(e, "ac:task-id").is_some_and(|i| links.contains_key(&self.text(i)))
            })
            .collect();
        let mut dirty = chosen.clone();
        for e in (0..self.elements.len()).rev() {
            if dirty[e]
                && let Some(p) = self.elements[e].parent
            {
                dirty[p] = true;
            }
        }
        let writer = Writer { doc: self, links, chosen, dirty };
        let mut out = String::with_capacity(self.src.len());
        writer.range(0..self.src.len(), &self.roots, &mut out);
        out
    }
}

struct Writer<'d, 'a> {
    doc: &'d Storage<'a>,
    links: &'d HashMap<String, IssueLink>,
    chosen: Vec<bool>,
    dirty: Vec<bool>,
}

impl Writer<'_, '_> {
    fn el(&self, e: usize) -> &Element {
        &self.doc.elements[e]
    }

    /// Copies `range`, writing the dirty ones of `children` (which lie inside it) anew.
    fn range(&self, range: Range<usize>, children: &[usize], out: &mut String) {
        let mut pos = range.start;
        for &c in children {
            if self.dirty[c] {
                out.push_str(&self.doc.src[pos..self.el(c).span.start]);
                self.element(c, out);
                pos = self.el(c).span.end;
            }
        }
        out.push_str(&self.doc.src[pos..range.end]);
    }

    fn element(&self, e: usize, out: &mut String) {
        if self.chosen[e] {
            self.replacement(e, out);
        } else if !self.dirty[e] {
            out.push_str(&self.doc.src[self.el(e).span.clone()]);
        } else if self.el(e).name == "ac:task-list" {
            self.list(e, out);
        } else {
            let el = self.el(e);
            out.push_str(&self.doc.src[el.span.start..el.inner.start]);
            self.range(el.inner.clone(), &el.children, out);
            out.push_str(&self.doc.src[el.inner.end..el.span.end]);
        }
    }

    fn list(&self, e: usize, out: &mut String) {
        let src = self.doc.src;
        let el = self.el(e);
        let open = &src[el.span.start..el.inner.start];
        let close = &src[el.inner.end..el.span.end];
        let mut run = String::new();
        let mut run_has_tasks = false;
        let flush = |run: &mut String, has_tasks: &mut bool, out: &mut String| {
            if *has_tasks {
                out.push_str(open);
                out.push_str(run);
                out.push_str(close);
            } else {
                out.push_str(run); // only text that lay between tasks
            }
            run.clear();
            *has_tasks = false;
        };
        let mut pos = el.inner.start;
        for &c in &el.children {
            run.push_str(&src[pos..self.el(c).span.start]);
            pos = self.el(c).span.end;
            if self.chosen[c] {
                flush(&mut run, &mut run_has_tasks, out);
                self.replacement(c, out);
            } else {
                self.element(c, &mut run);
                run_has_tasks = true; // a task, or anything else that was in the list
            }
        }
        run.push_str(&src[pos..el.inner.end]);
        flush(&mut run, &mut run_has_tasks, out);
    }

    /// A chosen task: its text and link, then its nested lists.
    fn replacement(&self, task: usize, out: &mut String) {
        let doc = self.doc;
        let id = doc.child(task, "ac:task-id").map(|i| doc.text(i)).unwrap_or_default();
        let Some(link) = self.links.get(&id) else { return };
        let body = doc.child(task, "ac:task-body");
        let summary = body.map(|b| doc.text(b)).unwrap_or_default();
        out.push_str("<p>");
        if !summary.is_empty() {
            out.push_str(&escape(&summary));
            out.push(' ');
        }
        out.push_str(&format!(
            "<a href=\"{url}\" data-card-appearance=\"inline\">{url}</a></p>",
            url = escape(&link.url)
        ));
        if let Some(body) = body {
            // A macro showing other pages' tasks moves out whole: its lists stay inside it,
            // where they are not the page's own (moved out alone they would become so).
            let kept = |e: usize| doc.is(e, "ac:task-list") || doc.is_display_macro(e);
            for nested in doc.outermost(body, &kept) {
                self.element(nested, out);
                // Moved out of a task left unclosed, it must close itself now, or it would
                // swallow what follows.
                out.push_str(&self.closers(nested));
            }
        }
    }
}

impl Writer<'_, '_> {
    /// Closing tags for `el` and the innermost elements at its end that the page left
    /// unclosed, innermost first.
    fn closers(&self, el: usize) -> String {
        let mut chain = vec![el];
        let mut current = el;
        while let Some(&last) = self.el(current).children.last() {
            if self.el(last).span.end != self.el(current).span.end || self.el(last).closed {
                break;
            }
            chain.push(last);
            current = last;
        }
        chain.iter().rev().filter(|&&e| !self.el(e).closed).map(|&e| format!("</{}>", self.el(e).name)).collect()
    }
}

/// The end (after `>`) of the tag starting at `start`, skipping `>` inside quoted values.
fn tag_end(src: &str, start: usize) -> Option<usize> {
    let mut quote: Option<u8> = None;
    for (i, &b) in src.as_bytes()[start + 1..].iter().enumerate() {
        match (quote, b) {
            (Some(q), b) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(b),
            (None, b'>') => return Some(start + 1 + i + 1),
            (None, b'<') => return None, // not a tag after all
            _ => {}
        }
    }
    None
}

/// An attribute's decoded value from an opening tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let mut rest = tag.trim_start_matches('<');
    rest = rest.trim_start_matches(|c: char| !c.is_whitespace() && c != '/' && c != '>');
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() || rest.starts_with('>') {
            return None;
        }
        let key_end = rest.find(|c: char| c == '=' || c.is_whitespace() || c == '>' || c == '/').unwrap_or(rest.len());
        let key = &rest[..key_end];
        rest = rest[key_end..].trim_start();
        let value = if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (value, remaining) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => match after[1..].find(q) {
                    Some(end) => (&after[1..1 + end], &after[2 + end..]),
                    None => (&after[1..], ""),
                },
                _ => {
                    let end = after.find(|c: char| c.is_whitespace() || c == '>').unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            rest = remaining;
            value
        } else {
            ""
        };
        if key.eq_ignore_ascii_case(name) {
            return Some(decode(value));
        }
    }
}

/// Text with entities decoded (`&amp;`, `&nbsp;`, `&#233;`, `&#xE9;`, the common named
/// ones); CDATA sections become their content; an unknown entity stays as written.
pub fn decode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(['&', '<']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            let end = cdata.find("]]>").unwrap_or(cdata.len());
            out.push_str(&cdata[..end]);
            rest = cdata.get(end + 3..).unwrap_or("");
            continue;
        }
        if rest.starts_with('<') {
            // A comment or a stray `<`: comments are not text.
            if let Some(comment) = rest.strip_prefix("<!--") {
                rest = comment.find("-->").map(|e| &comment[e + 3..]).unwrap_or("");
            } else {
                out.push('<');
                rest = &rest[1..];
            }
            continue;
        }
        let end = rest[1..].find(|c: char| c == ';' || c == '&' || c.is_whitespace()).map(|e| e + 1);
        let decoded = end.filter(|&e| rest.as_bytes()[e] == b';').and_then(|e| entity(&rest[1..e]).map(|c| (c, e)));
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "middot" => '·',
        "bull" => '•',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "euro" => '€',
        "deg" => '°',
        "times" => '×',
        "auml" => 'ä',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "Auml" => 'Ä',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        "szlig" => 'ß',
        "eacute" => 'é',
        "egrave" => 'è',
        "agrave" => 'à',
        "ccedil" => 'ç',
        _ => return None,
    })
}

/// Text made safe for the storage format.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
